// The store contract (hub/test/store-contract.ts) on a real PostgreSQL from the harness, and
// what only PostgreSQL does: reports in order stored in one round trip (Db.batch), and two
// replicas on one database storing each report seq of a cluster once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPostgres } from '@driftless/test';
import type { Db } from '../../../hub/src/store/db.ts';
import { openStore, type Store } from '../../../hub/src/store/index.ts';
import { openPostgresDb } from '../../../hub/src/store/postgres.ts';
import { createSqlStore } from '../../../hub/src/store/store.ts';
import * as build from '../../../hub/test/reports.ts';
import { storeSuite } from '../../../hub/test/store-contract.ts';

const server = await startPostgres();
after(() => server.stop());
storeSuite('postgres', () =>
  openStore({ kind: 'postgres', connectionString: server.connectionString }),
);

/** How a replica's Db was used: batches committed and rolled back, transactions. */
interface Uses {
  batches: number;
  batchesRolledBack: number;
  txs: number;
}

/** A store on its own pool (another replica), counting how its Db is used. */
async function replica(): Promise<{ store: Store; uses: Uses }> {
  const db = openPostgresDb({ connectionString: server.connectionString });
  const uses: Uses = { batches: 0, batchesRolledBack: 0, txs: 0 };
  const counted: Db = {
    ...db,
    tx: (fn) => {
      uses.txs++;
      return db.tx(fn);
    },
    batch: async (statements) => {
      try {
        const rows = await db.batch!(statements);
        uses.batches++;
        return rows;
      } catch (err) {
        uses.batchesRolledBack++;
        throw err;
      }
    },
  };
  return { store: await createSqlStore(counted), uses };
}

const appReport = (app: string, health: 'healthy' | 'degraded') => build.appReport(app, { health });

describe('PostgreSQL ingest', () => {
  let a: { store: Store; uses: Uses };
  let b: { store: Store; uses: Uses };

  before(async () => {
    a = await replica();
    b = await replica();
  });

  after(async () => {
    await a?.store.close();
    await b?.store.close();
  });

  const enroll = async (store: Store, cluster: string) =>
    assert.equal(await build.enrollCluster(store, cluster), true);

  it('stores reports in order in one batch, and a batch after a replay the careful way', async () => {
    await enroll(a.store, 'one-trip');
    const before = { ...a.uses };
    const out = await a.store.ingestMany([
      { cluster: 'one-trip', seq: 1, report: appReport('web', 'healthy'), nowMs: 1 },
      { cluster: 'one-trip', seq: 2, report: build.syncReport('s1'), nowMs: 2 },
    ]);
    assert.deepEqual(
      out.map((o) => o.ok && o.result),
      [
        { applied: true, lastSeq: 1 },
        { applied: true, lastSeq: 2 },
      ],
    );
    assert.deepEqual(a.uses, { ...before, batches: before.batches + 1 });
    // Seq 2 again: not the one after the stored seq, so the batch is rolled back and each
    // report decided against the stored seq in a transaction.
    const again = await a.store.ingestMany([
      { cluster: 'one-trip', seq: 2, report: build.syncReport('s1'), nowMs: 3 },
      { cluster: 'one-trip', seq: 3, report: appReport('web', 'degraded'), nowMs: 4 },
    ]);
    assert.deepEqual(
      again.map((o) => o.ok && o.result),
      [
        { applied: false, lastSeq: 2 },
        { applied: true, lastSeq: 3 },
      ],
    );
    assert.deepEqual(a.uses, {
      batches: before.batches + 1,
      batchesRolledBack: before.batchesRolledBack + 1,
      txs: before.txs + 1,
    });
    assert.equal((await a.store.getCluster('one-trip'))?.lastAgentSeq, 3);
    assert.equal((await a.store.appHealth('one-trip', 'web'))?.health, 'degraded');
  });

  it('stores each seq of a cluster once when two replicas ingest overlapping reports at once', async () => {
    await enroll(a.store, 'two-replicas');
    const applied = new Map<number, number>();
    let next = 1;
    for (let round = 0; round < 30; round++) {
      // Replica a sends seqs next … next + 4, replica b next + 2 … next + 6, at the same time.
      const batch = (from: number, n: number) =>
        Array.from({ length: n }, (_, i) => ({
          cluster: 'two-replicas',
          seq: from + i,
          report: build.syncReport(`sync-${from + i}`),
          nowMs: from + i,
        }));
      const [x, y] = await Promise.all([
        a.store.ingestMany(batch(next, 5)),
        b.store.ingestMany(batch(next + 2, 5)),
      ]);
      for (const o of [...x, ...y])
        if (o.ok && o.result.applied)
          applied.set(o.result.lastSeq, (applied.get(o.result.lastSeq) ?? 0) + 1);
      next = (await a.store.getCluster('two-replicas'))!.lastAgentSeq + 1;
    }
    const last = next - 1;
    assert.ok(last >= 150, `every round stores at least 5 reports, got ${last} in 30`);
    for (let seq = 1; seq <= last; seq++)
      assert.equal(applied.get(seq), 1, `seq ${seq} applied ${applied.get(seq) ?? 0} times`);
    const history = await a.store.listHistory({ cluster: 'two-replicas', limit: 1000 });
    assert.equal(history.length, last);
  });
});
