import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MIGRATIONS, migrate } from './migrations.ts';
import { reportStore } from './reports.ts';
import { openSqliteDb } from './sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'driftless-migrate-10-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('migration 10 upgrades a store holding drift, and the drift list answers the same', async () => {
  const db = openSqliteDb({ path: join(dir, 'hub.db') });
  try {
    // A hub from before migration 10, with drift of two clusters.
    await migrate(
      db,
      MIGRATIONS.filter((m) => m.version < 10),
    );
    for (const [cluster, env] of [
      ['a', 'prod'],
      ['b', 'dev'],
    ] as const)
      await db.tx(async (tx) => {
        await tx.run('INSERT INTO clusters (name) VALUES (?)', [cluster]);
        await tx.run("INSERT INTO cluster_labels (cluster, key, value) VALUES (?, 'env', ?)", [
          cluster,
          env,
        ]);
        for (let d = 0; d < 6; d++)
          await tx.run(
            `INSERT INTO drifts (cluster, drift_id, app, object_json, object_ref, drift_type,
               fields_json, changed_by, detected_ms, healed, updated_ms)
             VALUES (?, ?, 'web', '{}', 'ref', 'modified', '[]', 'kubectl', ?, ?, 1)`,
            [cluster, `d${d}`, 100 + (d % 3), d % 2],
          );
      });
    const store = reportStore(db);
    const list = async () =>
      (
        await store.listDrift({ open: true, selector: [{ key: 'env', op: '=', value: 'prod' }] })
      ).map((d) => `${d.cluster}/${d.driftId}@${d.detectedMs}`);
    const before = await list();
    assert.deepEqual(await migrate(db), [
      10,
      ...MIGRATIONS.filter((m) => m.version > 10).map((m) => m.version),
    ]);
    assert.deepEqual(await list(), before);
    assert.deepEqual(
      before,
      ['a/d4@101', 'a/d0@100', 'a/d2@102'].sort(
        (x, y) => Number(y.split('@')[1]) - Number(x.split('@')[1]),
      ),
    );
    const index = await db.get(
      "SELECT name FROM sqlite_master WHERE name = 'drifts_open_detected'",
    );
    assert.ok(index, 'the index exists after the upgrade');
  } finally {
    await db.close();
  }
});
