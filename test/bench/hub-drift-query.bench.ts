// Fleet-wide reads at fleet size, on the store alone (no agents): C clusters × 20 apps with
// D drift records each (half of them open), written straight into a migrated store, then
// the drift list (`listDrift`, what GET /api/v1/drift runs: open drift, newest first, 500 at
// most, four selectors in turn, plus a selector matching 10 clusters) and the apps list (all
// at once vs. the dashboard's first page). Each round runs this code's `listDrift` and, side
// by side and interleaved, the previous code's: its one SQL text with the selector as
// `IN (subquery)` terms (and on SQLite a connection with SQLite's default 2 MiB page cache),
// decoded by the same row reader; the query plans of both are printed (EXPLAIN QUERY PLAN on
// SQLite, EXPLAIN on PostgreSQL). Results go to docs/benchmarks.md ("Hub at fleet scale").
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
import { driftFromRow, reportStore } from '../../hub/src/store/reports.ts';
import { parseSelector, selectorSql } from '../../hub/src/store/selector.ts';
import type { SelectorTerm } from '../../hub/src/store/types.ts';
import { fleetClusterName, seedFleet } from './lib/fleet-seed.ts';
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
/** Carried by 10 clusters only: the list of a few clusters' drift. */
const RARE = parseSelector('team=rare');
const RARE_CLUSTERS = 10;
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
const name = fleetClusterName;

const pgServer = values.store === 'postgres' ? await startPostgres() : undefined;
const sqlitePath = join(mkdtempSync(join(tmpdir(), 'driftless-drift-bench-')), 'hub.db');
const db: Db = pgServer
  ? openPostgresDb({ connectionString: pgServer.connectionString })
  : openSqliteDb({ path: sqlitePath });
await migrate(db);
// The previous code's connection: on SQLite its own, with SQLite's default page cache.
const previousDb: Db = pgServer ? db : openSqliteDb({ path: sqlitePath, cacheMiB: 2000 / 1024 });
const store = reportStore(db);

// 1. The fleet: clusters with labels, 20 apps each, DRIFTS drift records each (every other
// one healed), written in transactions of 250 clusters.
let t0 = performance.now();
await seedFleet(db, { clusters: CLUSTERS, apps: APPS, drifts: DRIFTS });
for (let i = 0; i < RARE_CLUSTERS; i++)
  await db.run("INSERT INTO cluster_labels (cluster, key, value) VALUES (?, 'team', 'rare')", [
    name(Math.floor((i * CLUSTERS) / RARE_CLUSTERS)),
  ]);
if (db.dialect === 'postgres') await db.exec('ANALYZE');
log(
  `${CLUSTERS} clusters × ${APPS} apps, ${CLUSTERS * DRIFTS} drifts written in ${Math.round(performance.now() - t0)} ms`,
);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1);
};
const median = (xs: number[]) => pct(xs, 0.5);
const ratio = (xs: number[]) => +[...xs].sort((a, b) => a - b)[xs.length >> 1]!.toFixed(2);
const summary = (xs: number[]) => ({ median: median(xs), min: pct(xs, 0), max: pct(xs, 1) });

/** The previous code's listDrift: one SQL text, the selector as `IN (subquery)` terms. */
async function previousListDrift(selector: SelectorTerm[]) {
  const sel = selectorSql('cluster', selector);
  const rows = await previousDb.all<Record<string, unknown>>(
    `SELECT * FROM drifts WHERE ${sel.sql} AND healed = ? ORDER BY detected_ms DESC, cluster, drift_id LIMIT ?`,
    [...sel.params, 0, 500],
  );
  return rows.map(driftFromRow);
}

type Kind = 'current' | 'previous';
const list = (kind: Kind, selector: SelectorTerm[]) =>
  kind === 'current'
    ? store.listDrift({ selector, open: true, limit: 500 })
    : previousListDrift(selector);

/** CPU ms this process spent per drift query, per round (load on other cores barely moves it). */
const cpuPerQuery: Record<Kind, number[]> = { current: [], previous: [] };

async function driftQueries(kind: Kind): Promise<number[]> {
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let k = 0; k < QUERIES; k++) {
    const q = performance.now();
    const rows = await list(kind, SELECTORS[k % 4]!);
    ms.push(performance.now() - q);
    if (rows.length !== 500) throw new Error(`drift query returned ${rows.length} rows, not 500`);
  }
  const cpu = process.cpuUsage(cpu0);
  cpuPerQuery[kind].push((cpu.user + cpu.system) / 1000 / QUERIES);
  return ms;
}

/** The selector of 10 clusters: each of them has DRIFTS / 2 open drifts. */
async function rareQueries(kind: Kind): Promise<number[]> {
  const ms: number[] = [];
  for (let k = 0; k < 20; k++) {
    const q = performance.now();
    const rows = await list(kind, RARE);
    ms.push(performance.now() - q);
    const want = RARE_CLUSTERS * Math.ceil(DRIFTS / 2);
    if (rows.length !== want) throw new Error(`rare query returned ${rows.length}, not ${want}`);
  }
  return ms;
}

async function plan(label: string, where: string, params: unknown[]): Promise<string[]> {
  const explain = db.dialect === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN ANALYZE';
  // The label makes the text new: a cached EXPLAIN statement keeps the plan it was made with.
  const sql = `${explain} /* ${label} */ SELECT * FROM drifts WHERE ${where} ORDER BY ${label.includes('few') ? '+' : ''}detected_ms DESC, cluster, drift_id LIMIT 500`;
  const rows = await db.all<Record<string, unknown>>(sql, params as string[]);
  // An array constant of thousands of names is cut short.
  return rows.map((r) => String(r['detail'] ?? r['QUERY PLAN']).slice(0, 240));
}

const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
type Stats = { p50: number; p99: number };
const rounds: Record<Kind, Stats>[] = [];
const rare: Record<Kind, number[]> = { current: [], previous: [] };
const loads: string[] = [await load()];
for (let r = 0; r < ROUNDS; r++) {
  // Interleaved, and the order swapped every round.
  const order: Kind[] = r % 2 ? ['previous', 'current'] : ['current', 'previous'];
  const ms = {} as Record<Kind, number[]>;
  for (const kind of order) ms[kind] = await driftQueries(kind);
  for (const kind of order) rare[kind].push(...(await rareQueries(kind)));
  rounds.push({
    current: { p50: median(ms.current), p99: pct(ms.current, 0.99) },
    previous: { p50: median(ms.previous), p99: pct(ms.previous, 0.99) },
  });
  loads.push(await load());
  log(`round ${r + 1}: ${JSON.stringify(rounds.at(-1))} load ${loads.at(-1)}`);
}

// The plans of `env=prod` and of the 10-cluster selector, previous and current.
const prodIn = selectorSql('cluster', parseSelector('env=prod'));
const rareIn = selectorSql('cluster', RARE);
const plans: Record<string, string[]> = {
  'previous env=prod': await plan('previous', `${prodIn.sql} AND healed = ?`, [
    ...prodIn.params,
    0,
  ]),
  'previous team=rare': await plan('previous rare', `${rareIn.sql} AND healed = ?`, [
    ...rareIn.params,
    0,
  ]),
};
if (db.dialect === 'sqlite') {
  const { selectorProbeSql } = await import('../../hub/src/store/selector-plan.ts');
  const probe = selectorProbeSql('drifts.cluster', parseSelector('env=prod'));
  plans['current env=prod'] = await plan('current', `${probe.sql} AND healed = ?`, [
    ...probe.params,
    0,
  ]);
  plans['current team=rare'] = await plan('current few', `${rareIn.sql} AND +healed = ?`, [
    ...rareIn.params,
    0,
  ]);
} else {
  const names = async (terms: SelectorTerm[]) => {
    const where = selectorSql('name', terms);
    const row = await db.get<{ names: string }>(
      `SELECT array_agg(name)::text AS names FROM clusters WHERE ${where.sql}`,
      where.params,
    );
    return row!.names;
  };
  plans['current env=prod'] = await plan('current', 'cluster = ANY(?::text[]) AND healed = ?', [
    await names(parseSelector('env=prod')),
    0,
  ]);
  plans['current team=rare'] = await plan(
    'current rare',
    'cluster = ANY(?::text[]) AND healed = ?',
    [await names(RARE), 0],
  );
}

// 2. What the dashboard reads before its first paint: the clusters list, and the first page of
// apps (5,000 before, 1,000 now). Every app at once (18–37 s under load) is no longer read.
const clusterStore = (await import('../../hub/src/store/clusters.ts')).clusterStore(db);
const appReads: Record<'clusters' | 'page5000' | 'page1000', number[]> = {
  clusters: [],
  page5000: [],
  page1000: [],
};
for (let r = 0; r < ROUNDS; r++) {
  t0 = performance.now();
  const clusters = await clusterStore.listClusters();
  appReads.clusters.push(performance.now() - t0);
  if (clusters.length !== CLUSTERS) throw new Error(`${clusters.length} clusters`);
  for (const [key, limit] of [
    ['page5000', 5000],
    ['page1000', 1000],
  ] as const) {
    t0 = performance.now();
    const page = await store.listApps({ limit });
    appReads[key].push(performance.now() - t0);
    if (page.length !== limit) throw new Error(`${page.length} apps, not ${limit}`);
  }
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
        current: {
          p50: summary(rounds.map((r) => r.current.p50)),
          p99: summary(rounds.map((r) => r.current.p99)),
        },
        previous: {
          p50: summary(rounds.map((r) => r.previous.p50)),
          p99: summary(rounds.map((r) => r.previous.p99)),
        },
        ratioP50: ratio(rounds.map((r) => r.current.p50 / r.previous.p50)),
        ratioP99: ratio(rounds.map((r) => r.current.p99 / r.previous.p99)),
      },
      // 20 queries a round of the selector that 10 clusters match: p50 and max over all rounds.
      rareSelectorMs: {
        current: { p50: median(rare.current), max: pct(rare.current, 1) },
        previous: { p50: median(rare.previous), max: pct(rare.previous, 1) },
      },
      // On SQLite the query runs in this process; on PostgreSQL most of it runs in the server.
      cpuMsPerQuery: {
        current: summary(cpuPerQuery.current),
        previous: summary(cpuPerQuery.previous),
      },
      plans,
      listMs: {
        clusters: summary(appReads.clusters),
        appsFirstPageOf5000: summary(appReads.page5000),
        appsFirstPageOf1000: summary(appReads.page1000),
      },
      loadAvg: loads,
    },
    null,
    2,
  ),
);
if (previousDb !== db) await previousDb.close();
await db.close();
await pgServer?.stop();
