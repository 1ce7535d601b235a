/** The parts of a sync's report and trace: planned changes, their errors, the Git fetch span. */
import type { Tracer } from '@opentelemetry/api';
import { refKey, refString } from '../model.ts';
import type { PlannedObject } from '../plan/index.ts';
import type { ObjectResult } from '../apply/index.ts';
import type { ObjectChange, SyncReport } from '../report/index.ts';
import type { SyncDeps } from './sync-deps.ts';

/** A planned object as the report shows it. */
export function toChange(o: PlannedObject): ObjectChange {
  return { ref: o.ref, action: o.action, diff: o.diff, wave: o.wave };
}

/** Marks on `report` the objects whose apply or prune failed. */
export function markErrors(report: SyncReport, results: ObjectResult[]): void {
  for (const r of results) {
    if (!r.error) continue;
    const change = report.objects.find((o) => refString(o.ref) === refString(r.ref));
    if (change) change.error = r.error;
  }
}

/** Adds the checkout's Git fetch as a span of this sync's trace, at the time it really ran. */
export function recordFetch(
  tracer: Tracer,
  fetch: NonNullable<SyncDeps['fetch']>,
  steps: SyncReport['steps'],
): void {
  const span = tracer.startSpan('fetch', {
    startTime: fetch.startedAt,
    attributes: { 'driftless.git.from_cache': fetch.fromCache },
  });
  span.end(fetch.finishedAt);
  steps.push({ name: 'fetch', durationMs: fetch.finishedAt - fetch.startedAt });
}

/** The fresh changes, keeping errors already marked on the old ones. */
export function mergeErrors(fresh: ObjectChange[], marked: ObjectChange[]): ObjectChange[] {
  const errors = new Map(
    marked.flatMap((o) => (o.error ? [[refKey(o.ref), o.error] as const] : [])),
  );
  return fresh.map((o) => {
    const error = errors.get(refKey(o.ref));
    return error ? { ...o, error } : o;
  });
}
