// Agent convergence from cold, side by side with a bare server-side-apply loop. Two workloads on
// a `workloads` cluster (Deployments become Available on kwok's fake nodes):
//   fleet — BENCH_APPS apps (default 200) of 10 objects each from one repository: a Namespace,
//           a Deployment of one replica, a Service and 7 ConfigMaps per app;
//   big   — one app of BENCH_OBJECTS objects (default 1,000): a Namespace, 10 Deployments,
//           40 Services and the rest ConfigMaps.
// Agent: a fresh in-process agent wired as `driftless-agent run` wires it (drift watcher
// reporting through the agent, production defaults: 8 requests at a time per app, one client
// of 16 connections) with a new Git checkout, a new KubeClient (empty discovery cache) and an
// empty inventory; timed from its first reconcileOnce() until it resolves with every app Synced
// and Healthy. Baseline: the same objects with a plain loop of server-side applies (a new
// KubeClient with the same settings, the same concurrency: each app's Namespace, then its
// other objects 8 at a time, all apps at once), then listed every 100 ms until every object
// is Healthy. Every request either side sends is counted by verb and resource. Each side runs
// on its own fresh cluster (three fake nodes), both started together each round; the order
// alternates; one unmeasured round warms up first. Results go
// to docs/benchmarks.md ("Agent"). While either side runs, this process's memory is sampled every
// 100 ms (RSS and V8 heap used; the servers are other processes), with the agent's apps counted
// by the step their status shows, so the report says how far memory rose and what the apps were
// doing at its peak.
//
//   node --expose-gc test/bench/agent-converge.bench.ts
//   (BENCH_RUNS=N, default 3; BENCH_WORKLOADS=fleet,big; BENCH_APPS=N; BENCH_OBJECTS=N;
//   BENCH_WARMUP=0 skips the unmeasured first round; BENCH_APP_CONCURRENCY=N the agent's
//   apps at once (default: the agent's); BENCH_HEAP_SNAPSHOT_MIB=N writes one heap snapshot
//   of the agent run the first time V8's heap holds N MiB, to see what it holds)
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import { createLogger } from '@driftless/common';
import {
  Agent,
  ApprovalBook,
  DriftWatcher,
  GitSource,
  InventoryStore,
  KubeClient,
  healthOf,
  type KubeObject,
  type Reporter,
  type SyncReport,
} from '@driftless/agent';
import { startCluster, startGitServer, type Cluster, type GitServer } from '@driftless/test';
import { countRequests, total, type RequestCounts } from './kube-requests.ts';
import { median } from './lib/measure.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const WORKLOADS = (process.env['BENCH_WORKLOADS'] ?? 'fleet,big').split(',');
const APPS = Number(process.env['BENCH_APPS'] ?? 200);
const OBJECTS = Number(process.env['BENCH_OBJECTS'] ?? 1000);
/** Requests at a time per app, as the agent's default. */
const PER_APP = 8;
const RUN_LABEL = 'bench.driftless.dev/run';
const WARMUP = process.env['BENCH_WARMUP'] !== '0';
const APP_CONCURRENCY = process.env['BENCH_APP_CONCURRENCY']
  ? Number(process.env['BENCH_APP_CONCURRENCY'])
  : undefined;
const SNAPSHOT_MIB = Number(process.env['BENCH_HEAP_SNAPSHOT_MIB'] ?? 0);
const MiB = 2 ** 20;

/** This process's memory while one side ran, in MiB. */
interface Memory {
  /** RSS and V8 heap used at the start, after a full GC. */
  startRss: number;
  startHeap: number;
  peakRss: number;
  peakHeap: number;
  /** Apps by the step their status showed at the heap's peak (agent only). */
  stepsAtPeak: Record<string, number>;
}

/**
 * Runs `fn` while sampling memory every 100 ms (after a full GC first); `steps()` says what the
 * apps are doing, recorded at the heap's peak; `snapshot` writes one heap snapshot the first
 * time the heap holds SNAPSHOT_MIB.
 */
async function sampled<T>(
  fn: () => Promise<T>,
  steps: () => Record<string, number> = () => ({}),
  snapshot?: string,
): Promise<{ value: T; memory: Memory }> {
  (globalThis as { gc?: () => void }).gc?.();
  const start = process.memoryUsage();
  const memory: Memory = {
    startRss: start.rss / MiB,
    startHeap: start.heapUsed / MiB,
    peakRss: start.rss / MiB,
    peakHeap: start.heapUsed / MiB,
    stepsAtPeak: {},
  };
  let snapped = !snapshot || SNAPSHOT_MIB <= 0;
  const sample = () => {
    const m = process.memoryUsage();
    memory.peakRss = Math.max(memory.peakRss, m.rss / MiB);
    if (m.heapUsed / MiB > memory.peakHeap) {
      memory.peakHeap = m.heapUsed / MiB;
      memory.stepsAtPeak = steps();
    }
    if (!snapped && m.heapUsed / MiB >= SNAPSHOT_MIB) {
      snapped = true;
      console.error(
        `heap snapshot at ${(m.heapUsed / MiB).toFixed(0)} MiB: ${writeHeapSnapshot(snapshot)}`,
      );
    }
  };
  const timer = setInterval(sample, 100);
  try {
    const value = await fn();
    sample();
    return { value, memory };
  } finally {
    clearInterval(timer);
  }
}

interface Workload {
  name: string;
  apps: number;
  /** Objects of one app: Deployments, Services, ConfigMaps (plus the Namespace). */
  shape: { deployments: number; services: number; configMaps: number };
}

/** The objects of one app in namespace `ns` (the first is the Namespace), labelled `run`. */
function objects(w: Workload, ns: string, run: string): KubeObject[] {
  const meta = (name: string) => ({ name, namespace: ns, labels: { [RUN_LABEL]: run } });
  const out: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [RUN_LABEL]: run } } },
  ];
  const { deployments, services, configMaps } = w.shape;
  for (let i = 0; i < configMaps; i++)
    out.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(`config-${i}`),
      data: { index: String(i), level: 'info', owner: 'bench' },
    });
  for (let i = 0; i < services; i++)
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`svc-${i}`),
      spec: {
        selector: { app: `web-${i % deployments}` },
        ports: [{ port: 80, targetPort: 8080 }],
      },
    });
  for (let i = 0; i < deployments; i++) {
    const labels = { app: `web-${i}` };
    out.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { ...meta(`web-${i}`), labels: { ...labels, [RUN_LABEL]: run } },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'main', image: 'registry.local/web:1.0' }] },
        },
      },
    });
  }
  return out;
}

const namespaceOf = (run: string, app: number) => `${run}-a${app}`;

/** The repository: every app's objects under apps/<name>, listed in clusters/bench. */
function repoFiles(w: Workload, run: string): Record<string, string> {
  const files: Record<string, string> = {};
  const entries: string[] = [];
  for (let a = 0; a < w.apps; a++) {
    const name = `app-${a}`;
    const ns = namespaceOf(run, a);
    entries.push(
      `    - name: ${name}\n      path: apps/${name}\n      namespace: ${ns}\n      prune: true\n      selfHeal: true`,
    );
    const [namespace, ...rest] = objects(w, ns, run);
    const strip = (o: KubeObject): KubeObject => {
      const { namespace: _ns, ...metadata } = o.metadata;
      return { ...o, metadata };
    };
    files[`apps/${name}/namespace.yaml`] = JSON.stringify(namespace);
    files[`apps/${name}/objects.yaml`] = rest.map((o) => JSON.stringify(strip(o))).join('\n---\n');
  }
  files['clusters/bench/driftless.yaml'] =
    `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n${entries.join('\n')}\n`;
  return files;
}

interface Run {
  ms: number;
  /** Requests until converged. */
  sync: RequestCounts;
  /** Requests in the 3 s after (agent: the drift watcher's first checks). */
  after: RequestCounts;
  /** Per app: step name → ms (agent only). */
  steps: Record<string, number>[];
  memory?: Memory;
}

/** Runs `fn` over `items`, `limit` at a time. */
async function mapLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function agentRun(
  w: Workload,
  git: GitServer,
  kubeConfig: Parameters<typeof KubeClient.fromKubeConfig>[0],
  run: string,
): Promise<Run> {
  const repo = await git.createRepo(run);
  await repo.commit(repoFiles(w, run), 'bench apps');
  const workDir = await mkdtemp(path.join(tmpdir(), 'driftless-bench-'));
  const logger = createLogger({ name: 'bench', level: 'silent' });
  const client = await KubeClient.fromKubeConfig(kubeConfig);
  const sync: RequestCounts = {};
  const after: RequestCounts = {};
  let counting: RequestCounts = {};
  const inventoryNamespace = `${run}-inventory`;
  countRequests(client, () => counting, inventoryNamespace);
  const inventory = new InventoryStore(client, inventoryNamespace);
  await inventory.ensureNamespace();
  const syncs: SyncReport[] = [];
  // Each app's step as its status shows it (`syncing <sha>: plan`), or its sync status.
  const stepOf = new Map<string, string>();
  const reporter: Reporter = {
    appStatus: (r) =>
      void stepOf.set(r.app, /: (\w+)$/.exec(r.message)?.[1] ?? r.syncStatus.toLowerCase()),
    syncResult: (r) => void syncs.push(r),
    drift: (r) => agent.noteDrift(r),
  };
  const drift = new DriftWatcher({ client, logger, reporter });
  const agent: Agent = new Agent({
    cluster: 'bench',
    client,
    source: new GitSource({
      url: repo.url,
      branch: 'main',
      dir: workDir,
      auth: git.credentials,
      logger,
    }),
    clusterPath: 'clusters/bench',
    inventory,
    reporter,
    approvals: new ApprovalBook(),
    drift,
    tracer: trace.getTracer('bench'),
    logger,
    pollIntervalMs: 3_600_000,
    ...(APP_CONCURRENCY ? { appConcurrency: APP_CONCURRENCY } : {}),
  });
  counting = sync;
  const byStep = () => {
    const out: Record<string, number> = {};
    for (const step of stepOf.values()) out[step] = (out[step] ?? 0) + 1;
    return out;
  };
  const started = performance.now();
  const { value: ok, memory } = await sampled(
    () => agent.reconcileOnce(),
    byStep,
    path.join(tmpdir(), `${run}.heapsnapshot`),
  );
  const ms = performance.now() - started;
  const bad = agent.statuses().filter((s) => s.syncStatus !== 'Synced' || s.health !== 'Healthy');
  if (!ok || bad.length > 0 || agent.statuses().length !== w.apps)
    throw new Error(`agent run ${run} did not converge: ${JSON.stringify(bad.slice(0, 3))}`);
  counting = after;
  await sleep(3000);
  await drift.stop();
  client.close();
  await rm(workDir, { recursive: true, force: true });
  const steps = syncs.map((r) => Object.fromEntries(r.steps.map((s) => [s.name, s.durationMs])));
  return { ms, sync, after, steps, memory };
}

/** The same objects by a plain SSA loop at the agent's concurrency, then polled until Healthy. */
async function bareRun(
  w: Workload,
  kubeConfig: Parameters<typeof KubeClient.fromKubeConfig>[0],
  run: string,
): Promise<Run> {
  const client = await KubeClient.fromKubeConfig(kubeConfig);
  const sync: RequestCounts = {};
  countRequests(client, () => sync);
  const apps = Array.from({ length: w.apps }, (_, a) => objects(w, namespaceOf(run, a), run));
  const apply = (o: KubeObject) => client.apply(o, { fieldManager: 'bench', force: true });
  const started = performance.now();
  const { memory } = await sampled(async () => {
    await Promise.all(
      apps.map(async ([namespace, ...rest]) => {
        await apply(namespace as KubeObject);
        await mapLimit(rest, PER_APP, apply);
      }),
    );
    await untilHealthy(client, apps, run);
  });
  const ms = performance.now() - started;
  client.close();
  return { ms, sync, after: {}, steps: [], memory };
}

/** Lists the apps' objects every 100 ms until every one is Healthy. */
async function untilHealthy(client: KubeClient, apps: KubeObject[][], run: string): Promise<void> {
  const want = apps.flatMap((objs) => objs.slice(1));
  const kinds = [
    ['v1', 'ConfigMap'],
    ['v1', 'Service'],
    ['apps/v1', 'Deployment'],
  ] as const;
  for (;;) {
    const live = (
      await Promise.all(
        kinds.map(
          async ([apiVersion, kind]) =>
            (await client.list(apiVersion, kind, { labelSelector: `${RUN_LABEL}=${run}` })).items,
        ),
      )
    ).flat();
    const byKey = new Map(
      live.map((o) => [`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, o]),
    );
    const healthy = (o: KubeObject) =>
      healthOf(byKey.get(`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).status ===
      'Healthy';
    if (want.every(healthy)) break;
    await sleep(100);
  }
}

/** Two more fake nodes for kwok (it manages every node): 200 one-replica Deployments fit. */
async function addNodes(client: KubeClient, count: number): Promise<void> {
  const resources = { cpu: '32', memory: '256Gi', pods: '110' };
  for (let i = 1; i <= count; i++) {
    const name = `kwok-node-${i}`;
    await client.create(
      {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' },
        },
        status: { allocatable: resources, capacity: resources },
      },
      { fieldManager: 'bench' },
    );
  }
}

const s = (ms: number): string => (ms / 1000).toFixed(2);
const range = (values: number[], format: (v: number) => string = s): string =>
  `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`;
const perApp = (n: number, apps: number) => (apps === 1 ? String(n) : (n / apps).toFixed(1));

function report(w: Workload, agent: Run[], bare: Run[], load: [number, number]): string {
  const ratio = range(
    agent.map((r, k) => r.ms / (bare[k]?.ms ?? Number.NaN)),
    (v) => `${v.toFixed(2)}×`,
  );
  const each = w.apps === 1 ? 'the app' : 'per app';
  const kinds = [
    ...new Set(
      [...agent, ...bare].flatMap((r) => [...Object.keys(r.sync), ...Object.keys(r.after)]),
    ),
  ].sort();
  const row = (what: string, runs: Run[], of: (r: Run) => RequestCounts) =>
    `| ${what} | ${perApp(median(runs.map((r) => total(of(r)))), w.apps)} | ${kinds
      .filter((k) => runs.some((r) => of(r)[k]))
      .map((k) => `${k} ${perApp(median(runs.map((r) => of(r)[k] ?? 0)), w.apps)}`)
      .join(', ')} |`;
  const stepNames = ['fetch', 'render', 'guard', 'plan', 'apply', 'prune', 'health'];
  const steps = agent.flatMap((r) => r.steps);
  return [
    `### ${w.name}: ${w.apps} app(s) × ${1 + w.shape.configMaps + w.shape.services + w.shape.deployments} objects`,
    '',
    `${availableParallelism()} CPUs, load average ${load[0].toFixed(1)} before / ${load[1].toFixed(1)} after, Node ${process.version}; median (min–max) of ${agent.length} runs.`,
    '',
    '| what | all Synced and Healthy (s) | agent ÷ bare loop |',
    '| --- | --- | --- |',
    `| agent, first reconcileOnce() | ${range(agent.map((r) => r.ms))} | ${ratio} |`,
    `| bare SSA loop (${PER_APP} per app at a time), then listed every 100 ms until Healthy | ${range(bare.map((r) => r.ms))} | 1 |`,
    '',
    `Agent sync steps, median (min–max) over every app of every run, in s:`,
    '',
    `| ${stepNames.join(' | ')} |`,
    `| ${stepNames.map(() => '---').join(' | ')} |`,
    `| ${stepNames.map((n) => range(steps.map((st) => st[n] ?? 0))).join(' | ')} |`,
    '',
    `API requests ${each} (median of runs; watches opened are counted as WATCH):`,
    '',
    '| when | total | by verb and resource |',
    '| --- | --- | --- |',
    row('agent, until converged', agent, (r) => r.sync),
    row('agent, the 3 s after', agent, (r) => r.after),
    row('bare loop, until Healthy', bare, (r) => r.sync),
    '',
    'Memory of this process while each side ran (MiB; the servers are other processes): RSS and V8 heap used at the start (after a full GC), and how far each rose above it:',
    '',
    '| side | RSS at start | RSS peak − start | heap at start | heap peak − start | apps by step at the heap peak |',
    '| --- | --- | --- | --- | --- | --- |',
    memoryRow('agent', agent),
    memoryRow('bare loop', bare),
  ].join('\n');
}

function memoryRow(side: string, runs: Run[]): string {
  const m = runs.flatMap((r) => (r.memory ? [r.memory] : []));
  const mib = (v: number) => v.toFixed(0);
  const steps = m.map((x) =>
    Object.entries(x.stepsAtPeak)
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  );
  return `| ${side} | ${range(
    m.map((x) => x.startRss),
    mib,
  )} | ${range(
    m.map((x) => x.peakRss - x.startRss),
    mib,
  )} | ${range(
    m.map((x) => x.startHeap),
    mib,
  )} | ${range(
    m.map((x) => x.peakHeap - x.startHeap),
    mib,
  )} | ${steps.filter(Boolean).join('; ') || '–'} |`;
}

const workloads: Workload[] = [
  { name: 'fleet', apps: APPS, shape: { deployments: 1, services: 1, configMaps: 7 } },
  {
    name: 'big',
    apps: 1,
    shape: { deployments: 10, services: 40, configMaps: OBJECTS - 51 },
  },
].filter((w) => WORKLOADS.includes(w.name));

/** A fresh workloads cluster with three fake nodes (330 pods). */
async function freshCluster(): Promise<Cluster> {
  const cluster = await startCluster({ workloads: true });
  const admin = await KubeClient.fromKubeConfig(cluster.kubeConfig);
  try {
    await addNodes(admin, 2);
  } finally {
    admin.close();
  }
  return cluster;
}

const git = await startGitServer();
const out: string[] = [];
try {
  for (const w of workloads) {
    const load0 = loadavg()[0] ?? 0;
    const agentRuns: Run[] = [];
    const bareRuns: Run[] = [];
    for (let i = WARMUP ? 0 : 1; i <= RUNS; i++) {
      const measured = i > 0;
      // Each side on its own fresh cluster, started together: no clean-up between them.
      const [forAgent, forBare] = await Promise.all([freshCluster(), freshCluster()]);
      try {
        const runAgent = async () => {
          const r = await agentRun(w, git, forAgent.kubeConfig, `${w.name}-agent-${i}`);
          if (measured) agentRuns.push(r);
        };
        const runBare = async () => {
          const r = await bareRun(w, forBare.kubeConfig, `${w.name}-bare-${i}`);
          if (measured) bareRuns.push(r);
        };
        if (i % 2) {
          await runAgent();
          await runBare();
        } else {
          await runBare();
          await runAgent();
        }
      } finally {
        await Promise.all([forAgent.stop(), forBare.stop()]);
      }
      (globalThis as { gc?: () => void }).gc?.();
      const peak = (r: Run | undefined) =>
        r?.memory
          ? `, RSS +${(r.memory.peakRss - r.memory.startRss).toFixed(0)} MiB, heap +${(r.memory.peakHeap - r.memory.startHeap).toFixed(0)} MiB`
          : '';
      console.error(
        `${w.name} round ${i}: agent ${s(agentRuns.at(-1)?.ms ?? 0)} s${peak(agentRuns.at(-1))} ${JSON.stringify(agentRuns.at(-1)?.memory?.stepsAtPeak ?? {})}, bare ${s(bareRuns.at(-1)?.ms ?? 0)} s${peak(bareRuns.at(-1))}`,
      );
    }
    out.push(report(w, agentRuns, bareRuns, [load0, loadavg()[0] ?? 0]));
  }
} finally {
  await git.stop();
}
console.log(out.join('\n\n'));
