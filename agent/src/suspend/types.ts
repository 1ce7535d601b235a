/** What a pause of applying and healing is, for the agent (see {@link SuspensionBook}). */
/** Where a pause comes from: the hub (`driftless suspend`) or Git (`suspend: true`). */
export type SuspensionSource = 'hub' | 'git';

/** One pause of applying and healing, for one app or (app '') every app of the cluster. */
export interface Suspension {
  /** Unique per pause: chosen by the hub, or `git:<app>` for a pause from Git. */
  id: string;
  /** The app paused; '' for the whole cluster. */
  app: string;
  /** When it ends by itself (ms since the epoch, on the agent's clock); 0: never (Git only). */
  untilMs: number;
  reason: string;
  /** Who paused it: the hub user, or the file for Git. */
  actor: string;
  /** When it was paused (ms since the epoch). */
  sinceMs: number;
  source: SuspensionSource;
}

/** Whether `s` is in force at `nowMs` (a pause ends at its `untilMs`, exclusive). */
export function inForce(s: Suspension, nowMs: number): boolean {
  return s.untilMs === 0 || nowMs < s.untilMs;
}

/**
 * One sentence for people on a pause, e.g. `suspended by alice until 2026-11-30T10:00:00.000Z:
 * incident 42` or `suspended in Git (clusters/dev/driftless.yaml)`. It names no time relative to
 * now, so a status carrying it does not change from one report to the next.
 */
export function describeSuspension(s: Suspension): string {
  const scope = s.app ? '' : ' (whole cluster)';
  if (s.source === 'git') return `suspended in Git${scope} (${s.actor})`;
  return `suspended${scope} by ${s.actor} until ${new Date(s.untilMs).toISOString()}: ${s.reason}`;
}

/**
 * Of several pauses of one app, the one that people see: a pause from Git (it has no end) or
 * else the one ending last.
 */
export function strongest(list: readonly Suspension[]): Suspension | undefined {
  let best: Suspension | undefined;
  for (const s of list) {
    if (!best) best = s;
    else if (best.untilMs !== 0 && (s.untilMs === 0 || s.untilMs > best.untilMs)) best = s;
  }
  return best;
}
