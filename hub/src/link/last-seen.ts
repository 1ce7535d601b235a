import { retry, type Clock, type Logger } from '@driftless/common';
import type { Store } from '../store/index.ts';

/** How often at most a cluster's last-seen time is written. */
export const LAST_SEEN_INTERVAL_MS = 10_000;

/**
 * Writes what the hub knows of a cluster's link: its last-seen time on heartbeats, at most once
 * per {@link LAST_SEEN_INTERVAL_MS} (last-seen is for people, a write per heartbeat per agent is
 * waste), and that it is connected again with each such write, so a cluster another replica
 * marked disconnected (e.g. at its start) shows connected while its agent talks to this one.
 * When a link ends, {@link disconnected} marks the cluster disconnected once any heartbeat write
 * of it has landed, retrying through a database outage. One per hub process, for both
 * transports.
 */
export class LastSeen {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #written = new Map<string, number>();
  /** The heartbeat write of a cluster in flight, if any. */
  readonly #pending = new Map<string, Promise<void>>();

  constructor(store: Store, clock: Clock, log?: Logger) {
    this.#store = store;
    this.#clock = clock;
    this.#log = log;
  }

  /** Records a heartbeat of `cluster`; writes it when the last write is old enough. */
  async heartbeat(cluster: string): Promise<void> {
    const now = this.#clock.now();
    if (now - (this.#written.get(cluster) ?? -Infinity) <= LAST_SEEN_INTERVAL_MS) return;
    this.#written.set(cluster, now);
    const write = this.#store.touch(cluster, now);
    const settled = write.then(
      () => undefined,
      () => undefined,
    );
    this.#pending.set(cluster, settled);
    try {
      await write;
    } finally {
      if (this.#pending.get(cluster) === settled) this.#pending.delete(cluster);
    }
  }

  /** Forgets `cluster` (its link ended), so the map does not grow with departed clusters. */
  forget(cluster: string): void {
    this.#written.delete(cluster);
  }

  /**
   * Forgets `cluster` (its link ended; see {@link forget}) and marks it disconnected: after its heartbeat write in flight, if any (which would otherwise
   * mark it connected again), and retried with backoff while the database fails, until it
   * lands, `isBack()` says the cluster has a link again, or about 8 minutes passed. Never
   * throws.
   */
  async disconnected(cluster: string, isBack: () => boolean): Promise<void> {
    this.forget(cluster);
    await this.#pending.get(cluster);
    await retry(
      async () => {
        if (isBack()) return;
        await this.#store.setConnected(cluster, false, this.#clock.now());
      },
      {
        clock: this.#clock,
        initialMs: 1_000,
        maxMs: 30_000,
        maxAttempts: 20, // about 8 minutes

        retryable: () => !isBack(),
        onRetry: (err, attempt) =>
          this.#log?.warn(
            { cluster, attempt, err: err instanceof Error ? err.message : String(err) },
            'could not mark the cluster disconnected; retrying',
          ),
      },
    ).catch(() => undefined);
  }
}
