// Agent convergence from cold: a fresh in-process agent (new Git checkout, new Kubernetes client
// with empty discovery cache, empty inventory) syncs one plain-YAML app of 100 objects (a
// Namespace, 60 ConfigMaps, 29 Services, 10 Deployments of one replica) on a `workloads`
// cluster, so Deployments become Available; timed from its first reconcileOnce() to every app
// Synced and Healthy (when reconcileOnce() resolves). Side by side, in the same run, the same
// 100 objects applied by a plain loop of server-side applies with the agent's KubeClient (one
// at a time, and 8 at a time as the agent does), then waited on until every object is Healthy
// (healthOf, polled every 100 ms). Each run uses fresh namespaces; the order of agent and
// baselines alternates between runs. Results go to docs/benchmarks.md ("Agent").
//
//   node --expose-gc test/bench/agent-converge.bench.ts   (BENCH_RUNS=N, default 5)
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
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
  type AppStatusReport,
  type DriftReport,
  type KubeObject,
  type Reporter,
  type SyncReport,
} from '@driftless/agent';
import { startCluster, startGitServer, waitFor, type GitServer } from '@driftless/test';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const CONFIGMAPS = 60;
const SERVICES = 29;
const DEPLOYMENTS = 10;

/** The 100 objects of one run, in namespace `ns` (the first is the Namespace). */
function objects(ns: string): KubeObject[] {
  const out: KubeObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }];
  for (let i = 0; i < CONFIGMAPS; i++)
    out.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `config-${i}`, namespace: ns },
      data: { index: String(i), level: 'info', owner: 'bench' },
    });
  for (let i = 0; i < SERVICES; i++)
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${i}`, namespace: ns },
      spec: {
        selector: { app: `web-${i % DEPLOYMENTS}` },
        ports: [{ port: 80, targetPort: 8080 }],
      },
    });
  for (let i = 0; i < DEPLOYMENTS; i++) {
    const labels = { app: `web-${i}` };
    out.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `web-${i}`, namespace: ns, labels },
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

/** The same objects as the app's files in Git (namespaced objects take the app's namespace). */
function appFiles(app: string, ns: string): Record<string, string> {
  const strip = (o: KubeObject): KubeObject => {
    const { namespace, ...metadata } = o.metadata;
    void namespace;
    return { ...o, metadata };
  };
  const [namespace, ...rest] = objects(ns);
  return {
    'clusters/bench/driftless.yaml': `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n    - name: ${app}\n      path: apps/${app}\n      namespace: ${ns}\n      prune: true\n      selfHeal: true\n`,
    [`apps/${app}/namespace.yaml`]: JSON.stringify(namespace),
    [`apps/${app}/objects.yaml`]: rest.map((o) => JSON.stringify(strip(o))).join('\n---\n'),
  };
}

/** Keeps sync reports; drift goes through the agent as in production. */
class Recorder implements Reporter {
  syncs: SyncReport[] = [];
  appStatus(r: AppStatusReport): void {
    void r;
  }
  syncResult(r: SyncReport): void {
    this.syncs.push(r);
  }
  drift(r: DriftReport): void {
    void r;
  }
}

interface AgentRun {
  ms: number;
  steps: Record<string, number>;
  /** API requests by kind, until reconcileOnce() resolved. */
  sync: Record<string, number>;
  /** API requests by kind in the 3 s after it (the drift watcher's first check of everything). */
  after: Record<string, number>;
}

/** Counts the client's API requests by kind (GET, LIST, SSA, SSA dry-run, ...) into `into()`. */
function countRequests(client: KubeClient, into: () => Record<string, number>): void {
  const request = client.request.bind(client);
  client.request = (method, path, options) => {
    const query = options?.query ?? {};
    const what =
      method === 'PATCH'
        ? query['dryRun']
          ? 'SSA dry-run'
          : 'SSA'
        : method !== 'GET'
          ? method
          : query['limit'] !== undefined
            ? 'LIST'
            : /^\/apis?(\/[^/]+)?\/v\w+$/.test(path)
              ? 'discovery'
              : 'GET';
    const counts = into();
    counts[what] = (counts[what] ?? 0) + 1;
    return request(method, path, options);
  };
}

/** A fresh agent with production defaults (health poll 1 s, 8 requests at a time). */
async function agentRun(
  git: GitServer,
  kubeConfig: Parameters<typeof KubeClient.fromKubeConfig>[0],
  i: number,
): Promise<AgentRun> {
  const app = `conv-${i}`;
  const repo = await git.createRepo(app);
  await repo.commit(appFiles(app, `agent-${i}`), 'bench app');
  const workDir = await mkdtemp(path.join(tmpdir(), 'driftless-bench-'));
  const logger = createLogger({ name: 'bench', level: 'silent' });
  const client = await KubeClient.fromKubeConfig(kubeConfig);
  const sync: Record<string, number> = {};
  const after: Record<string, number> = {};
  let counting: Record<string, number> = {};
  countRequests(client, () => counting);
  const inventory = new InventoryStore(client, `driftless-bench-${i}`);
  await inventory.ensureNamespace();
  const recorder = new Recorder();
  const drift = new DriftWatcher({
    client,
    logger,
    reporter: {
      appStatus: () => undefined,
      syncResult: () => undefined,
      drift: (r) => agent.noteDrift(r),
    },
  });
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
    reporter: recorder,
    approvals: new ApprovalBook(),
    drift,
    tracer: trace.getTracer('bench'),
    logger,
    pollIntervalMs: 3_600_000,
  });
  counting = sync;
  const started = performance.now();
  const ok = await agent.reconcileOnce();
  const ms = performance.now() - started;
  const status = agent.statuses().find((s) => s.app === app);
  const report = recorder.syncs.at(-1);
  if (!ok || status?.syncStatus !== 'Synced' || status.health !== 'Healthy')
    throw new Error(`agent run ${i} did not converge: ${JSON.stringify(status)} ${report?.error}`);
  counting = after;
  await sleep(3000);
  await drift.stop();
  client.close();
  await rm(workDir, { recursive: true, force: true });
  return {
    ms,
    steps: Object.fromEntries((report?.steps ?? []).map((s) => [s.name, s.durationMs])),
    sync,
    after,
  };
}

/** Applies the objects with `parallel` requests at a time, then waits until all are Healthy. */
async function baselineRun(
  client: KubeClient,
  ns: string,
  parallel: number,
): Promise<{ applyMs: number; healthyMs: number }> {
  const [namespace, ...rest] = objects(ns);
  const started = performance.now();
  const apply = (o: KubeObject) => client.apply(o, { fieldManager: 'bench', force: true });
  await apply(namespace!);
  for (let i = 0; i < rest.length; i += parallel)
    await Promise.all(rest.slice(i, i + parallel).map(apply));
  const applyMs = performance.now() - started;
  for (;;) {
    const live = (
      await Promise.all(
        (['v1 ConfigMap', 'v1 Service', 'apps/v1 Deployment'] as const).map(async (k) => {
          const [apiVersion, kind] = k.split(' ') as [string, string];
          return (await client.list(apiVersion, kind, { namespace: ns })).items;
        }),
      )
    ).flat();
    const byName = new Map(live.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
    if (
      rest.every((o) => healthOf(byName.get(`${o.kind}/${o.metadata.name}`)).status === 'Healthy')
    )
      break;
    await sleep(100);
  }
  return { applyMs, healthyMs: performance.now() - started };
}

/** Deletes namespaces and waits until they are gone, so pods never pile up on the fake node. */
async function cleanUp(client: KubeClient, names: string[]): Promise<void> {
  const refs = names.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', namespace: '', name }));
  await Promise.all(refs.map((r) => client.delete(r)));
  await waitFor(
    `namespaces ${names.join(', ')} gone`,
    async () => (await Promise.all(refs.map((r) => client.get(r)))).every((o) => o === undefined),
    { timeoutMs: 120_000, everyMs: 250 },
  );
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const s = (ms: number): string => (ms / 1000).toFixed(2);
const range = (values: number[], format: (v: number) => string = s): string =>
  `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`;

const load0 = loadavg()[0] ?? 0;
const [cluster, git] = await Promise.all([startCluster({ workloads: true }), startGitServer()]);
const client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
const agentRuns: AgentRun[] = [];
const serial: { applyMs: number; healthyMs: number }[] = [];
const parallel: { applyMs: number; healthyMs: number }[] = [];
try {
  // One unmeasured round warms the API server, the Git server and the page cache.
  for (let i = 0; i <= RUNS; i++) {
    const measured = i > 0;
    const runAgent = async () => {
      const r = await agentRun(git, cluster.kubeConfig, i);
      if (measured) agentRuns.push(r);
    };
    const runBaselines = async () => {
      const a = await baselineRun(client, `serial-${i}`, 1);
      const b = await baselineRun(client, `parallel-${i}`, 8);
      if (!measured) return;
      serial.push(a);
      parallel.push(b);
    };
    if (i % 2) {
      await runAgent();
      await runBaselines();
    } else {
      await runBaselines();
      await runAgent();
    }
    await cleanUp(client, [`agent-${i}`, `serial-${i}`, `parallel-${i}`, `driftless-bench-${i}`]);
    (globalThis as { gc?: () => void }).gc?.();
  }
} finally {
  client.close();
  await Promise.all([cluster.stop(), git.stop()]);
}

const ratio = (a: number[], b: number[]): string =>
  range(
    a.map((v, k) => v / (b[k] ?? Number.NaN)),
    (v) => `${v.toFixed(1)}×`,
  );
const agentMs = agentRuns.map((r) => r.ms);
const kinds = [
  ...new Set(agentRuns.flatMap((r) => [...Object.keys(r.sync), ...Object.keys(r.after)])),
].sort();
const requestRow = (when: string, of: (r: AgentRun) => Record<string, number>): string =>
  `| ${when} | ${kinds.map((k) => median(agentRuns.map((r) => of(r)[k] ?? 0))).join(' | ')} | ${median(
    agentRuns.map((r) => Object.values(of(r)).reduce((a, b) => a + b, 0)),
  )} |`;
const stepNames = ['fetch', 'render', 'guard', 'plan', 'apply', 'prune', 'health'];
console.log(
  [
    `${availableParallelism()} CPUs, load average ${load0.toFixed(1)} before / ${(loadavg()[0] ?? 0).toFixed(1)} after, Node ${process.version}; median (min–max) of ${RUNS} runs; 100 objects (1 Namespace, ${CONFIGMAPS} ConfigMaps, ${SERVICES} Services, ${DEPLOYMENTS} Deployments × 1 replica), workloads cluster.`,
    '',
    '| what | applied (s) | all Healthy (s) | agent ÷ this (all Healthy) |',
    '| --- | --- | --- | --- |',
    `| agent, first reconcileOnce() → Synced + Healthy (applied: sum of steps fetch … apply) | ${range(
      agentRuns.map((r) =>
        ['fetch', 'render', 'guard', 'plan', 'apply'].reduce(
          (sum, n) => sum + (r.steps[n] ?? 0),
          0,
        ),
      ),
    )} | ${range(agentMs)} | 1.0× |`,
    `| SSA loop, 1 at a time, then wait Healthy (100 ms poll) | ${range(serial.map((r) => r.applyMs))} | ${range(serial.map((r) => r.healthyMs))} | ${ratio(
      agentMs,
      serial.map((r) => r.healthyMs),
    )} |`,
    `| SSA loop, 8 at a time, then wait Healthy (100 ms poll) | ${range(parallel.map((r) => r.applyMs))} | ${range(parallel.map((r) => r.healthyMs))} | ${ratio(
      agentMs,
      parallel.map((r) => r.healthyMs),
    )} |`,
    '',
    'Agent sync steps (from its SyncReport), median (min–max) in s:',
    '',
    `| ${stepNames.join(' | ')} |`,
    `| ${stepNames.map(() => '---').join(' | ')} |`,
    `| ${stepNames.map((n) => range(agentRuns.map((r) => r.steps[n] ?? Number.NaN))).join(' | ')} |`,
    '',
    'Agent API requests (median of runs; watches not counted):',
    '',
    `| when | ${kinds.join(' | ')} | total |`,
    `| --- | ${kinds.map(() => '---').join(' | ')} | --- |`,
    requestRow('first reconcileOnce()', (r) => r.sync),
    requestRow('the 3 s after it', (r) => r.after),
  ].join('\n'),
);
