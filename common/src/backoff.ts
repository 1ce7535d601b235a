import { systemClock, type Clock } from './time.ts';
import { isRetryable } from './errors.ts';

/** How retries are spaced. */
export interface BackoffOptions {
  /** Delay before the first retry. Default 500 ms. */
  initialMs?: number;
  /** Upper bound of any delay. Default 60 s. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction of the delay randomised in both directions, 0..1. Default 0.2. */
  jitter?: number;
  /** Random source in [0, 1), injectable for tests. Default Math.random. */
  random?: () => number;
}

/** The single capped, jittered exponential backoff used everywhere. */
export class Backoff {
  #attempt = 0;
  readonly #o: Required<BackoffOptions>;

  constructor(options: BackoffOptions = {}) {
    this.#o = {
      initialMs: options.initialMs ?? 500,
      maxMs: options.maxMs ?? 60_000,
      factor: options.factor ?? 2,
      jitter: options.jitter ?? 0.2,
      random: options.random ?? Math.random,
    };
  }

  /** Number of delays handed out since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next retry; each call grows it up to the cap. */
  next(): number {
    const { initialMs, maxMs, factor, jitter, random } = this.#o;
    const base = Math.min(maxMs, initialMs * factor ** this.#attempt);
    this.#attempt++;
    const spread = base * jitter * (2 * random() - 1);
    return Math.max(0, Math.min(maxMs, Math.round(base + spread)));
  }

  /** Starts over after a success. */
  reset(): void {
    this.#attempt = 0;
  }
}

/**
 * `ms` spread by ±`jitter` (a fraction, 0..1), so many agents (or apps) that
 * started together do not poll in lockstep.
 */
export function jittered(ms: number, jitter = 0.1, random: () => number = Math.random): number {
  return Math.max(0, Math.round(ms * (1 + jitter * (2 * random() - 1))));
}

/** Options of {@link retry}. */
export interface RetryOptions extends BackoffOptions {
  /** Give up after this many attempts in all. Default Infinity. */
  maxAttempts?: number;
  /** Stops retrying when aborted. */
  signal?: AbortSignal;
  /** Clock used to wait between attempts. Default the system clock. */
  clock?: Clock;
  /** Decides whether an error is worth another attempt. Default {@link isRetryable}. */
  retryable?: (err: unknown) => boolean;
  /** Called before each wait, e.g. to log. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it succeeds, a terminal error occurs or attempts run out. */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const backoff = new Backoff(options);
  const clock = options.clock ?? systemClock;
  const retryable = options.retryable ?? isRetryable;
  const maxAttempts = options.maxAttempts ?? Infinity;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= maxAttempts || !retryable(err) || options.signal?.aborted) throw err;
      const delay = backoff.next();
      options.onRetry?.(err, attempt, delay);
      await clock.sleep(delay, options.signal);
    }
  }
}
