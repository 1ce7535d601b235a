import type { Clock } from '@driftless/common';
import type { Store } from '../store/index.ts';

/** How often at most a cluster's last-seen time is written. */
export const LAST_SEEN_INTERVAL_MS = 10_000;

/**
 * Writes a cluster's last-seen time on its heartbeats, at most once per
 * {@link LAST_SEEN_INTERVAL_MS}: last-seen is for people, a write per heartbeat per agent is
 * waste. One per hub process, for both transports.
 */
export class LastSeen {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #written = new Map<string, number>();

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Records a heartbeat of `cluster`; writes it when the last write is old enough. */
  async heartbeat(cluster: string): Promise<void> {
    const now = this.#clock.now();
    if (now - (this.#written.get(cluster) ?? -Infinity) <= LAST_SEEN_INTERVAL_MS) return;
    this.#written.set(cluster, now);
    await this.#store.touch(cluster, now);
  }

  /** Forgets `cluster` (its stream ended), so the map does not grow with departed clusters. */
  forget(cluster: string): void {
    this.#written.delete(cluster);
  }
}
