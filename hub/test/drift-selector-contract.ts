// The drift list's label selectors at a size where the store picks each of its plans (see
// hub/src/store/selector-plan.ts): run on SQLite (hub/src/store/selector-plan.test.ts) and on
// PostgreSQL (test/integration/hub/selector-plan-postgres.test.ts). Every answer is compared
// with the same filter and order computed here from the rows written.
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import type { Db } from '../src/store/db.ts';
import { migrate } from '../src/store/migrations.ts';
import { reportStore } from '../src/store/reports.ts';
import { parseSelector } from '../src/store/selector.ts';
import { SELECTOR_PLAN_DEFAULTS } from '../src/store/selector-plan.ts';

/** More clusters than count as few, so broad selectors take the other plan. */
const CLUSTERS = SELECTOR_PLAN_DEFAULTS.fewClusters * 2 + 200;

const name = (i: number) => `sel-${String(i).padStart(4, '0')}`;
const labelsOf = (i: number): Record<string, string> => ({
  env: i % 4 === 0 ? 'prod' : 'dev',
  region: i % 2 ? 'eu' : 'us',
  ...(i % 3 === 0 ? { gpu: '' } : {}),
  ...(i % 150 === 0 ? { team: 'rare' } : {}),
});

interface Written {
  cluster: string;
  driftId: string;
  detectedMs: number;
  healed: boolean;
  labels: Record<string, string>;
}

/** What the selector terms say of one cluster's labels (the documented semantics). */
function matches(labels: Record<string, string>, selector: string): boolean {
  return parseSelector(selector).every((t) => {
    const has = Object.hasOwn(labels, t.key);
    switch (t.op) {
      case '=':
        return has && labels[t.key] === t.value;
      case '!=':
        return !has || labels[t.key] !== t.value;
      case 'exists':
        return has;
      case '!exists':
        return !has;
    }
  });
}

/** Registers the tests; `open` gives a fresh, empty database each call. */
export function driftSelectorSuite(name_: string, open: () => Promise<Db>): void {
  void describe(`drift list selectors at ${CLUSTERS} clusters: ${name_}`, () => {
    let db: Db;
    const written: Written[] = [];
    before(async () => {
      db = await open();
      await migrate(db);
      await db.tx(async (tx) => {
        for (let i = 0; i < CLUSTERS; i++) {
          const labels = labelsOf(i);
          await tx.run('INSERT INTO clusters (name, labels_json) VALUES (?, ?)', [
            name(i),
            JSON.stringify(labels),
          ]);
          for (const [key, value] of Object.entries(labels))
            await tx.run('INSERT INTO cluster_labels (cluster, key, value) VALUES (?, ?, ?)', [
              name(i),
              key,
              value,
            ]);
          for (let d = 0; d < 2; d++) {
            // Few distinct times, so ties are ordered by cluster and drift id.
            const w = {
              cluster: name(i),
              driftId: `d${d}`,
              detectedMs: 1000 + ((i * 7 + d * 13) % 50),
              healed: (i + d) % 3 === 0,
              labels,
            };
            written.push(w);
            await tx.run(
              `INSERT INTO drifts (cluster, drift_id, app, object_json, object_ref, drift_type,
                 fields_json, changed_by, detected_ms, healed, updated_ms)
               VALUES (?, ?, 'web', '{}', 'ref', 'modified', '[]', 'kubectl', ?, ?, 1)`,
              [w.cluster, w.driftId, w.detectedMs, w.healed ? 1 : 0],
            );
          }
        }
      });
    });
    after(async () => {
      await db.close();
    });

    const want = (selector: string, open: boolean | undefined, limit: number) =>
      written
        .filter((d) => open === undefined || d.healed !== open)
        .filter((d) => matches(d.labels, selector))
        .sort(
          (a, b) =>
            b.detectedMs - a.detectedMs ||
            (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0) ||
            (a.driftId < b.driftId ? -1 : a.driftId > b.driftId ? 1 : 0),
        )
        .slice(0, limit)
        .map((d) => `${d.cluster}/${d.driftId}`);

    void it('answers every kind of selector with the rows of exactly the matching clusters', async () => {
      const store = reportStore(db);
      const selectors = [
        '', // no selector
        'env=dev', // many clusters
        'env=prod', // fewer than half
        'team=rare', // a few clusters
        'gpu', // a label present
        '!gpu', // absent: no term requires a label
        'env!=prod',
        'env=dev,region=eu', // two broad terms
        'env=dev,team=rare', // a broad and a narrow term
        'gpu,region!=eu,!team',
        'nosuch=label', // no cluster
        'env=staging', // a key some carry, a value none has
      ];
      for (const selector of selectors)
        for (const open of [true, false, undefined])
          for (const limit of [7, 500]) {
            const got = await store.listDrift({ selector: parseSelector(selector), open, limit });
            assert.deepEqual(
              got.map((d) => `${d.cluster}/${d.driftId}`),
              want(selector, open, limit),
              `selector "${selector}" open=${open} limit=${limit}`,
            );
          }
      // With a cluster or an app as well.
      const one = await store.listDrift({
        selector: parseSelector('team=rare'),
        cluster: name(150),
        open: undefined,
      });
      assert.deepEqual(
        one.map((d) => `${d.cluster}/${d.driftId}`),
        want('team=rare', undefined, 500).filter((k) => k.startsWith(`${name(150)}/`)),
      );
      assert.equal(one.length, 2);
    });
  });
}
