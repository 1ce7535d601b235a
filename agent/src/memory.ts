import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { clockTimeout, systemClock, type Clock } from '@driftless/common';
import type { Reporter } from './report/index.ts';

/** Options of {@link IdleCompactor}. */
export interface IdleCompactorOptions {
  /** Collects garbage and hands free memory back; defaults to {@link fullGarbageCollection}. */
  collect?: () => void;
  /** Resident memory in bytes now; defaults to `process.memoryUsage.rss`. */
  rss?: () => number;
  clock?: Clock;
  /** How long after the last sync result the agent counts as idle, in ms. */
  quietMs?: number;
  /** How much resident memory (bytes) must have grown since the last collection to collect. */
  minGrowthBytes?: number;
}

/** Defaults of {@link IdleCompactorOptions}. */
export const IDLE_COMPACTOR_DEFAULTS = {
  quietMs: 10_000,
  minGrowthBytes: 4 * 2 ** 20,
} as const;

function resolveIdleCompactorOptions(options: IdleCompactorOptions) {
  return {
    collect: options.collect ?? fullGarbageCollection,
    rss: options.rss ?? (() => process.memoryUsage.rss()),
    clock: options.clock ?? systemClock,
    quietMs: options.quietMs ?? IDLE_COMPACTOR_DEFAULTS.quietMs,
    minGrowthBytes: options.minGrowthBytes ?? IDLE_COMPACTOR_DEFAULTS.minGrowthBytes,
  };
}

/**
 * Hands back the memory a sync grew into once the agent goes idle. A sync of many objects grows
 * V8's heap (and malloc's arenas) to several times what stays alive; V8 shrinks it again only
 * when it happens to collect, which an idle agent rarely does, so the process would go on
 * holding the sync's peak. `quietMs` after the last sync result, and only when resident memory
 * grew by `minGrowthBytes` since the last collection (a large sync, not a small heal), the
 * compactor runs one full collection that also releases the free heap pages.
 */
export class IdleCompactor {
  readonly #o: ReturnType<typeof resolveIdleCompactorOptions>;
  /** Resident bytes after the last collection; 0 before the first, so the first idle collects. */
  #baseline = 0;
  #cancel: (() => void) | undefined;
  #stopped = false;
  /** How many collections ran (for tests and logs). */
  collections = 0;

  constructor(options: IdleCompactorOptions = {}) {
    this.#o = resolveIdleCompactorOptions(options);
  }

  /** A reporter that notes every sync result (the only reports that mean work was done). */
  readonly reporter: Reporter = {
    appStatus: () => undefined,
    drift: () => undefined,
    syncResult: () => this.noteWork(),
  };

  /** Notes that work was done: the idle timer starts again. */
  noteWork(): void {
    if (this.#stopped) return;
    this.#cancel?.();
    this.#cancel = clockTimeout(this.#o.clock, this.#o.quietMs, () => this.#idle());
  }

  /** Stops: no collection runs after this. */
  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = undefined;
  }

  #idle(): void {
    this.#cancel = undefined;
    if (this.#stopped || this.#o.rss() - this.#baseline < this.#o.minGrowthBytes) return;
    this.#o.collect();
    this.collections++;
    this.#baseline = this.#o.rss();
  }
}

let collector: ((options: object) => void) | undefined;

/**
 * One full, memory-reducing garbage collection (V8's "last resort" collection: every weak
 * reference cleared, free pages released). Node exposes `gc` only with `--expose-gc`; the flag is
 * set at run time and the function taken from a new context, so no command line needs it.
 */
export function fullGarbageCollection(): void {
  if (!collector) {
    setFlagsFromString('--expose-gc');
    collector = runInNewContext('gc') as (options: object) => void;
  }
  collector({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
