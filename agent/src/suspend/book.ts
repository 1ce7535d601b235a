import { errorMessage, systemClock, type Clock, type Logger } from '@driftless/common';
import { inForce, strongest, type Suspension } from './types.ts';

/** Where the hub's pauses are kept across restarts (a ConfigMap in the state namespace). */
export interface SuspensionStore {
  load(): Promise<Suspension[]>;
  save(list: Suspension[]): Promise<void>;
}

/** Options of {@link SuspensionBook}. */
export interface SuspensionBookOptions {
  /** Keeps the hub's pauses across restarts; none: they live in memory only. */
  store?: SuspensionStore;
  logger: Logger;
  /** Time and sleeping; pauses end on this clock. Default the system clock. */
  clock?: Clock;
  /**
   * Longest single wait for the next expiry; a longer one is cut in steps, so a wall clock that
   * jumps is noticed soon enough. Default 60 s.
   */
  maxWaitMs?: number;
}

/** Defaults of {@link SuspensionBookOptions}. */
export const SUSPENSION_BOOK_DEFAULTS = { maxWaitMs: 60_000 } as const;

/**
 * The pauses the agent applies: the hub's (`driftless suspend`, time-limited, kept across
 * restarts) and Git's (`suspend: true`, until a commit removes it). A hub pause ends at its
 * `untilMs` on the agent's own clock, whether or not the hub is reachable; every change (a new
 * set from the hub, a new config, an expiry) calls the change listeners, which re-sync and report.
 */
export class SuspensionBook {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #store: SuspensionStore | undefined;
  readonly #maxWaitMs: number;
  #hub: Suspension[] = [];
  #git: Suspension[] = [];
  readonly #listeners = new Set<() => void>();
  #timer: AbortController | undefined;
  #saving: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: SuspensionBookOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger;
    this.#store = options.store;
    this.#maxWaitMs = options.maxWaitMs ?? SUSPENSION_BOOK_DEFAULTS.maxWaitMs;
  }

  /** Reads the hub's pauses kept by a previous run; those that expired meanwhile are dropped. */
  async restore(): Promise<void> {
    if (!this.#store) return;
    try {
      const kept = await this.#store.load();
      this.#hub = kept.filter((s) => inForce(s, this.#clock.now()));
      for (const s of this.#hub)
        this.#log.info(
          { app: s.app || '(cluster)', until: new Date(s.untilMs).toISOString() },
          `pause ${s.id} kept from before the restart`,
        );
      this.#arm();
    } catch (err) {
      this.#log.error(
        { err: errorMessage(err) },
        `cannot read the pauses kept from before the restart: ${errorMessage(err)}`,
      );
    }
  }

  /** Calls `fn` after every change of the pauses in force; returns a function that stops it. */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Replaces the hub's pauses by `items` (the whole set the hub holds now). */
  setHub(items: Suspension[]): void {
    const now = this.#clock.now();
    const next = items.filter((s) => s.source === 'hub' && inForce(s, now));
    if (sameSet(next, this.#hub)) return;
    this.#hub = next;
    this.#persist();
    this.#arm();
    this.#changed();
  }

  /** Replaces Git's pauses by those of the config in force (`file` names it for people). */
  setGit(apps: readonly { name: string; suspend: boolean }[], file: string): void {
    const next: Suspension[] = apps
      .filter((a) => a.suspend)
      .map((a) => ({
        id: `git:${a.name}`,
        app: a.name,
        untilMs: 0,
        reason: `suspend: true in ${file}`,
        actor: file,
        sinceMs: this.#git.find((g) => g.app === a.name)?.sinceMs ?? this.#clock.now(),
        source: 'git',
      }));
    if (sameSet(next, this.#git)) return;
    this.#git = next;
    this.#changed();
  }

  /** The pause in force for `app` now (its own or its cluster's), if any. */
  forApp(app: string): Suspension | undefined {
    return strongest(this.all().filter((s) => s.app === '' || s.app === app));
  }

  /** Every pause in force now, hub's then Git's. */
  all(): Suspension[] {
    const now = this.#clock.now();
    return [...this.#hub, ...this.#git].filter((s) => inForce(s, now));
  }

  /** Stops the expiry timer and waits for the last save. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.abort();
    await this.#saving;
  }

  /** Waits (on the clock) for the next hub pause to end, then drops it and tells the listeners. */
  #arm(): void {
    this.#timer?.abort();
    if (this.#stopped || this.#hub.length === 0) return;
    const timer = new AbortController();
    this.#timer = timer;
    const next = Math.min(...this.#hub.map((s) => s.untilMs));
    const wait = Math.min(this.#maxWaitMs, Math.max(0, next - this.#clock.now()));
    this.#clock.sleep(wait, timer.signal).then(
      () => {
        if (timer.signal.aborted) return;
        this.#expire();
      },
      () => undefined,
    );
  }

  #expire(): void {
    const now = this.#clock.now();
    const ended = this.#hub.filter((s) => !inForce(s, now));
    if (ended.length > 0) {
      this.#hub = this.#hub.filter((s) => inForce(s, now));
      for (const s of ended)
        this.#log.info(
          { app: s.app || '(cluster)', suspension: s.id },
          `pause ${s.id} of ${s.app ? `app ${s.app}` : 'the cluster'} ended at ${new Date(s.untilMs).toISOString()}; applying and healing again`,
        );
      this.#persist();
      this.#changed();
    }
    this.#arm();
  }

  #persist(): void {
    const store = this.#store;
    if (!store) return;
    const list = [...this.#hub];
    // Saves run one after the other, so the last set written is the last set known.
    this.#saving = this.#saving.then(() =>
      store
        .save(list)
        .catch((err: unknown) =>
          this.#log.error(
            { err: errorMessage(err) },
            `cannot keep the pauses for a restart: ${errorMessage(err)}`,
          ),
        ),
    );
  }

  #changed(): void {
    for (const fn of [...this.#listeners]) fn();
  }
}

function sameSet(a: readonly Suspension[], b: readonly Suspension[]): boolean {
  const key = (l: readonly Suspension[]) =>
    JSON.stringify(
      [...l]
        .map((s) => [s.id, s.app, s.untilMs, s.reason, s.actor, s.source])
        .sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
  return key(a) === key(b);
}
