import type { Clock } from '@driftless/common';

/** Options of {@link KeyedDebouncer}. */
export interface DebouncerOptions<K> {
  clock: Clock;
  /** Delay between the first trigger of a burst and the run. */
  delayMs: number;
  /** Runs the work for one key; must not reject (the debouncer drops rejections). */
  run: (key: K) => Promise<void>;
  /** Aborting stops every pending run; runs in flight finish. */
  signal: AbortSignal;
}

type Slot = 'scheduled' | 'running' | 'running-again';

/**
 * Coalesces bursts of triggers per key into one run. The first trigger
 * schedules a run `delayMs` later; triggers until then join it. A trigger
 * while the run is in flight schedules exactly one more run after it, so the
 * last change is never missed. Unlike a trailing debounce the delay does not
 * restart on each trigger, so a key that changes without pause (another
 * controller writing in a loop) is still checked every `delayMs`.
 */
export class KeyedDebouncer<K> {
  readonly #o: DebouncerOptions<K>;
  readonly #slots = new Map<K, Slot>();
  readonly #tasks = new Set<Promise<void>>();

  constructor(options: DebouncerOptions<K>) {
    this.#o = options;
  }

  /** Asks for a run of `key`; see the class comment for how triggers coalesce. */
  trigger(key: K): void {
    if (this.#o.signal.aborted) return;
    const slot = this.#slots.get(key);
    if (slot === 'scheduled' || slot === 'running-again') return;
    if (slot === 'running') return void this.#slots.set(key, 'running-again');
    this.#slots.set(key, 'scheduled');
    const task = this.#cycle(key).finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  /** Whether a run of `key` is scheduled or in flight. */
  busy(key: K): boolean {
    return this.#slots.has(key);
  }

  /** Resolves once no run is scheduled or in flight (after the signal aborted, promptly). */
  async idle(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  async #cycle(key: K): Promise<void> {
    for (;;) {
      try {
        await this.#o.clock.sleep(this.#o.delayMs, this.#o.signal);
      } catch {
        this.#slots.delete(key); // aborted: stopping
        return;
      }
      this.#slots.set(key, 'running');
      try {
        await this.#o.run(key);
      } catch {
        // run() reports its own failures; a rejection here must not escape.
      }
      if (this.#slots.get(key) !== 'running-again' || this.#o.signal.aborted) {
        this.#slots.delete(key);
        return;
      }
      this.#slots.set(key, 'scheduled');
    }
  }
}
