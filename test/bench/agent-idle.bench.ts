// Agent idle cost: `driftless-agent run` as its own process (default flags but BENCH_POLL, default
// 15s, as its poll interval) manages BENCH_APPS apps (default 200) of 10 objects each (a
// Namespace, a Service and 8 ConfigMaps) from one repository on a plain cluster. Once every app
// is synced (its inventory at the head) and the process is quiet, nothing changes for
// BENCH_WINDOW_S seconds (default 120) and we measure: API requests the cluster served
// (`apiserver_request_total` by verb and resource, minus what a second plain cluster without
// an agent served in the same window: the API server's own traffic), Git requests to the
// repository and their size, and the agent's CPU time (/proc/<pid>/stat). Fresh clusters and
// processes each run. Results go to docs/benchmarks.md ("Idle cost").
//
//   node --expose-gc test/bench/agent-idle.bench.ts
//   (BENCH_RUNS=N, default 3; BENCH_APPS=N; BENCH_POLL=15s; BENCH_WINDOW_S=120)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient } from '@driftless/agent';
import { startCluster, startGitServer, type Cluster, type GitServer } from '@driftless/test';
import { cpuQuiet, cpuSeconds, median } from './lib/measure.ts';

const BIN = path.resolve(
  process.env['BENCH_AGENT_BIN'] ??
    path.join(import.meta.dirname, '../../agent/bin/driftless-agent.ts'),
);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const APPS = Number(process.env['BENCH_APPS'] ?? 200);
const POLL = process.env['BENCH_POLL'] ?? '15s';
const WINDOW_S = Number(process.env['BENCH_WINDOW_S'] ?? 120);
const OBJECTS_PER_APP = 10;

/** User + system CPU seconds of a process (fields 14 and 15 of /proc/<pid>/stat, 1/100 s ticks). */

/** `apiserver_request_total` summed by `verb resource` (dry-runs marked), from /metrics. */
async function requestTotals(cluster: Cluster): Promise<Map<string, number>> {
  const options: https.RequestOptions = {};
  await cluster.kubeConfig.applyToHTTPSOptions(options);
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(new URL('/metrics', cluster.server), options, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels: Record<string, string> = {};
    for (const m of line.matchAll(/(\w+)="([^"]*)"/g)) labels[m[1] ?? ''] = m[2] ?? '';
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const dry = labels['dry_run'] ? ' dry-run' : '';
    const sub = labels['subresource'] ? `/${labels['subresource']}` : '';
    const key = `${labels['verb']}${dry} ${labels['resource'] || labels['subresource'] || '(non-resource)'}${sub}`;
    totals.set(key, (totals.get(key) ?? 0) + value);
  }
  return totals;
}

function delta(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.set(k, d);
  }
  return out;
}

interface Measure {
  /** API requests per minute by kind: the agent's cluster minus the baseline cluster. */
  apiPerMin: Map<string, number>;
  gitPerMin: number;
  gitBytesPerRequest: number;
  cpuSPerHour: number;
  syncedS: number;
}

function repoFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  const entries: string[] = [];
  for (let a = 0; a < APPS; a++) {
    const name = `app-${a}`;
    entries.push(`    - name: ${name}\n      path: apps/${name}\n      namespace: ${name}\n`);
    const items = [
      `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`,
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n    - port: 80\n`,
    ];
    for (let i = 0; i < OBJECTS_PER_APP - 2; i++)
      items.push(
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-${i}\ndata:\n  index: "${i}"\n`,
      );
    files[`apps/${name}/objects.yaml`] = items.join('---\n');
  }
  files['clusters/bench/driftless.yaml'] =
    `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n${entries.join('')}`;
  return files;
}

async function measure(cluster: Cluster, baseline: Cluster, git: GitServer, run: number) {
  const repo = await git.createRepo(`idle-${run}`);
  await repo.commit(repoFiles(), 'idle apps');
  const head = await repo.head();
  const workDir = await mkdtemp(path.join(tmpdir(), 'driftless-bench-'));
  const client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [BIN, 'run'], {
    env: {
      ...process.env,
      DRIFTLESS_REPO_URL: repo.url,
      DRIFTLESS_CLUSTER_NAME: 'bench',
      DRIFTLESS_GIT_USERNAME: git.credentials.username,
      DRIFTLESS_GIT_PASSWORD: git.credentials.password,
      DRIFTLESS_KUBECONFIG: cluster.kubeconfigPath,
      DRIFTLESS_WORK_DIR: workDir,
      DRIFTLESS_POLL_INTERVAL: POLL,
      DRIFTLESS_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = child.pid!;
  try {
    const deadline = performance.now() + 600_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${stderr}`);
      const { items } = await client
        .list('v1', 'ConfigMap', {
          namespace: 'driftless-system',
          labelSelector: 'driftless.dev/inventory=true',
        })
        .catch(() => ({ items: [] }));
      const done = items.filter(
        (cm) => (cm['data'] as Record<string, string>)['revision'] === head,
      );
      if (done.length === APPS) break;
      if (performance.now() > deadline) throw new Error(`agent did not sync: ${stderr}`);
      await sleep(1000);
    }
    const syncedS = (performance.now() - started) / 1000;
    await cpuQuiet(pid, deadline);
    const [api0, base0] = await Promise.all([requestTotals(cluster), requestTotals(baseline)]);
    const git0 = git.requests.length;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await sleep(WINDOW_S * 1000);
    const minutes = (performance.now() - t0) / 60_000;
    const cpu1 = cpuSeconds(pid);
    const [api1, base1] = await Promise.all([requestTotals(cluster), requestTotals(baseline)]);
    const gitRequests = git.requests.slice(git0).filter((r) => r.url.includes(`/idle-${run}.git/`));
    const agentApi = delta(api1, api0);
    const own = delta(base1, base0);
    const apiPerMin = new Map<string, number>();
    for (const [k, v] of agentApi) {
      const d = v - (own.get(k) ?? 0);
      if (d > 0) apiPerMin.set(k, d / minutes);
    }
    return {
      apiPerMin,
      gitPerMin: gitRequests.length / minutes,
      gitBytesPerRequest:
        gitRequests.reduce((n, r) => n + r.responseBytes, 0) / Math.max(1, gitRequests.length),
      cpuSPerHour: ((cpu1 - cpu0) / minutes) * 60,
      syncedS,
    };
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    client.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

const range = (values: number[], digits = 1): string =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

const load0 = loadavg()[0] ?? 0;
const git = await startGitServer();
const runs: Measure[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const [cluster, baseline] = await Promise.all([startCluster(), startCluster()]);
    try {
      runs.push(await measure(cluster, baseline, git, run));
    } finally {
      await Promise.all([cluster.stop(), baseline.stop()]);
    }
    (globalThis as { gc?: () => void }).gc?.();
  }
} finally {
  await git.stop();
}

const objects = APPS * OBJECTS_PER_APP;
const total = (m: Measure) => [...m.apiPerMin.values()].reduce((a, b) => a + b, 0);
const kinds = [...new Set(runs.flatMap((m) => [...m.apiPerMin.keys()]))].sort();
const pollsPerMin = 60 / (Number.parseInt(POLL, 10) * (POLL.endsWith('m') ? 60 : 1));
console.log(
  [
    `${availableParallelism()} CPUs, load average ${load0.toFixed(1)} before / ${(loadavg()[0] ?? 0).toFixed(1)} after, Node ${process.version}; median (min–max) of ${RUNS} runs; ${APPS} apps × ${OBJECTS_PER_APP} objects = ${objects} managed objects; poll interval ${POLL}; ${WINDOW_S} s window.`,
    '',
    '| idle cost | total | per 1,000 managed objects |',
    '| --- | --- | --- |',
    `| API requests per minute | ${range(runs.map(total))} | ${range(runs.map((m) => (total(m) / objects) * 1000))} |`,
    `| Git requests per poll (${pollsPerMin.toFixed(0)} polls a minute) | ${range(
      runs.map((m) => m.gitPerMin / pollsPerMin),
      2,
    )} | — |`,
    `| Git bytes received per request | ${range(
      runs.map((m) => m.gitBytesPerRequest),
      0,
    )} | — |`,
    `| agent CPU seconds per hour | ${range(runs.map((m) => m.cpuSPerHour))} | ${range(runs.map((m) => (m.cpuSPerHour / objects) * 1000))} |`,
    `| start → every app synced (s) | ${range(runs.map((m) => m.syncedS))} | — |`,
    '',
    kinds.length === 0
      ? 'API requests by verb and resource: none.'
      : `API requests per minute by verb and resource: ${kinds
          .map((k) => `${k} ${median(runs.map((m) => m.apiPerMin.get(k) ?? 0)).toFixed(1)}`)
          .join(', ')}.`,
  ].join('\n'),
);
