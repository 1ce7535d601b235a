// Fleet-wide reads at fleet size, on the store alone (no agents): C clusters × 20 apps with
// D drift records each (half of them open), written straight into a migrated store, then
// the drift list (`listDrift`, what GET /api/v1/drift runs: open drift, newest first, 500 at
// most, four selectors in turn) and the apps list (all at once vs. the dashboard's first
// page). Each round measures the schema as migrated and, side by side, the same store with
// the migration-10 index dropped (the schema before it), interleaved; the query plans of both
// are printed (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL). Results go to
// docs/benchmarks.md ("Hub at fleet scale").
//   node --expose-gc test/bench/hub-drift-query.bench.ts [--clusters 10000] [--drifts 4]
//        [--queries 100] [--rounds 3] [--store sqlite|postgres]
// Every flag also reads HUB_DRIFT_<NAME> from the environment (e.g. HUB_DRIFT_CLUSTERS).
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgres } from '@driftless/test';
import type { Db } from '../../hub/src/store/db.ts';
import { migrate } from '../../hub/src/store/migrations.ts';
import { openPostgresDb } from '../../hub/src/store/postgres.ts';
import { reportStore } from '../../hub/src/store/reports.ts';
import { parseSelector } from '../../hub/src/store/selector.ts';
import { openSqliteDb } from '../../hub/src/store/sqlite.ts';

const env = (name: string, fallback: string) => process.env[`HUB_DRIFT_${name}`] ?? fallback;
const { values } = parseArgs({
  options: {
    clusters: { type: 'string', default: env('CLUSTERS', '10000') },
    drifts: { type: 'string', default: env('DRIFTS', '4') },
    queries: { type: 'string', default: env('QUERIES', '100') },
    rounds: { type: 'string', default: env('ROUNDS', '3') },
    store: { type: 'string', default: env('STORE', 'sqlite') },
  },
});
const CLUSTERS = Number(values.clusters);
const DRIFTS = Number(values.drifts);
const QUERIES = Number(values.queries);
const ROUNDS = Number(values.rounds);
const APPS = 20;
const SELECTORS = ['', 'env=prod', 'env=dev,region=eu', 'region=us'].map(parseSelector);
const INDEX = 'drifts_open_detected';
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
const name = (i: number) => `fleet-${String(i).padStart(5, '0')}`;

const pgServer = values.store === 'postgres' ? await startPostgres() : undefined;
const db: Db = pgServer
  ? openPostgresDb({ connectionString: pgServer.connectionString })
  : openSqliteDb({ path: join(mkdtempSync(join(tmpdir(), 'driftless-drift-bench-')), 'hub.db') });
await migrate(db);
const store = reportStore(db);

// 1. The fleet: clusters with labels, 20 apps each, DRIFTS drift records each (every other
// one healed), written in transactions of 250 clusters.
let t0 = performance.now();
for (let b = 0; b < CLUSTERS; b += 250)
  await db.tx(async (tx) => {
    for (let i = b; i < Math.min(CLUSTERS, b + 250); i++) {
      const labels = { env: i % 4 === 0 ? 'prod' : 'dev', region: i % 2 ? 'eu' : 'us' };
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
      for (let a = 0; a < APPS; a++)
        await tx.run(
          `INSERT INTO apps (cluster, app, revision, sync_status, health, updated_ms) VALUES (?, ?, ?, 'synced', 'healthy', ?)`,
          [name(i), `app-${String(a).padStart(2, '0')}`, 'a'.repeat(40), Date.now()],
        );
      for (let d = 0; d < DRIFTS; d++)
        await tx.run(
          `INSERT INTO drifts (cluster, drift_id, app, object_json, object_ref, drift_type, fields_json,
             changed_by, detected_ms, healed, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            name(i),
            `d${d}`,
            `app-${String(d % APPS).padStart(2, '0')}`,
            JSON.stringify({
              group: 'apps',
              version: 'v1',
              kind: 'Deployment',
              namespace: 'ns',
              name: `w${d}`,
            }),
            `apps/v1 Deployment ns/w${d}`,
            'modified',
            JSON.stringify([{ path: 'spec.replicas', desiredJson: '3', liveJson: '5' }]),
            'kubectl-edit',
            // Spread over time, so "newest first" is a real order, not insertion order.
            1_700_000_000_000 + ((i * 7919 + d * 104729) % (CLUSTERS * DRIFTS)) * 1000,
            d % 2,
            Date.now(),
          ],
        );
    }
  });
if (db.dialect === 'postgres') await db.exec('ANALYZE');
log(
  `${CLUSTERS} clusters × ${APPS} apps, ${CLUSTERS * DRIFTS} drifts written in ${Math.round(performance.now() - t0)} ms`,
);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1);
};
const median = (xs: number[]) => pct(xs, 0.5);
const summary = (xs: number[]) => ({ median: median(xs), min: pct(xs, 0), max: pct(xs, 1) });

/** CPU ms this process spent per drift query, per round (load on other cores barely moves it). */
const cpuPerQuery: { indexed: number[]; before: number[] } = { indexed: [], before: [] };

async function driftQueries(kind: 'indexed' | 'before'): Promise<number[]> {
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let k = 0; k < QUERIES; k++) {
    const q = performance.now();
    const rows = await store.listDrift({ selector: SELECTORS[k % 4], open: true, limit: 500 });
    ms.push(performance.now() - q);
    if (rows.length !== 500) throw new Error(`drift query returned ${rows.length} rows, not 500`);
  }
  const cpu = process.cpuUsage(cpu0);
  cpuPerQuery[kind].push((cpu.user + cpu.system) / 1000 / QUERIES);
  return ms;
}

async function plan(label: string): Promise<string[]> {
  const explain = db.dialect === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN';
  // The label makes the text new: a cached EXPLAIN statement keeps the plan it was made with.
  const sql = `${explain} /* ${label} */ SELECT * FROM drifts WHERE cluster IN (SELECT cluster FROM cluster_labels WHERE key = ? AND value = ?) AND healed = ? ORDER BY detected_ms DESC, cluster, drift_id LIMIT 500`;
  const rows = await db.all<Record<string, unknown>>(sql, ['env', 'prod', 0]);
  return rows.map((r) => String(r['detail'] ?? r['QUERY PLAN']));
}

const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const rounds: { indexed: { p50: number; p99: number }; before: { p50: number; p99: number } }[] =
  [];
const plans: Record<string, string[]> = {};
const loads: string[] = [await load()];
for (let r = 0; r < ROUNDS; r++) {
  // Interleaved: with the index, then the same store without it, then the index back.
  const indexed = await driftQueries('indexed');
  plans['indexed'] ??= await plan('indexed');
  await db.exec(`DROP INDEX ${INDEX}`);
  if (db.dialect === 'postgres') await db.exec('ANALYZE drifts');
  const before = await driftQueries('before');
  plans['before'] ??= await plan('before');
  await db.exec(`CREATE INDEX ${INDEX} ON drifts (healed, detected_ms DESC, cluster, drift_id)`);
  if (db.dialect === 'postgres') await db.exec('ANALYZE drifts');
  rounds.push({
    indexed: { p50: median(indexed), p99: pct(indexed, 0.99) },
    before: { p50: median(before), p99: pct(before, 0.99) },
  });
  loads.push(await load());
  log(`round ${r + 1}: ${JSON.stringify(rounds.at(-1))}`);
}

// 2. The apps list: every app at once (what the dashboard read before) vs. its first page.
const allApps: number[] = [];
const firstPage: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  t0 = performance.now();
  const all = await store.listApps({});
  allApps.push(performance.now() - t0);
  if (all.length !== CLUSTERS * APPS) throw new Error(`${all.length} apps, not ${CLUSTERS * APPS}`);
  t0 = performance.now();
  await store.listApps({ limit: 5000 });
  firstPage.push(performance.now() - t0);
}
loads.push(await load());

console.log(
  JSON.stringify(
    {
      store: db.dialect,
      clusters: CLUSTERS,
      apps: CLUSTERS * APPS,
      drifts: CLUSTERS * DRIFTS,
      openDrifts: Math.ceil(DRIFTS / 2) * CLUSTERS,
      queriesPerRound: QUERIES,
      driftQueryMs: {
        indexed: {
          p50: summary(rounds.map((r) => r.indexed.p50)),
          p99: summary(rounds.map((r) => r.indexed.p99)),
        },
        before: {
          p50: summary(rounds.map((r) => r.before.p50)),
          p99: summary(rounds.map((r) => r.before.p99)),
        },
      },
      // On SQLite the query runs in this process; on PostgreSQL most of it runs in the server.
      cpuMsPerQuery: {
        indexed: summary(cpuPerQuery.indexed),
        before: summary(cpuPerQuery.before),
      },
      plans,
      listAppsMs: { all: summary(allApps), firstPageOf5000: summary(firstPage) },
      loadAvg: loads,
    },
    null,
    2,
  ),
);
await db.close();
await pgServer?.stop();
