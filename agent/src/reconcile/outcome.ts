import type { Backoff } from '@driftless/common';
import { jittered, type ErrorClass } from '@driftless/common';
import type { SyncOutcome } from '../report/index.ts';

/**
 * What happens next to one app after a sync, decided from how the sync ended
 * and the error class the one classifier in common gave its failure:
 * - `done`: it succeeded (or planned, or waits for an approval): look again
 *   at the next poll, `afterMs` from now;
 * - `retry`: a transient failure: again after the app's own capped, jittered backoff;
 * - `requeue`: a condition is not met yet (health, a dependency): look again after `afterMs`;
 * - `wait-for-change`: a terminal failure: nothing until a new commit, a new
 *   app spec or a person's sync-now;
 * - `interrupted`: the agent stopped mid-sync; the next start resumes it.
 */
export type AppOutcome =
  | { kind: 'done'; afterMs: number }
  | { kind: 'retry'; afterMs: number; attempt: number }
  | { kind: 'requeue'; afterMs: number }
  | { kind: 'wait-for-change' }
  | { kind: 'interrupted' };

/** What {@link decideOutcome} reads of a finished sync. */
export interface FinishedSync {
  outcome: SyncOutcome;
  /** The class of the failure, when `outcome` is `failed`. */
  errorClass?: ErrorClass;
  /** True when the sync stopped because the agent is stopping. */
  interrupted?: boolean;
}

/** Timing {@link decideOutcome} needs, all in ms. */
export interface OutcomeTiming {
  /** The app's own backoff: grows with each transient failure, reset on success. */
  backoff: Backoff;
  /** After a sync that did not fail, the app is planned again this long later even when nothing moved. */
  resyncIntervalMs: number;
  /** Fraction the resync and requeue delays are spread by, so apps and agents do not move in lockstep. */
  pollJitter: number;
  requeueMs: number;
  random: () => number;
}

/** Decides an app's next step from its sync; see {@link AppOutcome}. */
export function decideOutcome(sync: FinishedSync, t: OutcomeTiming): AppOutcome {
  if (sync.interrupted) return { kind: 'interrupted' };
  if (sync.outcome !== 'failed') {
    t.backoff.reset();
    return { kind: 'done', afterMs: jittered(t.resyncIntervalMs, t.pollJitter, t.random) };
  }
  switch (sync.errorClass ?? 'transient') {
    case 'terminal':
      t.backoff.reset();
      return { kind: 'wait-for-change' };
    case 'waiting':
      return { kind: 'requeue', afterMs: jittered(t.requeueMs, t.pollJitter, t.random) };
    case 'transient': {
      const afterMs = t.backoff.next();
      return { kind: 'retry', afterMs, attempt: t.backoff.attempt };
    }
  }
}

/** The words a person reads for an outcome, e.g. `retrying in 4s (attempt 2)`. */
export function describeOutcome(o: AppOutcome): string {
  switch (o.kind) {
    case 'retry':
      return `retrying in ${seconds(o.afterMs)} (attempt ${o.attempt})`;
    case 'requeue':
      return `checking again in ${seconds(o.afterMs)}`;
    case 'wait-for-change':
      return 'not retried until a new commit, a config change or a sync-now';
    case 'done':
    case 'interrupted':
      return '';
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms / 100) / 10}s` : `${Math.round(ms / 1000)}s`;
}
