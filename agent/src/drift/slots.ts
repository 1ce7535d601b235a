/**
 * A counting semaphore: at most `size` holders at once, the rest wait in
 * order. Keeps a burst of drift checks (a re-list of a kind with hundreds of
 * objects) from opening hundreds of requests at once.
 */
export class Slots {
  #free: number;
  readonly #waiting: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(size: number) {
    this.#free = Math.max(1, size);
  }

  /** Waits for a slot; rejects with the signal's reason when it aborts first. */
  async acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Gives a slot back, to the longest waiter if any. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next.resolve();
    else this.#free++;
  }
}
