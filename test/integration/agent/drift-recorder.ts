/** A drift reporter for the drift integration tests: keeps every report and lets a test wait for one. */
import type { DriftReport, Reporter } from '@driftless/agent';

/** Keeps every drift report and lets a test wait for one. */
export class RecordingReporter implements Reporter {
  readonly drifts: DriftReport[] = [];
  readonly #waiters = new Set<() => void>();
  appStatus(): void {}
  syncResult(): void {}
  drift(report: DriftReport): void {
    this.drifts.push(structuredClone(report));
    for (const w of this.#waiters) w();
  }
  /** Reports about the object named `name`. */
  of(name: string): DriftReport[] {
    return this.drifts.filter((d) => d.ref.name === name);
  }
  /**
   * The first report at index `from` or later (already seen or still to come)
   * that matches, or a failure after `timeoutMs`.
   */
  async waitFor(
    what: string,
    match: (d: DriftReport) => boolean,
    timeoutMs = 10_000,
    from = 0,
  ): Promise<DriftReport> {
    const find = () => this.drifts.slice(from).find(match);
    const found = find();
    if (found) return found;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no drift report ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        const hit = find();
        if (!hit) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(hit);
      };
      this.#waiters.add(check);
    });
  }
}

/** Polls `condition` every 100 ms until it holds, or fails after `timeoutMs` naming `what`. */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until a drift watcher has finished the checks it had to make (its check count stands still). */
export async function settled(watcher: { metrics: { checks: number } }): Promise<void> {
  let last = -1;
  let still = 0;
  await waitUntil('the drift watcher to settle', () => {
    const { checks } = watcher.metrics;
    still = checks === last ? still + 1 : 0;
    last = checks;
    return still >= 3;
  });
}
