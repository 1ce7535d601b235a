import { randomUUID } from 'node:crypto';
import { systemClock, type BackoffOptions, type Clock, type Logger } from '@driftless/common';
import type { KubeClient } from '../kube/index.ts';
import type { Reporter } from '../report/index.ts';
import type { Suspension } from '../suspend/index.ts';
import type { FightOptions } from './fight.ts';
import type { RhythmOptions } from './rhythm.ts';

/** The Kubernetes calls the watcher makes; {@link KubeClient} has them, fakes implement them in tests. */
export type DriftClient = Pick<KubeClient, 'list' | 'watch' | 'get' | 'apply'>;

/** Options of {@link DriftWatcher}. */
export interface DriftWatcherOptions {
  /** Lists and watches kinds, reads objects, and applies (dry-run to compare, for real to heal). */
  client: DriftClient;
  /** Where drift reports go. Its calls must not throw (see {@link Reporter}). */
  reporter: Reporter;
  logger: Logger;
  /** Time and sleeping; tests pass a fake. Default the system clock. */
  clock?: Clock;
  /** How long events of one object are gathered into one check. Default 50 ms. */
  debounceMs?: number;
  /** When healing one object counts as a fight with another controller. See {@link FightOptions}. */
  fight?: FightOptions;
  /**
   * When another manager's re-writes of the same fields count as a fight on a
   * steady rhythm (an HPA every 15 s), after which those fields are no longer
   * healed. See {@link RhythmOptions}.
   */
  rhythm?: RhythmOptions;
  /** Spacing of watch restarts and of retries of failed checks and heals. Default 500 ms doubling up to 30 s. */
  backoff?: BackoffOptions;
  /** Checks and heals in flight at once, across all objects. Default 8. */
  concurrency?: number;
  /** Server-side end of each watch request; the loop resumes after it. Default 300. */
  watchTimeoutSeconds?: number;
  /** Makes drift ids. Default random UUIDs. */
  newId?: () => string;
  /**
   * The pause in force for an app, if any: its drift is still reported, not healed, and says
   * why. Default: never paused.
   */
  suspended?: (app: string) => Suspension | undefined;
}

/** Defaults of {@link DriftWatcherOptions}. */
export const DRIFT_DEFAULTS = {
  debounceMs: 50,
  backoff: { initialMs: 500, maxMs: 30_000 },
  concurrency: 8,
  watchTimeoutSeconds: 300,
} as const;

/** {@link DriftWatcherOptions} with every default filled in. */
export interface ResolvedDriftOptions {
  client: DriftClient;
  reporter: Reporter;
  logger: Logger;
  clock: Clock;
  debounceMs: number;
  fight: FightOptions;
  rhythm: RhythmOptions;
  backoff: BackoffOptions;
  concurrency: number;
  watchTimeoutSeconds: number;
  newId: () => string;
  suspended: (app: string) => Suspension | undefined;
}

/** Fills in the defaults of {@link DriftWatcherOptions}, once. */
export function resolveDriftOptions(options: DriftWatcherOptions): ResolvedDriftOptions {
  return {
    client: options.client,
    reporter: options.reporter,
    logger: options.logger,
    clock: options.clock ?? systemClock,
    debounceMs: options.debounceMs ?? DRIFT_DEFAULTS.debounceMs,
    fight: options.fight ?? {},
    rhythm: options.rhythm ?? {},
    backoff: { ...DRIFT_DEFAULTS.backoff, ...options.backoff },
    concurrency: options.concurrency ?? DRIFT_DEFAULTS.concurrency,
    watchTimeoutSeconds: options.watchTimeoutSeconds ?? DRIFT_DEFAULTS.watchTimeoutSeconds,
    newId: options.newId ?? randomUUID,
    suspended: options.suspended ?? (() => undefined),
  };
}
