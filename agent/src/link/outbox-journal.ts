import { mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  clockTimeout,
  errorMessage,
  systemClock,
  type Clock,
  type Logger,
} from '@driftless/common';
import type { Outbox, OutboxSnapshot } from './outbox.ts';

/** Options of {@link OutboxJournal}. */
export interface OutboxJournalOptions {
  /** The file that keeps the outbox, on the agent's work-dir volume. */
  path: string;
  logger: Logger;
  /** Longest wait between a change and its write. Default 100 ms. */
  writeDelayMs?: number;
  clock?: Clock;
}

/** Defaults of {@link OutboxJournalOptions}. */
export const OUTBOX_JOURNAL_DEFAULTS = { writeDelayMs: 100 } as const;

/**
 * Keeps the outbox's unacknowledged reports in a file, so an agent killed while the hub is
 * unreachable delivers them after its restart. The file is a snapshot (bounded as the outbox
 * is), rewritten at most every `writeDelayMs` after a change through a temporary file and a
 * rename, so a kill never leaves half a file.
 */
export class OutboxJournal {
  readonly #path: string;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #delayMs: number;
  #outbox: Outbox | undefined;
  #cancelTimer: (() => void) | undefined;
  #writing: Promise<void> | undefined;
  #dirty = false;
  #off: (() => void) | undefined;

  constructor(options: OutboxJournalOptions) {
    this.#path = options.path;
    this.#log = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#delayMs = options.writeDelayMs ?? OUTBOX_JOURNAL_DEFAULTS.writeDelayMs;
  }

  /**
   * What the previous process left, or undefined when there is no (usable) file: an unreadable
   * one is logged and ignored, as an agent without a journal starts.
   */
  load(): OutboxSnapshot | undefined {
    let text: string;
    try {
      text = readFileSync(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.#log.warn(
          { err: errorMessage(err), path: this.#path },
          `outbox journal: cannot read ${this.#path}; starting with an empty outbox`,
        );
      return undefined;
    }
    try {
      const snapshot = JSON.parse(text) as OutboxSnapshot;
      if (snapshot.version !== 1 || !Array.isArray(snapshot.entries))
        throw new Error('not an outbox snapshot of version 1');
      this.#log.info(
        { path: this.#path, reports: snapshot.entries.length },
        `outbox journal: ${snapshot.entries.length} unacknowledged reports from the previous run`,
      );
      return snapshot;
    } catch (err) {
      this.#log.warn(
        { err: errorMessage(err), path: this.#path },
        `outbox journal: ${this.#path} is unusable (${errorMessage(err)}); starting with an empty outbox`,
      );
      return undefined;
    }
  }

  /** Writes `outbox` to the file after each change (delayed and coalesced). */
  attach(outbox: Outbox): void {
    mkdirSync(dirname(this.#path), { recursive: true });
    this.#outbox = outbox;
    this.#off = outbox.onChange(() => this.#schedule());
    this.#schedule();
  }

  /** Writes what is pending now and stops following the outbox. */
  async close(): Promise<void> {
    this.#off?.();
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await this.#writing;
    if (this.#dirty) await this.#write();
  }

  #schedule(): void {
    this.#dirty = true;
    if (this.#cancelTimer || this.#writing) return;
    this.#cancelTimer = clockTimeout(this.#clock, this.#delayMs, () => {
      this.#cancelTimer = undefined;
      this.#writing = this.#write().finally(() => {
        this.#writing = undefined;
        if (this.#dirty) this.#schedule();
      });
    });
  }

  async #write(): Promise<void> {
    const outbox = this.#outbox;
    if (!outbox) return;
    this.#dirty = false;
    const tmp = `${this.#path}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(outbox.snapshot()));
      await rename(tmp, this.#path);
    } catch (err) {
      this.#dirty = true;
      this.#log.warn(
        { err: errorMessage(err), path: this.#path },
        `outbox journal: cannot write ${this.#path}: ${errorMessage(err)}`,
      );
    }
  }
}
