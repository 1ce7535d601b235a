// Commit → applied in both clusters, end to end with the real processes: the environment of
// `make demo` (two workloads clusters, the Git server, `driftless-hub` on SQLite, two
// `driftless-agent run` processes over gRPC+mTLS, or NATS with BENCH_TRANSPORT=nats). Each run
// commits a new label on the podinfo Namespace (infrastructure/, an auto app in both clusters)
// and times, from the moment the commit is in the repository, (a) until both clusters' API
// servers show the label (a watch on Namespaces in each cluster, so the bench adds no polling
// load while the agents work) and (b) until the hub's API shows both clusters' infrastructure
// app Synced at the commit (polled every 10 ms once (a) is reached).
//
// Two modes, each in its own fresh environment:
//   webhook  agents poll every 1m; each commit is followed by a signed GitHub-style push
//            delivery to the hub, which sends the agents a RefreshHint (the webhook POST is
//            inside the measured time). The agents log at debug level, and the bench reads
//            back from the hub's and the agents' logs where each run's time went (hint, ls-refs,
//            fetch, config, ownership, render, guard, plan, apply), per cluster.
//            With BENCH_BASELINE=<tree> (another checkout of this repository with its
//            node_modules, e.g. main), a second environment runs that tree's agents, and the
//            runs alternate between the two, so both see the same machine load.
//   polling  no webhook (the receiver is off); agents poll every 10 s, the shortest interval
//            we would suggest for a real fleet, so the expected wait is half of that.
// A random 0–2 s pause comes before each commit; in polling mode each commit thus lands soon after
// the poll that found the previous one, so polling numbers are near the worst case (one interval).
// With BENCH_APPS=N (webhook mode), N more apps (a Namespace and 9 ConfigMaps each, from one
// repository) run in the dev cluster, and each run changes one of them (a label on its
// Namespace): the time is from the commit until dev's API server shows that app's change, and
// until the hub shows every app of dev at the commit (the changed one applied, the others
// carried forward or planned again).
// Results go to docs/benchmarks.md ("End to end").
//
//   node --expose-gc test/bench/e2e-commit-to-applied.bench.ts   (BENCH_RUNS=N, default 10;
//   BENCH_POLL_INTERVAL=10s; BENCH_MODES=webhook,polling; BENCH_TRANSPORT=grpc|nats;
//   BENCH_BASELINE=/path/to/other/tree; BENCH_APPS=N)
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient } from '@driftless/agent';
import {
  startEnvironment,
  waitFor,
  type Environment,
  type EnvironmentTransport,
} from '../demo/environment.ts';
import { fleetFiles } from '../demo/fleet.ts';
import {
  agentMilestones,
  hubHintAt,
  phaseTable,
  readLog,
  spread,
  type Milestone,
} from './e2e-breakdown.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 10);
const POLL_INTERVAL = process.env['BENCH_POLL_INTERVAL'] ?? '10s';
const MODES = (process.env['BENCH_MODES'] ?? 'webhook,polling').split(',');
const TRANSPORT = (process.env['BENCH_TRANSPORT'] ?? 'grpc') as EnvironmentTransport;
const BASELINE = process.env['BENCH_BASELINE'];
const CLUSTERS = ['dev', 'prod'] as const;
const APP = 'infrastructure';
const APPS = Number(process.env['BENCH_APPS'] ?? 0);
/** The bench's own apps, in the dev cluster only. */
const benchApp = (k: number) => `bench-${k}`;
const benchFiles = (k: number, label = '') =>
  [
    `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${benchApp(k)}\n  labels:\n    bench-run: "${label}"\n`,
    ...Array.from(
      { length: 9 },
      (_, i) =>
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c${i}\n  namespace: ${benchApp(k)}\ndata:\n  i: "${i}"\n`,
    ),
  ].join('---\n');

const namespace = (run: string) =>
  `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n  labels:\n    team: web\n    bench-run: "${run}"\n`;

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** One environment under test: its agents' build and what its runs measured. */
interface Subject {
  name: string;
  env: Environment;
  kube: KubeClient[];
  /** Per cluster: when each `bench-run` label was first seen by the watch, ms since the epoch. */
  seen: Map<string, number>[];
  stopWatches: AbortController;
  applied: number[];
  hub: number[];
  /** Per cluster and run: the milestones from the commit to the apply, then the rest. */
  phases: Milestone[][];
  after: Milestone[][];
}

async function open(
  name: string,
  mode: 'webhook' | 'polling',
  agentBin?: string,
): Promise<Subject> {
  const env = await startEnvironment({
    webhook: mode === 'webhook',
    pollInterval: mode === 'webhook' ? '1m' : POLL_INTERVAL,
    transport: TRANSPORT,
    agentLogLevel: 'debug',
    ...(agentBin ? { agentBin } : {}),
  });
  const kube = await Promise.all(
    CLUSTERS.map((c) => KubeClient.fromKubeConfig(env.clusters[c].kubeConfig)),
  );
  const head = await env.repo.head();
  await waitFor(
    `${name}: the fleet at its first commit`,
    async () =>
      (await env.apps()).filter(
        (a) => a.app === APP && a.revision === head && a.syncStatus === 'synced',
      ).length === 2
        ? true
        : undefined,
    { timeoutMs: 120_000 },
  );
  if (APPS > 0) await addBenchApps(name, env);
  const stopWatches = new AbortController();
  const seen = await Promise.all(kube.map((client) => watchLabels(client, stopWatches.signal)));
  return { name, env, kube, seen, stopWatches, applied: [], hub: [], phases: [], after: [] };
}

/**
 * Watches the cluster's Namespaces and records when podinfo first shows each `bench-run` label
 * (key: the label), and when a bench app's Namespace does (key: `<namespace>/<label>`).
 */
async function watchLabels(client: KubeClient, signal: AbortSignal): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const { resourceVersion } = await client.list('v1', 'Namespace');
  void client
    .watch('v1', 'Namespace', { resourceVersion, signal, timeoutSeconds: 3600 }, (event) => {
      const at = Date.now();
      const meta = (
        event.object as { metadata?: { name?: string; labels?: Record<string, string> } }
      ).metadata;
      const label = meta?.labels?.['bench-run'];
      if (label === undefined || label === '') return;
      const key = meta?.name === 'podinfo' ? label : `${meta?.name ?? ''}/${label}`;
      if (!seen.has(key)) seen.set(key, at);
    })
    .catch((err: unknown) => {
      if (!signal.aborted) console.error(`namespace watch ended: ${String(err)}`);
    });
  return seen;
}

/** Commits BENCH_APPS apps into the dev cluster's driftless.yaml and waits until all are Synced. */
async function addBenchApps(name: string, env: Environment): Promise<void> {
  const files: Record<string, string> = {};
  let entries = '';
  for (let k = 1; k <= APPS; k++) {
    files[`bench/${benchApp(k)}/objects.yaml`] = benchFiles(k);
    entries += `    - name: ${benchApp(k)}\n      path: bench/${benchApp(k)}\n      namespace: ${benchApp(k)}\n      prune: true\n`;
  }
  files['clusters/dev/driftless.yaml'] = fleetFiles()['clusters/dev/driftless.yaml'] + entries;
  const sha = await env.commit(files, `bench: ${APPS} apps in dev`);
  await waitFor(
    `${name}: ${APPS} bench apps Synced in dev`,
    async () =>
      (await env.apps()).filter(
        (a) =>
          a.cluster === 'dev' &&
          a.app.startsWith('bench-') &&
          a.revision === sha &&
          a.syncStatus === 'synced',
      ).length === APPS
        ? true
        : undefined,
    { timeoutMs: 600_000, everyMs: 500 },
  );
}

async function close(s: Subject): Promise<void> {
  s.stopWatches.abort();
  for (const client of s.kube) client.close();
  await s.env.stop();
}

/**
 * One commit in `s` that changes the bench app `k` only, timed until dev's API server shows it
 * and until the hub shows every app of dev at the commit.
 */
async function runOneOfMany(s: Subject, label: string, k: number): Promise<void> {
  const { env } = s;
  const app = benchApp(k);
  const sha = await env.repo.commit(
    { [`bench/${app}/objects.yaml`]: benchFiles(k, label) },
    `bench ${label}: ${app}`,
  );
  const t0 = Date.now();
  await env.commitDelivered(sha);
  const seen = await waitFor(
    `${s.name} run ${label} applied`,
    () => s.seen[0]!.get(`${app}/${label}`),
    { timeoutMs: 120_000, everyMs: 2 },
  );
  const hubAt = await waitFor(
    `${s.name} run ${label}: every app of dev at the commit on the hub`,
    async () => {
      const dev = (await env.apps()).filter((a) => a.cluster === 'dev');
      return dev.every((a) => a.revision === sha && a.syncStatus === 'synced')
        ? Date.now()
        : undefined;
    },
    { timeoutMs: 120_000, everyMs: 10 },
  );
  s.applied.push(seen - t0);
  s.hub.push(hubAt - t0);
  const hinted = hubHintAt(readLog(env.hub.process.logPath), sha);
  const { before, after } = agentMilestones(readLog(env.agents.dev.process.logPath), sha, app);
  s.phases.push([
    { name: 'commit', at: t0 },
    ...(hinted ? [{ name: 'webhook POST → hints sent', at: hinted }] : []),
    ...before,
    { name: 'applied, seen by the watch', at: seen },
  ]);
  s.after.push([
    before.at(-1) ?? { name: 'commit', at: t0 },
    ...after,
    { name: 'every app of dev at the commit on the hub', at: hubAt },
  ]);
  console.log(
    `${s.name} run ${label} (${app} of ${APPS}): applied ${s.applied.at(-1)!.toFixed(0)} ms, every app at it on the hub ${s.hub.at(-1)!.toFixed(0)} ms (load ${load()})`,
  );
}

/** One commit in `s`, timed until applied in both clusters and Synced on the hub. */
async function run(s: Subject, mode: 'webhook' | 'polling', label: string): Promise<void> {
  const { env } = s;
  const sha = await env.repo.commit(
    { 'infrastructure/namespaces.yaml': namespace(label) },
    `bench ${label}`,
  );
  // The clock starts when the commit is in the repository, as after a `git push`.
  const t0 = Date.now();
  if (mode === 'webhook') await env.commitDelivered(sha);
  // The watches record the label's arrival; this only looks at what they recorded.
  const seen = await waitFor(
    `${s.name} run ${label} applied in both clusters`,
    () => {
      const at = s.seen.map((m) => m.get(label));
      return at.every((x): x is number => x !== undefined) ? at : undefined;
    },
    { timeoutMs: 120_000, everyMs: 2 },
  );
  const hubAt = await waitFor(
    `${s.name} run ${label} shown on the hub`,
    async () =>
      (await env.apps()).filter(
        (a) => a.app === APP && a.revision === sha && a.syncStatus === 'synced',
      ).length === 2
        ? Date.now()
        : undefined,
    { timeoutMs: 120_000, everyMs: 10 },
  );
  s.applied.push(Math.max(...seen) - t0);
  s.hub.push(hubAt - t0);
  const hubLog = readLog(env.hub.process.logPath);
  const hinted = hubHintAt(hubLog, sha);
  CLUSTERS.forEach((c, i) => {
    const { before, after } = agentMilestones(readLog(env.agents[c].process.logPath), sha, APP);
    s.phases.push([
      { name: 'commit', at: t0 },
      ...(hinted ? [{ name: 'webhook POST → hints sent', at: hinted }] : []),
      ...before,
      { name: 'applied, seen by the watch', at: seen[i]! },
    ]);
    s.after.push([
      before.at(-1) ?? { name: 'commit', at: t0 },
      ...after,
      { name: 'Synced on the hub, seen by the bench', at: hubAt },
    ]);
  });
  console.log(
    `${s.name} ${mode} run ${label}: applied in both ${s.applied.at(-1)!.toFixed(0)} ms, on the hub ${s.hub.at(-1)!.toFixed(0)} ms (load ${load()})`,
  );
}

async function measure(mode: 'webhook' | 'polling'): Promise<Subject[]> {
  const subjects: Subject[] = [];
  try {
    subjects.push(await open('this tree', mode));
    if (BASELINE && mode === 'webhook')
      subjects.push(await open('baseline', mode, join(BASELINE, 'agent/bin/driftless-agent.ts')));
    for (let r = 1; r <= RUNS; r++) {
      // Alternate who goes first, so neither always runs right after the other's commit.
      const order = r % 2 ? subjects : [...subjects].reverse();
      for (const s of order) {
        await sleep(Math.random() * 2000);
        if (APPS > 0 && mode === 'webhook')
          await runOneOfMany(s, `${mode}-${r}`, ((r - 1) % APPS) + 1);
        else await run(s, mode, `${mode}-${r}`);
      }
    }
    return subjects;
  } finally {
    await Promise.all(subjects.map(close));
  }
}

console.log(
  `e2e commit → applied: ${RUNS} runs per mode (${MODES.join(', ')}), ${TRANSPORT}, polling-only interval ${POLL_INTERVAL}${BASELINE ? `, baseline ${BASELINE}` : ''}${APPS > 0 ? `, ${APPS} more apps in dev, each webhook run changing one` : ''}; ${availableParallelism()} CPUs, load ${load()}, Node ${process.version}`,
);
const results: { mode: string; subjects: Subject[] }[] = [];
for (const mode of MODES as ('webhook' | 'polling')[])
  results.push({ mode, subjects: await measure(mode) });

console.log(
  APPS > 0
    ? `\n| mode | agents | commit → the changed app applied (dev, ${APPS + 2} apps), ms: median (min–max) | commit → every app of dev at the commit on the hub |`
    : '\n| mode | agents | commit → applied in both clusters, ms: median (min–max) | commit → both Synced on the hub |',
);
console.log('| --- | --- | --- | --- |');
for (const { mode, subjects } of results)
  for (const s of subjects)
    console.log(
      `| ${mode === 'webhook' ? 'webhook hint (poll 1m)' : `polling only (poll ${POLL_INTERVAL})`} | ${s.name} | ${spread(s.applied)} | ${spread(s.hub)} |`,
    );
for (const { mode, subjects } of results) {
  if (mode !== 'webhook') continue;
  for (const s of subjects) {
    console.log(`\nWhere the time goes, ${s.name} (${TRANSPORT}; each cluster of each run):\n`);
    console.log(phaseTable(s.phases));
    console.log('');
    console.log(phaseTable(s.after));
  }
}
console.log(`\nload after: ${load()}`);
