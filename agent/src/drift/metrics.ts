/** Counters for metrics; they only grow, except `watchedKinds` and `drifted`. */
export interface DriftMetrics {
  /** Drift episodes found (an object out of line with Git, until it is back in line). */
  driftsDetected: number;
  /** Episodes closed by our heal. */
  driftsHealed: number;
  /** Episodes closed without a heal: reverted by someone, or fixed by a sync. */
  driftsResolved: number;
  /** Times healing of an object was paused because another manager kept reverting it. */
  fights: number;
  /** Heals that failed. */
  healFailures: number;
  /** Comparisons of an object with Git (one dry-run each). */
  checks: number;
  /** Comparisons that failed (and were retried when worth it). */
  checkFailures: number;
  /** Re-lists and restarts of watch loops. */
  watchRestarts: number;
  /** Kinds watched now. */
  watchedKinds: number;
  /** Objects drifted and not healed now, across apps. */
  drifted: number;
}

/** The growing counters of {@link DriftMetrics}, shared by the watcher's parts. */
export type DriftCounters = Omit<DriftMetrics, 'watchedKinds' | 'drifted'>;

/** Counters all at zero. */
export function newCounters(): DriftCounters {
  return {
    driftsDetected: 0,
    driftsHealed: 0,
    driftsResolved: 0,
    fights: 0,
    healFailures: 0,
    checks: 0,
    checkFailures: 0,
    watchRestarts: 0,
  };
}
