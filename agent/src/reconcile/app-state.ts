/** What the agent keeps about one app between syncs, and the status it shows after a sync. */
import { errorMessage, type Backoff } from '@driftless/common';
import type { AppSpec } from '../model.ts';
import { CommitSignatureError } from '../source/index.ts';
import type { AppStatusReport, HealthState, SyncReport } from '../report/index.ts';
import { describeOutcome, type AppOutcome } from './outcome.ts';
import type { Checkout } from './agent-options.ts';
import type { CarryBasis } from './carry.ts';

/** A status change: the three fields every status names, and any others. */
export type StatusPatch = Partial<AppStatusReport> &
  Pick<AppStatusReport, 'syncStatus' | 'health' | 'revision'>;

/** What the agent knows about one app between syncs. */
export interface AppState {
  spec: AppSpec;
  status?: AppStatusReport;
  /** Key of the last reported sync, to report each distinct outcome once. */
  lastReportKey?: string;
  /** The app's own backoff for transient failures. */
  backoff: Backoff;
  /** How its last sync ended and what comes next. */
  outcome?: AppOutcome;
  /** When it is due again (clock ms); undefined while it waits for a change. */
  dueAt?: number;
  /** Revision and spec of its last sync: a change of either makes it due at once. */
  attemptKey?: string;
  /** Its render-inputs key at its last sync (see RenderInputs.key). */
  inputsKey?: string;
  /** Health after its last successful sync, for apps that depend on it. */
  health: HealthState;
  /** Revision of its last successful sync, or the revision it was carried to since. */
  syncedRevision?: string;
  /** What its last successful sync leaves for a later commit to carry it (see carry.ts). */
  carry?: CarryBasis;
}

/** An app's revision and spec: a change of either is worth a new sync even after a terminal failure. */
export function attemptKey(app: AppSpec, revision: string): string {
  return `${revision}|${JSON.stringify(app)}`;
}

/** Why the last good checkout is in force: Git unreachable, or a head refused (unsigned). */
export function sourceProblem(checkout: Checkout): string {
  const message = errorMessage(checkout.error);
  return checkout.error instanceof CommitSignatureError ? message : `Git unreachable: ${message}`;
}

/** The status of an app whose sync ended with `r` and `outcome` (not interrupted). */
export function statusAfterSync(
  r: SyncReport,
  outcome: AppOutcome,
  before: AppStatusReport | undefined,
  checkout: Checkout,
): StatusPatch {
  const pending =
    r.outcome === 'planned' ||
    r.outcome === 'waiting-approval' ||
    r.outcome === 'approval-stale' ||
    r.outcome === 'suspended';
  const changes = r.objects.filter((o) => o.action !== 'unchanged').length;
  const next = describeOutcome(outcome);
  const notes = [
    r.outcome === 'waiting-approval' &&
      `waiting for approval of plan ${r.planDigest.slice(0, 12)} (${changes} change(s)) at ${r.revision.slice(0, 7)}`,
    r.outcome === 'planned' && `dry-run: ${changes} change(s) planned at ${r.revision.slice(0, 7)}`,
    r.outcome === 'suspended' &&
      `paused: ${changes} change(s) at ${r.revision.slice(0, 7)} not applied until the pause ends`,
    r.error && (next ? `${r.error}; ${next}` : r.error),
    ...(r.notes ?? []),
    checkout.fromCache && sourceProblem(checkout),
  ].filter(Boolean);
  return {
    revision: r.revision,
    syncStatus: r.outcome === 'succeeded' ? 'Synced' : pending ? 'OutOfSync' : 'Failed',
    health: r.outcome === 'succeeded' ? r.health : (before?.health ?? 'Unknown'),
    planDigest: r.planDigest,
    pendingPlan: pending ? r.objects.filter((o) => o.action !== 'unchanged') : [],
    message: notes.join('; '),
    lastSyncAt: r.outcome === 'succeeded' ? r.finishedAt : undefined,
  };
}
