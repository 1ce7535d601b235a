import { systemClock, type Clock } from '@driftless/common';
import { RateLimitedError } from '../errors.ts';

/** Options of {@link FailureLimiter}. */
export interface FailureLimiterOptions {
  /** Failures allowed per peer within the window before it is refused. Default 5. */
  maxFailures?: number;
  /** Length of the window, ms. Default 60 s. */
  windowMs?: number;
  /** Peers tracked at most; the oldest are forgotten beyond it. Default 10,000. */
  maxPeers?: number;
  clock?: Clock;
}

/**
 * Counts failed credential checks per peer (an IP address) and refuses a peer
 * that failed too often recently, so tokens cannot be guessed at line rate.
 * In memory: a restarted hub forgives, which is acceptable for 256-bit secrets.
 */
export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxPeers: number;
  readonly #clock: Clock;
  readonly #failures = new Map<string, number[]>();

  constructor(options: FailureLimiterOptions = {}) {
    this.#max = options.maxFailures ?? 5;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxPeers = options.maxPeers ?? 10_000;
    this.#clock = options.clock ?? systemClock;
  }

  /** Throws RateLimitedError when `peer` has used up its failures in the window. */
  check(peer: string, what: string): void {
    const recent = this.#recent(peer);
    if (recent.length >= this.#max) {
      const retryAfterMs = Math.max(0, recent[0]! + this.#windowMs - this.#clock.now());
      throw new RateLimitedError(
        `${what} from ${peer}: too many failed attempts (${recent.length} in ${Math.round(this.#windowMs / 1000)}s); retry in ${Math.ceil(retryAfterMs / 1000)}s`,
        { retryAfterMs },
      );
    }
  }

  /** Records one failure of `peer`. */
  fail(peer: string): void {
    const recent = this.#recent(peer);
    recent.push(this.#clock.now());
    this.#failures.delete(peer); // re-insert so Map order is least recently failed first
    this.#failures.set(peer, recent);
    while (this.#failures.size > this.#maxPeers) {
      const oldest = this.#failures.keys().next().value;
      if (oldest === undefined) break;
      this.#failures.delete(oldest);
    }
  }

  #recent(peer: string): number[] {
    const since = this.#clock.now() - this.#windowMs;
    return (this.#failures.get(peer) ?? []).filter((t) => t > since);
  }
}

/** The address part of a gRPC peer string (`ipv4:1.2.3.4:5`, `ipv6:[::1]:5`) or socket address. */
export function peerAddress(peer: string): string {
  const m = /^(?:ipv[46]:)?\[?([^\]]+?)\]?(?::\d+)?$/.exec(peer);
  return m?.[1] ?? peer;
}
