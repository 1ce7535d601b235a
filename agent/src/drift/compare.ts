import { Marks, type KubeObject } from '../model.ts';
import { comparable, diffValues, valueAt } from '../plan/index.ts';
import { withSyncMarks } from '../apply/index.ts';
import type { FieldDrift } from '../report/index.ts';
import { changedByOf } from './managed-fields.ts';
import type { DriftClient } from './options.ts';
import type { SyncMarks, Tracked } from './registry.ts';

/** What one comparison of an object with Git found. */
export type Verdict =
  | { kind: 'in-line'; resourceVersion?: string }
  | { kind: 'deleted'; last?: KubeObject }
  | { kind: 'modified'; live: KubeObject; fields: FieldDrift[]; changedBy: string };

/**
 * Compares the live object with what our apply would make of it (a
 * server-side apply dry-run of the desired object). When the dry-run
 * answered for another resourceVersion than the one compared (the object
 * changed meanwhile), reads it again, so live and desired are always from the
 * same moment. Updates `t.lastSeen` and `t.needsGet`; throws the client's
 * errors.
 */
export async function compareWithGit(
  client: DriftClient,
  t: Tracked,
  sync: SyncMarks,
): Promise<Verdict> {
  const signal = t.abort.signal;
  let live = t.needsGet || !t.lastSeen ? await client.get(t.ref, signal) : t.lastSeen;
  for (let attempt = 1; ; attempt++) {
    if (!live) return { kind: 'deleted', ...(t.lastSeen ? { last: t.lastSeen } : {}) };
    t.needsGet = false;
    t.lastSeen = live;
    const dry = await client.apply(withSyncMarks(t.desired, sync.revision, sync.traceId), {
      fieldManager: Marks.fieldManager,
      dryRun: true,
      force: true,
      signal,
    });
    const liveRv = live.metadata['resourceVersion'] as string | undefined;
    if (dry.metadata['resourceVersion'] === liveRv || attempt >= 3) {
      const liveView = comparable(live);
      const desiredView = comparable(dry);
      const diff = diffValues(liveView, desiredView);
      if (diff.length === 0)
        return { kind: 'in-line', ...(liveRv === undefined ? {} : { resourceVersion: liveRv }) };
      const fields = diff.map((d) => ({
        path: d.path,
        desired: valueAt(desiredView, d.path),
        live: valueAt(liveView, d.path),
      }));
      const changedBy = changedByOf(
        live,
        fields.map((f) => f.path),
      );
      return { kind: 'modified', live, fields, changedBy };
    }
    live = await client.get(t.ref, signal);
  }
}
