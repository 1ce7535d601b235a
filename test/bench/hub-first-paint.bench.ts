// The dashboard's first paint at fleet size, store only (no agents): C clusters × 20 apps
// (and 4 drift records each) written straight into a migrated store, a real `driftless-hub`
// process started on it, and Chromium signing in and waiting for the first row of the fleet
// matrix (a fresh browser context each time). Side by side, interleaved: this code's hub and
// dashboard, and the previous code's (`--previous`, a git revision: its `hub/` extracted into
// a temporary directory, its dashboard built there), each on its own store seeded alike. Prints wall
// clock and the hub's CPU ms per paint (from /proc), median (min–max), and the load.
// Results go to docs/benchmarks.md ("Hub at fleet scale").
//   node --expose-gc test/bench/hub-first-paint.bench.ts [--clusters 10000] [--samples 3]
//        [--store sqlite|postgres] [--previous 9da174a]
// Every flag also reads HUB_PAINT_<NAME> from the environment (e.g. HUB_PAINT_CLUSTERS).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { startPostgres } from '@driftless/test';
import { migrate } from '../../hub/src/store/migrations.ts';
import { openPostgresDb } from '../../hub/src/store/postgres.ts';
import { openSqliteDb } from '../../hub/src/store/sqlite.ts';
import { launchBrowser, newPage } from '../browser/fleet.ts';
import { fleetClusterName, seedFleet } from './lib/fleet-seed.ts';
import { cpuSeconds, machineLoad, spread } from './lib/measure.ts';

const env = (name: string, fallback: string) => process.env[`HUB_PAINT_${name}`] ?? fallback;
const { values } = parseArgs({
  options: {
    clusters: { type: 'string', default: env('CLUSTERS', '10000') },
    samples: { type: 'string', default: env('SAMPLES', '3') },
    store: { type: 'string', default: env('STORE', 'sqlite') },
    previous: { type: 'string', default: env('PREVIOUS', '9da174a') },
  },
});
const CLUSTERS = Number(values.clusters);
const SAMPLES = Number(values.samples);
const ROOT = resolve(import.meta.dirname, '../..');
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

type Kind = 'current' | 'previous';

/** Builds the dashboard in `webDir` (its dist/ is what the hub beside it serves). */
function buildDashboard(webDir: string): void {
  const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], {
    cwd: webDir,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`vite build in ${webDir} failed`);
}

/**
 * The previous code's hub/ at `rev`, extracted into a temporary directory whose node_modules
 * link to this repository's (so its imports resolve alike), with its dashboard built.
 */
function previousHub(rev: string): string {
  const dir = join(tmpdir(), `driftless-paint-previous-${rev.replace(/[^\w.-]/g, '_')}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = spawnSync(
    'sh',
    ['-c', `git archive ${rev} hub tsconfig.base.json | tar -x -C ${dir}`],
    { cwd: ROOT, stdio: 'inherit' },
  );
  if (archive.status !== 0) throw new Error(`git archive ${rev} hub tsconfig.base.json failed`);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  if (existsSync(join(ROOT, 'hub/node_modules')))
    symlinkSync(join(ROOT, 'hub/node_modules'), join(dir, 'hub/node_modules'));
  buildDashboard(join(dir, 'hub/web'));
  return join(dir, 'hub/bin/driftless-hub.ts');
}

interface Hub {
  http: string;
  token: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a hub binary on its data directory (and database) and waits for "listening". */
async function startHub(bin: string, dataDir: string, databaseUrl?: string): Promise<Hub> {
  const keyFile = join(dataDir, 'bench-secrets.key');
  writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  const args = [
    bin,
    ...['--data-dir', dataDir, '--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0'],
    ...(databaseUrl
      ? ['--store', 'postgres', '--database-url', databaseUrl, '--secrets-key-file', keyFile]
      : ['--store', 'sqlite']),
  ];
  const proc = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn', OTEL_TRACES_EXPORTER: 'none' },
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Both lines come on a new store, in either order.
  let token = '';
  let http = '';
  await new Promise<void>((ok, fail) => {
    proc.once('exit', (code) => fail(new Error(`${bin} exited with ${code}: ${stderr}`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const ev = JSON.parse(line) as { event: string; http: string; token: string };
      if (ev.event === 'bootstrap-admin-token') token = ev.token;
      if (ev.event === 'listening') http = ev.http;
      if (token && http) ok();
    });
  });
  return {
    http,
    token,
    proc,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await done;
    },
  };
}

/** A store seeded with the fleet: a SQLite file in `dataDir`, or a new PostgreSQL database. */
async function seededStore(
  dataDir: string,
  kind: Kind,
  pgUrl?: string,
): Promise<string | undefined> {
  let url: string | undefined;
  if (pgUrl) {
    const admin = openPostgresDb({ connectionString: pgUrl });
    await admin.exec(`CREATE DATABASE paint_${kind}`);
    await admin.close();
    url = pgUrl.replace(/\/[^/]*$/, `/paint_${kind}`);
  }
  const db = url
    ? openPostgresDb({ connectionString: url })
    : openSqliteDb({ path: join(dataDir, 'hub.db') });
  await migrate(db);
  await seedFleet(db, { clusters: CLUSTERS, apps: 20, drifts: 4 });
  await db.close();
  return url;
}

/** What one first paint took: ms from navigation, and from the sign-in click. */
interface Paint {
  total: number;
  afterSignIn: number;
  /** The API reads before the first row: path → ms (Resource Timing, in the browser). */
  reads: Record<string, number>;
}

/** Signs in through the form and waits for the first cluster's row. */
async function firstPaint(page: Page, hub: Hub): Promise<Paint> {
  const t0 = performance.now();
  await page.goto(hub.http + '/');
  await page.getByLabel('API token').fill(hub.token);
  const t1 = performance.now();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator(`tr[data-cluster="${fleetClusterName(0)}"]`).waitFor({ timeout: 180_000 });
  const t2 = performance.now();
  const entries = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .filter((e) => e.name.includes('/api/v1/clusters') || e.name.includes('/api/v1/apps'))
      .map((e) => [new URL(e.name).pathname + new URL(e.name).search, e.duration] as const),
  );
  return { total: t2 - t0, afterSignIn: t2 - t1, reads: Object.fromEntries(entries.slice(0, 3)) };
}

const pgServer = values.store === 'postgres' ? await startPostgres() : undefined;
const hubs = {} as Record<Kind, Hub>;
const loads: string[] = [machineLoad()];
try {
  log(`building this code's dashboard and the previous one (${values.previous})`);
  buildDashboard(join(ROOT, 'hub/web'));
  const bins: Record<Kind, string> = {
    current: join(ROOT, 'hub/bin/driftless-hub.ts'),
    previous: previousHub(values.previous),
  };
  for (const kind of ['current', 'previous'] as const) {
    const dataDir = mkdtempSync(join(tmpdir(), `driftless-paint-${kind}-`));
    const t0 = performance.now();
    const url = await seededStore(dataDir, kind, pgServer?.connectionString);
    log(
      `${kind}: ${CLUSTERS} clusters × 20 apps written in ${Math.round(performance.now() - t0)} ms`,
    );
    hubs[kind] = await startHub(bins[kind], dataDir, url);
  }
  loads.push(machineLoad());

  const browser = await launchBrowser();
  const wall: Record<Kind, number[]> = { current: [], previous: [] };
  const afterSignIn: Record<Kind, number[]> = { current: [], previous: [] };
  const cpu: Record<Kind, number[]> = { current: [], previous: [] };
  try {
    for (let k = 0; k < SAMPLES; k++) {
      // Interleaved, the order swapped every sample.
      for (const kind of k % 2
        ? (['previous', 'current'] as const)
        : (['current', 'previous'] as const)) {
        const hub = hubs[kind];
        const { context, page } = await newPage(browser);
        const cpu0 = cpuSeconds(hub.proc.pid!);
        const paint = await firstPaint(page, hub);
        cpu[kind].push((cpuSeconds(hub.proc.pid!) - cpu0) * 1000);
        wall[kind].push(paint.total);
        afterSignIn[kind].push(paint.afterSignIn);
        await context.close();
        log(
          `${kind} sample ${k + 1}: ${Math.round(paint.total)} ms (${Math.round(paint.afterSignIn)} after sign-in), hub CPU ${Math.round(cpu[kind].at(-1)!)} ms, reads ${JSON.stringify(paint.reads, (_, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}`,
        );
      }
      loads.push(machineLoad());
    }
  } finally {
    await browser.close();
  }
  const ms = (v: number) => `${Math.round(v)} ms`;
  console.log(
    JSON.stringify(
      {
        store: values.store,
        clusters: CLUSTERS,
        apps: CLUSTERS * 20,
        previous: values.previous,
        samples: SAMPLES,
        firstPaint: { current: spread(wall.current, ms), previous: spread(wall.previous, ms) },
        // From the sign-in click to the first row: what the dashboard's reads and render take.
        afterSignIn: {
          current: spread(afterSignIn.current, ms),
          previous: spread(afterSignIn.previous, ms),
        },
        // The hub's CPU (user + system, 10 ms ticks) from sign-in to the first row.
        hubCpuPerPaint: { current: spread(cpu.current, ms), previous: spread(cpu.previous, ms) },
        load: loads,
      },
      null,
      2,
    ),
  );
} finally {
  for (const hub of Object.values(hubs)) await hub.stop();
  await pgServer?.stop();
}
