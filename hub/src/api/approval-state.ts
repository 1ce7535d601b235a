import { ConflictError } from '../errors.ts';
import type { AppRecord, ApprovalRecord, SyncRecord } from '../store/index.ts';

/**
 * Which plan an approval may name, and what became of an approval. The agent applies an
 * approval only when it names the exact revision and plan digest it is waiting on, so the
 * hub accepts only those, and shows an approval the agent could no longer use as stale.
 */

/** The plan a manual app waits on: its revision (full SHA) and digest. */
export interface PendingPlan {
  revision: string;
  planDigest: string;
}

/** The plan `app` waits on for an approval, or undefined when it waits on none. */
export function pendingPlanOf(app: AppRecord | undefined): PendingPlan | undefined {
  if (!app || app.gone || app.syncMode !== 'manual') return undefined;
  if (app.syncStatus !== 'out-of-sync' || !app.planDigest || !app.revision) return undefined;
  return { revision: app.revision, planDigest: app.planDigest };
}

/**
 * Checks that `revision` (full or a unique prefix of at least 7 hex digits) and
 * `planDigest` name the pending plan; returns the full revision. ConflictError (409)
 * otherwise, saying what is pending.
 */
export function resolveApproval(
  what: string,
  pending: PendingPlan | undefined,
  given: PendingPlan,
): string {
  if (!pending) throw new ConflictError(`${what}: the app has no plan waiting for an approval`);
  const short = pending.revision.slice(0, 12);
  if (given.revision !== pending.revision && !pending.revision.startsWith(given.revision))
    throw new ConflictError(
      `${what}: revision ${given.revision.slice(0, 12)} is not pending; the app waits at ${short} (plan ${pending.planDigest})`,
    );
  if (given.planDigest !== pending.planDigest)
    throw new ConflictError(
      `${what}: plan ${given.planDigest.slice(0, 80)} is not pending; the plan at ${short} is ${pending.planDigest}`,
    );
  return pending.revision;
}

/** What became of an approval; see docs/api.md. */
export type ApprovalState = 'pending' | 'delivered' | 'applied' | 'stale';

/** An approval's state and, for a stale one, why. */
export function approvalState(
  a: ApprovalRecord,
  app: AppRecord | undefined,
  history: SyncRecord[],
): { state: ApprovalState; stateReason: string } {
  if (history.some((s) => s.approvalId === a.id && s.result === 'succeeded'))
    return { state: 'applied', stateReason: '' };
  // The agent names the approval it refused; an older agent does not, and then a refusal at the
  // approval's revision finished after it was given counts (which a clock running ahead on the
  // agent could get wrong).
  const refused = history.find(
    (s) =>
      s.app === a.app &&
      s.result === 'approval-stale' &&
      (s.approvalId
        ? s.approvalId === a.id
        : s.revision === a.revision && s.finishedMs >= a.approvedMs),
  );
  if (refused)
    return {
      state: 'stale',
      stateReason: refused.error || 'the agent refused it: its plan differs',
    };
  const pending = pendingPlanOf(app);
  if (!pending || pending.revision !== a.revision || pending.planDigest !== a.planDigest) {
    const now = pending
      ? `the app now waits at ${pending.revision.slice(0, 12)} (plan ${pending.planDigest})`
      : 'the app waits on no plan';
    return { state: 'stale', stateReason: `not applied, and ${now}` };
  }
  return a.acked || a.deliveredMs
    ? { state: 'delivered', stateReason: '' }
    : { state: 'pending', stateReason: '' };
}
