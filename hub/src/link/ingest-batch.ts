import type { IngestItem, IngestResult, Report, Store } from '../store/index.ts';

/** Options of {@link IngestBatcher}. */
export interface IngestBatchOptions {
  store: Pick<Store, 'ingest' | 'ingestMany'>;
  /** Most reports in one transaction. */
  maxReports?: number;
  /**
   * Transactions in flight at once. 1 suits SQLite (one writer); PostgreSQL gains from a few,
   * up to its pool size.
   */
  concurrency?: number;
  /** Runs a function after the current I/O callbacks (gathers the reports they bring). */
  defer?: (fn: () => void) => void;
}

/** Defaults of {@link IngestBatchOptions}. */
export const INGEST_BATCH_DEFAULTS = {
  maxReports: 256,
  concurrency: 1,
  defer: (fn: () => void) => void setImmediate(fn),
} as const;

/** Resolves {@link IngestBatchOptions} against {@link INGEST_BATCH_DEFAULTS}. */
export function resolveIngestBatchOptions(o: IngestBatchOptions): Required<IngestBatchOptions> {
  const maxReports = o.maxReports ?? INGEST_BATCH_DEFAULTS.maxReports;
  const concurrency = o.concurrency ?? INGEST_BATCH_DEFAULTS.concurrency;
  if (!(Number.isInteger(maxReports) && maxReports >= 1))
    throw new RangeError(`ingest batch: maxReports must be a whole number ≥ 1, got ${maxReports}`);
  if (!(Number.isInteger(concurrency) && concurrency >= 1))
    throw new RangeError(
      `ingest batch: concurrency must be a whole number ≥ 1, got ${concurrency}`,
    );
  return { store: o.store, maxReports, concurrency, defer: o.defer ?? INGEST_BATCH_DEFAULTS.defer };
}

interface Pending {
  item: IngestItem;
  resolve: (result: IngestResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for agents' reports. {@link ingest} has the meaning of `Store.ingest` (it
 * resolves only once the report is committed, so the caller acks after it) but reports
 * arriving together, from any streams, share one transaction: the first waits only for the
 * current I/O callbacks, later ones for the transaction in flight, so an idle hub adds no
 * delay and a busy one commits hundreds per transaction. Reports are written in arrival order,
 * so a cluster's seq n and n + 1 keep their order even in one batch.
 *
 * With several transactions in flight (PostgreSQL), a cluster's reports stay out of a new
 * transaction while an earlier one holds some of them, so they still commit in seq order; a
 * stream may therefore hand in its next reports before the previous ones are committed.
 *
 * A report the store refuses (replay, out of order, unknown cluster) fails alone. When the
 * batch's transaction itself fails, every report in it is stored again one per transaction,
 * so a bad report rejects with its own error and the others commit as they would have alone.
 */
export class IngestBatcher {
  readonly #o: Required<IngestBatchOptions>;
  #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;
  /** Clusters with reports in a transaction in flight, and how many such transactions. */
  readonly #busy = new Map<string, number>();

  constructor(options: IngestBatchOptions) {
    this.#o = resolveIngestBatchOptions(options);
  }

  /** Stores one report with the next batch; resolves after its commit (see `Store.ingest`). */
  ingest(cluster: string, seq: number, report: Report, nowMs: number): Promise<IngestResult> {
    return new Promise<IngestResult>((resolve, reject) => {
      this.#queue.push({ item: { cluster, seq, report, nowMs }, resolve, reject });
      this.#schedule();
    });
  }

  /** Reports waiting for a transaction (not yet in one). */
  get waiting(): number {
    return this.#queue.length;
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#o.concurrency) return;
    this.#scheduled = true;
    this.#o.defer(() => {
      this.#scheduled = false;
      this.#startBatches();
    });
  }

  #startBatches(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.#o.concurrency) {
      const batch = this.#take();
      if (batch.length === 0) return; // every waiting cluster has a transaction in flight
      const clusters = new Set(batch.map((p) => p.item.cluster));
      for (const c of clusters) this.#busy.set(c, (this.#busy.get(c) ?? 0) + 1);
      this.#inFlight++;
      void this.#commit(batch).finally(() => {
        this.#inFlight--;
        for (const c of clusters) {
          const n = this.#busy.get(c)! - 1;
          if (n === 0) this.#busy.delete(c);
          else this.#busy.set(c, n);
        }
        if (this.#queue.length > 0) this.#schedule();
      });
    }
  }

  /**
   * The next batch: up to maxReports waiting reports in arrival order, leaving in the queue
   * those of clusters that have a transaction in flight (they follow it in a later one).
   */
  #take(): Pending[] {
    if (this.#busy.size === 0) return this.#queue.splice(0, this.#o.maxReports);
    // Scans only as far as the batch fills: thousands may wait (one per stream).
    const batch: Pending[] = [];
    const skipped: Pending[] = [];
    let i = 0;
    for (; i < this.#queue.length && batch.length < this.#o.maxReports; i++) {
      const p = this.#queue[i]!;
      (this.#busy.has(p.item.cluster) ? skipped : batch).push(p);
    }
    this.#queue = i === this.#queue.length ? skipped : skipped.concat(this.#queue.slice(i));
    return batch;
  }

  async #commit(batch: Pending[]): Promise<void> {
    const { store } = this.#o;
    let outcomes;
    try {
      outcomes = await store.ingestMany(batch.map((p) => p.item));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      await this.#oneByOne(batch);
      return;
    }
    outcomes.forEach((o, i) => (o.ok ? batch[i]!.resolve(o.result) : batch[i]!.reject(o.error)));
  }

  /** After a failed batch: each report in its own transaction, in order, as without batching. */
  async #oneByOne(batch: Pending[]): Promise<void> {
    for (const { item, resolve, reject } of batch) {
      try {
        resolve(await this.#o.store.ingest(item.cluster, item.seq, item.report, item.nowMs));
      } catch (err) {
        reject(err);
      }
    }
  }
}
