import type { Clock } from '@driftless/common';
import { KeyedDebouncer } from './debounce.ts';
import type { Registry, Tracked } from './registry.ts';
import { Slots } from './slots.ts';
import type { Tasks } from './tasks.ts';

/** Options of {@link CheckScheduler}. */
export interface CheckSchedulerOptions {
  clock: Clock;
  /** How long events of one object are gathered into one check. */
  debounceMs: number;
  /** Checks (and the heals inside them) in flight at once. */
  concurrency: number;
  registry: Registry;
  tasks: Tasks;
  /** Aborting stops every pending check. */
  signal: AbortSignal;
  /** One check of one object (by refKey); must not reject. */
  check: (key: string) => Promise<void>;
}

/**
 * When objects are checked: at once (debounced per object), later (a retry,
 * a paused fight), or on resume when their app was paused meanwhile; and how
 * many checks run at once.
 */
export class CheckScheduler {
  readonly #o: CheckSchedulerOptions;
  readonly #debouncer: KeyedDebouncer<string>;
  readonly #slots: Slots;

  constructor(options: CheckSchedulerOptions) {
    this.#o = options;
    this.#slots = new Slots(options.concurrency);
    this.#debouncer = new KeyedDebouncer({
      clock: options.clock,
      delayMs: options.debounceMs,
      signal: options.signal,
      run: options.check,
    });
  }

  /** Asks for a check of `t`, now (debounced) or on resume when its app is paused. */
  request(t: Tracked): void {
    if (this.#o.signal.aborted) return;
    if (this.#o.registry.app(t.app)?.paused) t.dirty = true;
    else this.#debouncer.trigger(t.key);
  }

  /** Asks for a check of `t` after `ms` (a failed heal or check, a paused fight). */
  requestLater(t: Tracked, ms: number): void {
    if (t.retryPending || this.#o.signal.aborted) return;
    t.retryPending = true;
    this.#o.tasks.spawn(
      this.#o.clock.sleep(ms, t.abort.signal).then(
        () => {
          t.retryPending = false;
          if (this.#o.registry.current(t)) this.request(t);
        },
        () => undefined, // untracked or stopped while waiting
      ),
    );
  }

  /** Checks the objects of app `name` that changed while it was paused. */
  resumeApp(name: string): void {
    for (const t of this.#o.registry.ofApp(name)) {
      if (!t.dirty) continue;
      t.dirty = false;
      this.request(t);
    }
  }

  /** Runs `fn` in one of the check slots; false when stopping before a slot was free. */
  async inSlot(fn: () => Promise<void>): Promise<boolean> {
    try {
      await this.#slots.acquire(this.#o.signal);
    } catch {
      return false; // stopping
    }
    try {
      await fn();
    } finally {
      this.#slots.release();
    }
    return true;
  }

  /** Resolves once no check is scheduled or in flight. */
  idle(): Promise<void> {
    return this.#debouncer.idle();
  }
}
