// Group commit of reports against a fake store at the store's interface: what shares a
// transaction, when each caller is answered, and what a refused report or a failed
// transaction does to the others. Real SQLite and PostgreSQL: test/integration/hub/ingest-batch.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IngestItem, IngestOutcome, IngestResult, Report, Store } from '../store/index.ts';
import { ReportOutOfOrderError } from '../store/index.ts';
import { IngestBatcher, resolveIngestBatchOptions } from './ingest-batch.ts';

const gap = (n: number): Report => ({
  kind: 'gap',
  gap: { firstSeq: n, lastSeq: n, count: 1, summary: '' },
});

/** A store whose transactions the test commits or fails by hand; records every call. */
class FakeStore implements Pick<Store, 'ingest' | 'ingestMany'> {
  readonly batches: IngestItem[][] = [];
  readonly singles: IngestItem[] = [];
  readonly #open: { resolve(o: IngestOutcome[]): void; reject(e: Error): void }[] = [];
  /** Clusters whose reports fail the whole transaction (a write the database refuses). */
  readonly poison = new Set<string>();
  readonly last = new Map<string, number>();

  ingestMany(items: readonly IngestItem[]): Promise<IngestOutcome[]> {
    this.batches.push([...items]);
    return new Promise((resolve, reject) => this.#open.push({ resolve, reject }));
  }

  async ingest(cluster: string, seq: number, report: Report, nowMs: number) {
    this.singles.push({ cluster, seq, report, nowMs });
    const [o] = this.#apply([{ cluster, seq, report, nowMs }]);
    if (!o!.ok) throw o!.error;
    return o!.result;
  }

  /** Ends the oldest open transaction as a real store would. */
  commitNext(): void {
    const items = this.batches[this.batches.length - this.#open.length]!;
    const tx = this.#open.shift()!;
    if (items.some((i) => this.poison.has(i.cluster)))
      return tx.reject(new Error('StoreError: NOT NULL constraint failed'));
    tx.resolve(this.#apply(items));
  }

  #apply(items: readonly IngestItem[]): IngestOutcome[] {
    return items.map(({ cluster, seq }) => {
      if (this.poison.has(cluster))
        return { ok: false, error: new Error(`StoreError: ${cluster} refused`) };
      const last = this.last.get(cluster) ?? 0;
      if (seq <= last) return { ok: true, result: { applied: false, lastSeq: last } };
      if (seq > last + 1)
        return { ok: false, error: new ReportOutOfOrderError(cluster, seq, last) };
      this.last.set(cluster, seq);
      return { ok: true, result: { applied: true, lastSeq: seq } };
    });
  }
}

/** A batcher on a fake store whose deferred starts run when the test says. */
function setup(o: { maxReports?: number; concurrency?: number } = {}) {
  const store = new FakeStore();
  const deferred: (() => void)[] = [];
  const batcher = new IngestBatcher({ store, ...o, defer: (fn) => deferred.push(fn) });
  const runDeferred = () => deferred.splice(0).forEach((fn) => fn());
  return { store, batcher, runDeferred };
}

/** Settles a promise into a value to compare, without awaiting it first. */
function watch(p: Promise<IngestResult>) {
  const state: { value?: IngestResult; error?: unknown; settled: boolean } = { settled: false };
  p.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error: unknown) => Object.assign(state, { error, settled: true }),
  );
  return state;
}
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('IngestBatcher', () => {
  it('commits reports that arrive together in one transaction, in arrival order', async () => {
    const { store, batcher, runDeferred } = setup();
    const a1 = watch(batcher.ingest('a', 1, gap(1), 10));
    const b1 = watch(batcher.ingest('b', 1, gap(1), 10));
    const a2 = watch(batcher.ingest('a', 2, gap(2), 11));
    assert.equal(store.batches.length, 0, 'nothing written before the deferred start');
    runDeferred();
    assert.deepEqual(
      store.batches.map((b) => b.map((i) => `${i.cluster}/${i.seq}`)),
      [['a/1', 'b/1', 'a/2']],
    );
    await tick();
    assert.equal(a1.settled, false, 'no answer before the commit');
    store.commitNext();
    await tick();
    assert.deepEqual(a1.value, { applied: true, lastSeq: 1 });
    assert.deepEqual(b1.value, { applied: true, lastSeq: 1 });
    assert.deepEqual(a2.value, { applied: true, lastSeq: 2 });
  });

  it('gathers what arrives during a transaction into the next one, at most maxReports each', async () => {
    const { store, batcher, runDeferred } = setup({ maxReports: 2 });
    const first = watch(batcher.ingest('a', 1, gap(1), 1));
    runDeferred();
    const later = [1, 2, 3].map((n) => watch(batcher.ingest(`c${n}`, 1, gap(1), 2)));
    runDeferred();
    assert.equal(store.batches.length, 1, 'one transaction in flight at a time');
    assert.equal(batcher.waiting, 3);
    store.commitNext();
    await tick();
    runDeferred();
    assert.deepEqual(
      store.batches.slice(1).map((b) => b.map((i) => i.cluster)),
      [['c1', 'c2']],
    );
    store.commitNext();
    await tick();
    runDeferred();
    store.commitNext();
    await tick();
    assert.deepEqual(
      store.batches.map((b) => b.length),
      [1, 2, 1],
    );
    assert.ok(first.settled && later.every((l) => l.value?.applied === true));
  });

  it("keeps a cluster's reports out of a second transaction while one holds some", async () => {
    const { store, batcher, runDeferred } = setup({ maxReports: 2, concurrency: 2 });
    const a1 = watch(batcher.ingest('a', 1, gap(1), 1));
    void batcher.ingest('b', 1, gap(1), 1);
    runDeferred();
    // a's next reports come before its first is committed (a stream does not wait).
    const a2 = watch(batcher.ingest('a', 2, gap(2), 2));
    void batcher.ingest('c', 1, gap(1), 2);
    const a3 = watch(batcher.ingest('a', 3, gap(3), 2));
    void batcher.ingest('d', 1, gap(1), 2);
    runDeferred();
    const names = () => store.batches.map((b) => b.map((i) => `${i.cluster}/${i.seq}`));
    assert.deepEqual(names(), [
      ['a/1', 'b/1'],
      ['c/1', 'd/1'],
    ]);
    store.commitNext();
    await tick();
    runDeferred();
    assert.deepEqual(names()[2], ['a/2', 'a/3'], 'after its transaction, in seq order');
    store.commitNext();
    store.commitNext();
    await tick();
    assert.deepEqual(
      [a1.value, a2.value, a3.value].map((v) => v?.lastSeq),
      [1, 2, 3],
    );
  });

  it('runs up to `concurrency` transactions at once', () => {
    const { store, batcher, runDeferred } = setup({ maxReports: 1, concurrency: 2 });
    for (const c of ['a', 'b', 'c']) void batcher.ingest(c, 1, gap(1), 1);
    runDeferred();
    assert.equal(store.batches.length, 2);
    assert.equal(batcher.waiting, 1);
  });

  it('fails only a report the store refuses; the others in its transaction are answered', async () => {
    const { store, batcher, runDeferred } = setup();
    store.last.set('a', 4);
    const late = watch(batcher.ingest('a', 7, gap(7), 1));
    const replay = watch(batcher.ingest('a', 3, gap(3), 1));
    const fresh = watch(batcher.ingest('b', 1, gap(1), 1));
    runDeferred();
    store.commitNext();
    await tick();
    assert.ok(late.error instanceof ReportOutOfOrderError);
    assert.deepEqual(replay.value, { applied: false, lastSeq: 4 });
    assert.deepEqual(fresh.value, { applied: true, lastSeq: 1 });
  });

  it('after a failed transaction stores each report alone, so only the bad one fails', async () => {
    const { store, batcher, runDeferred } = setup();
    store.poison.add('bad');
    const good1 = watch(batcher.ingest('a', 1, gap(1), 1));
    const bad = watch(batcher.ingest('bad', 1, gap(1), 1));
    const good2 = watch(batcher.ingest('b', 1, gap(1), 1));
    runDeferred();
    store.commitNext();
    await tick();
    assert.deepEqual(
      store.singles.map((i) => i.cluster),
      ['a', 'bad', 'b'],
    );
    assert.deepEqual(good1.value, { applied: true, lastSeq: 1 });
    assert.deepEqual(good2.value, { applied: true, lastSeq: 1 });
    assert.match(String(bad.error), /bad refused/);
    assert.equal(store.last.get('bad'), undefined);
  });

  it('answers a failed transaction of one report with its error, without a second try', async () => {
    const { store, batcher, runDeferred } = setup();
    store.poison.add('bad');
    const bad = watch(batcher.ingest('bad', 1, gap(1), 1));
    runDeferred();
    store.commitNext();
    await tick();
    assert.match(String(bad.error), /NOT NULL constraint failed/);
    assert.equal(store.singles.length, 0);
  });

  it('refuses options that cannot work', () => {
    const store = new FakeStore();
    assert.throws(() => resolveIngestBatchOptions({ store, maxReports: 0 }), /maxReports/);
    assert.throws(() => resolveIngestBatchOptions({ store, concurrency: 1.5 }), /concurrency/);
    assert.equal(resolveIngestBatchOptions({ store }).maxReports, 256);
  });
});
