import {
  clockTimeout,
  errorMessage,
  systemClock,
  type Clock,
  type Logger,
} from '@driftless/common';
import type { Store } from './store.ts';

/** Options of {@link HistoryRetention}. */
export interface HistoryRetentionOptions {
  store: Pick<Store, 'pruneHistory'>;
  /** Sync history older than this is deleted (ms; 0 keeps it by age). Default 90 days. */
  maxAgeMs?: number;
  /** Entries kept per app beyond which the oldest go (0 keeps them by count). Default 1,000. */
  maxPerApp?: number;
  /** How often to prune. Default 1 h. */
  intervalMs?: number;
  log: Logger;
  clock?: Clock;
}

/** Defaults of {@link HistoryRetentionOptions}. */
export const HISTORY_RETENTION_DEFAULTS = {
  maxAgeMs: 90 * 86_400_000,
  maxPerApp: 1000,
  intervalMs: 3_600_000,
} as const;

/**
 * Keeps sync history bounded by time and count (flags `--history-max-age`,
 * `--history-max-per-app`): prunes at start and then every `intervalMs`, on the injected
 * clock. A failed prune (the store is down) is logged and tried again next time.
 */
export class HistoryRetention {
  readonly #o: Required<HistoryRetentionOptions>;
  #cancel: (() => void) | undefined;
  #stopped = false;

  constructor(options: HistoryRetentionOptions) {
    this.#o = {
      ...options,
      maxAgeMs: options.maxAgeMs ?? HISTORY_RETENTION_DEFAULTS.maxAgeMs,
      maxPerApp: options.maxPerApp ?? HISTORY_RETENTION_DEFAULTS.maxPerApp,
      intervalMs: options.intervalMs ?? HISTORY_RETENTION_DEFAULTS.intervalMs,
      clock: options.clock ?? systemClock,
    };
  }

  /** Prunes now and schedules the next prune. */
  async prune(): Promise<number> {
    const { store, maxAgeMs, maxPerApp, log, clock } = this.#o;
    let deleted = 0;
    try {
      if (maxAgeMs > 0 || maxPerApp > 0)
        deleted = await store.pruneHistory({
          olderThanMs: maxAgeMs > 0 ? clock.now() - maxAgeMs : 0,
          keepPerApp: maxPerApp,
        });
      if (deleted > 0)
        log.info({ deleted }, `history retention: ${deleted} old sync results deleted`);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, `history retention failed: ${errorMessage(err)}`);
    }
    if (!this.#stopped)
      this.#cancel = clockTimeout(clock, this.#o.intervalMs, () => void this.prune());
    return deleted;
  }

  /** Stops pruning. */
  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
  }
}
