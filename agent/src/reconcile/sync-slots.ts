/**
 * How many apps render, plan and apply at once (`--app-concurrency`). Those steps hold an app's
 * rendered objects, dry-run answers and plan in memory and keep the API server busy; with every
 * due app in them at once (a cold start of 200 apps) the agent's memory peaked at the sum of all
 * of them. An app waits for a slot before it renders and gives it back before it waits for its
 * objects' health, so an app whose rollout takes minutes holds no one up.
 */
export class SyncSlots {
  readonly #limit: number;
  #used = 0;
  readonly #waiting: (() => void)[] = [];

  /** `limit`: the most apps between render and health at once, a whole number ≥ 1. */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`app concurrency must be a whole number of at least 1, got ${limit}`);
    this.#limit = limit;
  }

  /** Apps holding a slot now. */
  get used(): number {
    return this.#used;
  }

  /** Apps waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Whether {@link acquire} would have to wait now: every slot is taken. */
  get full(): boolean {
    return this.#used >= this.#limit;
  }

  /**
   * Resolves with the function that gives the slot back (calling it again does nothing) once
   * one is free; slots are handed out in the order they were asked for. Rejects with the
   * signal's reason when `signal` aborts first.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#used < this.#limit) {
      this.#used++;
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiting.indexOf(grant);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal?.reason as Error);
      };
      // A released slot passes straight to the next in line: `used` stays as it is.
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiting.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return this.#releaser();
  }

  #releaser(): () => void {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#used--;
    };
  }
}
