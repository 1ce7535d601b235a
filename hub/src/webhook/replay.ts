import { systemClock, type Clock } from '@driftless/common';

/** Options of {@link DeliveryLog}. */
export interface DeliveryLogOptions {
  /** How long a delivery id is remembered, ms. */
  windowMs: number;
  /** Ids remembered at most; the oldest are forgotten first beyond it. */
  maxEntries: number;
  clock: Clock;
}

/** Defaults of {@link DeliveryLogOptions}. */
export const DELIVERY_LOG_DEFAULTS: DeliveryLogOptions = {
  windowMs: 3_600_000,
  maxEntries: 10_000,
  clock: systemClock,
};

/**
 * The webhook deliveries acted on recently, by delivery id, so a replayed signed
 * delivery (a captured request sent again, or a Git server's redelivery) is answered
 * but not acted on twice. In memory, per hub replica: a restarted hub forgets, and a
 * replay to another replica only sends the same refresh hints again (hints are idempotent).
 */
export class DeliveryLog {
  readonly #o: DeliveryLogOptions;
  /** Id to when it was recorded; Map order is oldest first. */
  readonly #seen = new Map<string, number>();

  constructor(options: Partial<DeliveryLogOptions> = {}) {
    this.#o = { ...DELIVERY_LOG_DEFAULTS, ...options };
  }

  /** Whether `id` was recorded within the window. */
  has(id: string): boolean {
    this.#expire();
    return this.#seen.has(id);
  }

  /** Records `id` as acted on now. */
  record(id: string): void {
    this.#seen.delete(id);
    this.#seen.set(id, this.#o.clock.now());
    this.#expire();
  }

  #expire(): void {
    const since = this.#o.clock.now() - this.#o.windowMs;
    for (const [id, at] of this.#seen) {
      if (at > since && this.#seen.size <= this.#o.maxEntries) break;
      this.#seen.delete(id);
    }
  }
}
