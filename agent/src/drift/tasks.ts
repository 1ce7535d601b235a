import { errorMessage, type Logger } from '@driftless/common';

/** Background work (timers, stopping loops) that the watcher waits for when it stops. */
export class Tasks {
  readonly #log: Logger;
  readonly #tasks = new Set<Promise<void>>();

  constructor(logger: Logger) {
    this.#log = logger;
  }

  /** Runs `work` in the background; a rejection is logged, never thrown. */
  spawn(work: Promise<void>): void {
    const task = work
      .catch((err: unknown) => {
        this.#log.error({ err: errorMessage(err) }, 'drift watcher: background work failed');
      })
      .finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  /** Background work running now. */
  get size(): number {
    return this.#tasks.size;
  }

  /** Resolves once the work running now has ended. */
  async settled(): Promise<void> {
    await Promise.all([...this.#tasks]);
  }
}
