/** A source of time and sleeping, passed in so loops can be tested without real waits. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The wall clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** The longest delay a Node timer takes (about 24.8 days); longer timers are re-armed by callers. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once, `ms` (capped at {@link MAX_TIMER_MS}) from now on `clock`, unless the
 * returned cancel function was called first. Timers made this way run on an injected clock, so
 * heartbeats, liveness checks and renewals are tested without waiting.
 */
export function clockTimeout(clock: Clock, ms: number, fn: () => void): () => void {
  const cancelled = new AbortController();
  clock.sleep(Math.min(MAX_TIMER_MS, Math.max(0, ms)), cancelled.signal).then(
    () => {
      if (!cancelled.signal.aborted) fn();
    },
    () => undefined,
  );
  return () => cancelled.abort();
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `500ms`, `30s`, `1m30s`, `1h` or a bare number of
 * milliseconds into milliseconds. Throws a RangeError naming the bad input.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let end = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1);
    end = (m.index ?? 0) + m[0].length;
  }
  if (s.length === 0 || end !== s.length) {
    throw new RangeError(`invalid duration "${text}": use e.g. 500ms, 30s, 5m, 1h`);
  }
  return Math.round(total);
}

/** Formats milliseconds for people: `850ms`, `12.3s`, `4m5s`, `90m`, `24h`, `7d`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')}s`;
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1000)}s`;
}
