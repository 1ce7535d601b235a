// Keyset paging of the clusters list and the config states of a page's name range: run on
// SQLite (hub/src/store/cluster-page.test.ts) and on PostgreSQL
// (test/integration/hub/cluster-page-postgres.test.ts). Every page is compared with the same
// filter and order computed here from the rows written.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clusterStore } from '../src/store/clusters.ts';
import { listConfigStates, upsertConfigState } from '../src/store/config-state.ts';
import type { Db } from '../src/store/db.ts';
import { migrate } from '../src/store/migrations.ts';
import { parseSelector } from '../src/store/selector.ts';

const CLUSTERS = 57;
// Names whose byte order and number order differ, so the store's order is the one checked.
const name = (i: number) => `pg-${i % 3 === 0 ? 'a' : 'b'}-${i}`;
const labelsOf = (i: number): Record<string, string> => ({ env: i % 2 ? 'prod' : 'dev' });

/** Registers the cluster paging tests; `open` gives a fresh, empty database. */
export function clusterPageSuite(label: string, open: () => Promise<Db>): void {
  void describe(`cluster pages: ${label}`, () => {
    let db: Db;
    const names: string[] = [];
    before(async () => {
      db = await open();
      await migrate(db);
      await db.tx(async (tx) => {
        for (let i = 0; i < CLUSTERS; i++) {
          names.push(name(i));
          await tx.run('INSERT INTO clusters (name, labels_json) VALUES (?, ?)', [
            name(i),
            JSON.stringify(labelsOf(i)),
          ]);
          for (const [key, value] of Object.entries(labelsOf(i)))
            await tx.run('INSERT INTO cluster_labels (cluster, key, value) VALUES (?, ?, ?)', [
              name(i),
              key,
              value,
            ]);
          // Every other cluster has reported its config state.
          if (i % 2 === 0)
            await upsertConfigState(
              tx,
              name(i),
              {
                revision: `rev-${i}`,
                valid: true,
                error: '',
                file: '',
                line: 0,
                appliedRevision: `rev-${i}`,
                checkedMs: 1000 + i,
              },
              2000,
            );
        }
      });
      names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    });
    after(async () => {
      await db.close();
    });

    /** Reads every page of `limit` and returns the names in the order they came. */
    async function walk(limit: number, selector = ''): Promise<string[][]> {
      const store = clusterStore(db);
      const pages: string[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.listClusters(parseSelector(selector), { after, limit });
        pages.push(page.map((c) => c.name));
        if (page.length < limit) return pages;
        after = page.at(-1)!.name;
      }
    }

    void it('pages through every cluster once, in the order of the whole list', async () => {
      const whole = (await clusterStore(db).listClusters()).map((c) => c.name);
      assert.deepEqual(whole, names);
      for (const limit of [1, 10, 19, 57, 100]) {
        const pages = await walk(limit);
        assert.deepEqual(pages.flat(), names, `limit ${limit}`);
        for (const p of pages.slice(0, -1)) assert.equal(p.length, limit);
      }
    });

    void it('pages a selector the same way', async () => {
      const prod = names.filter((n) => Number(n.split('-')[2]) % 2 === 1);
      assert.deepEqual((await walk(7, 'env=prod')).flat(), prod);
    });

    void it('starts after a name that is not a cluster, in name order', async () => {
      const page = await clusterStore(db).listClusters([], { after: 'pg-a-5', limit: 3 });
      assert.deepEqual(
        page.map((c) => c.name),
        names.filter((n) => n > 'pg-a-5').slice(0, 3),
      );
      assert.deepEqual(await clusterStore(db).listClusters([], { after: 'pg-z', limit: 3 }), []);
    });

    void it("reads the config states of a page's name range and no other", async () => {
      const [, second] = await walk(10);
      const afterName = names[names.indexOf(second![0]!) - 1]!;
      const states = await listConfigStates(db, {
        names: { after: afterName, through: second!.at(-1)! },
      });
      const reported = second!.filter((n) => Number(n.split('-')[2]) % 2 === 0);
      assert.deepEqual(
        states.map((s) => s.cluster),
        reported,
      );
      for (const s of states) assert.equal(s.revision, `rev-${s.cluster.split('-')[2]}`);
      const all = await listConfigStates(db, {});
      assert.equal(all.length, Math.ceil(CLUSTERS / 2));
    });
  });
}
