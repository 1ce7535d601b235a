// Agent resident memory: `driftless-agent run` as its own process (as in production, default
// flags but a 1 h poll interval) manages one app of 1,000 small ConfigMaps (plus its Namespace)
// on a plain cluster; side by side, at the same time, the same agent on a second plain cluster
// manages 10 ConfigMaps (the baseline). Each agent has its own cluster, because the drift watcher
// lists and watches every object labelled as ours cluster-wide. We wait until the inventory
// ConfigMap records the head revision with every object, then until the agent's CPU time stops
// growing (drift watches listed, every object checked once), then sample VmRSS from
// /proc/<pid>/status 5 times, 1 s apart. Fresh clusters and processes each run. Results go to
// docs/benchmarks.md ("Agent").
//
//   node --expose-gc test/bench/agent-memory.bench.ts   (BENCH_RUNS=N, default 3; BENCH_OBJECTS=N, default 1000;
//   BENCH_AGENT_BIN=dist/bin/driftless-agent.mjs for the bundle)
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { InventoryStore, KubeClient } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitServer,
} from '@driftless/test';

// BENCH_AGENT_BIN=dist/bin/driftless-agent.mjs measures the bundle (`make bundle`), as images run it.
const BIN = path.resolve(
  process.env['BENCH_AGENT_BIN'] ??
    path.join(import.meta.dirname, '../../agent/bin/driftless-agent.ts'),
);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const LARGE = Number(process.env['BENCH_OBJECTS'] ?? 1000);
const SMALL = 10;

function status(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return match?.[1] ? Number(match[1]) / 1024 : Number.NaN;
}

/** User + system CPU seconds of a process (fields 14 and 15 of /proc/<pid>/stat, 1/100 s ticks). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Opens the inspector of a process started with `--inspect-port=0` (SIGUSR1; it prints its
 * address on stderr), forces a full garbage collection and returns the process's
 * `process.memoryUsage()`: what the heap keeps alive, apart from the room V8 grew into.
 */
async function collectGarbage(
  child: ChildProcess,
  stderr: () => string,
): Promise<NodeJS.MemoryUsage> {
  child.kill('SIGUSR1');
  const url = await waitFor(
    'the agent to open its inspector',
    () => /ws:\/\/\S+/.exec(stderr())?.[0],
    {
      timeoutMs: 10_000,
      everyMs: 50,
    },
  );
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const call = (method: string, params: object = {}) =>
    new Promise<{ result?: { result?: { value?: string } } }>((resolve) => {
      const mine = ++id;
      const onMessage = (e: MessageEvent) => {
        const msg = JSON.parse(String(e.data)) as {
          id?: number;
          result?: { result?: { value?: string } };
        };
        if (msg.id !== mine) return;
        ws.removeEventListener('message', onMessage);
        resolve(msg);
      };
      ws.addEventListener('message', onMessage);
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.collectGarbage');
  const usage = await call('Runtime.evaluate', {
    expression: 'JSON.stringify(process.memoryUsage())',
  });
  ws.close();
  return JSON.parse(usage.result?.result?.value ?? '{}') as NodeJS.MemoryUsage;
}

interface Measure {
  objects: number;
  /** After a forced full GC (through the inspector). */
  gcRssMiB: number;
  heapUsedMiB: number;
  syncedS: number;
  settledS: number;
  cpuS: number;
  rssMiB: number;
  peakMiB: number;
}

/** Starts one agent on `cluster` for an app of `count` ConfigMaps and measures it. */
async function measure(
  cluster: Cluster,
  git: GitServer,
  count: number,
  run: number,
): Promise<Measure> {
  const repo = await git.createRepo(`fleet-${count}-${run}`);
  const items: string[] = [];
  for (let i = 0; i < count; i++)
    items.push(
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: item-${i}\ndata:\n  index: "${i}"\n`,
    );
  await repo.commit(
    {
      'clusters/bench/driftless.yaml':
        'apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n    - name: bulk\n      path: apps/bulk\n      namespace: bulk\n      prune: true\n      selfHeal: true\n',
      'apps/bulk/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bulk\n',
      'apps/bulk/items.yaml': items.join('---\n'),
    },
    'bulk app',
  );
  const head = await repo.head();
  const workDir = await mkdtemp(path.join(tmpdir(), 'driftless-bench-'));
  const client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
  const started = performance.now();
  // --inspect-port=0 opens nothing until SIGUSR1, after the RSS samples (see collectGarbage).
  const child: ChildProcess = spawn(process.execPath, ['--inspect-port=0', BIN, 'run'], {
    env: {
      ...process.env,
      DRIFTLESS_REPO_URL: repo.url,
      DRIFTLESS_CLUSTER_NAME: 'bench',
      DRIFTLESS_GIT_USERNAME: git.credentials.username,
      DRIFTLESS_GIT_PASSWORD: git.credentials.password,
      DRIFTLESS_KUBECONFIG: cluster.kubeconfigPath,
      DRIFTLESS_WORK_DIR: workDir,
      DRIFTLESS_POLL_INTERVAL: '1h',
      DRIFTLESS_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = child.pid!;
  try {
    const inventory = new InventoryStore(client, 'driftless-system');
    const deadline = performance.now() + 180_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${stderr}`);
      const record = await inventory.load('bulk').catch(() => undefined);
      if (record?.revision === head && record.objects.length === count + 1) break;
      if (performance.now() > deadline) throw new Error(`agent (${count}) did not sync: ${stderr}`);
      await sleep(100);
    }
    const syncedS = (performance.now() - started) / 1000;
    // Settled: under 20 ms of CPU a second, three seconds in a row.
    let quiet = 0;
    let cpu = cpuSeconds(pid);
    while (quiet < 3 && performance.now() < deadline) {
      await sleep(1000);
      const now = cpuSeconds(pid);
      quiet = now - cpu < 0.02 ? quiet + 1 : 0;
      cpu = now;
    }
    const settledS = (performance.now() - started) / 1000 - 3;
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(status(pid, 'VmRSS'));
      await sleep(1000);
    }
    const cpuS = cpuSeconds(pid);
    const peakMiB = status(pid, 'VmHWM');
    const usage = await collectGarbage(child, () => stderr);
    await sleep(1000);
    return {
      objects: count,
      syncedS,
      settledS,
      cpuS,
      rssMiB: median(samples),
      peakMiB,
      gcRssMiB: status(pid, 'VmRSS'),
      heapUsedMiB: usage.heapUsed / 2 ** 20,
    };
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    client.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
const range = (values: number[], digits = 0): string =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

const load0 = loadavg()[0] ?? 0;
const git = await startGitServer();
const large: Measure[] = [];
const small: Measure[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const [a, b] = await Promise.all([startCluster(), startCluster()]);
    try {
      const [l, s] = await Promise.all([measure(a, git, LARGE, run), measure(b, git, SMALL, run)]);
      large.push(l);
      small.push(s);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    (globalThis as { gc?: () => void }).gc?.();
  }
} finally {
  await git.stop();
}

const line = (m: Measure[]): string =>
  `| ${m[0]?.objects} ConfigMaps + Namespace | ${[
    range(m.map((x) => x.rssMiB)),
    range(m.map((x) => x.peakMiB)),
    range(m.map((x) => x.gcRssMiB)),
    range(
      m.map((x) => x.heapUsedMiB),
      1,
    ),
    range(
      m.map((x) => x.syncedS),
      1,
    ),
    range(
      m.map((x) => x.settledS),
      1,
    ),
    range(
      m.map((x) => x.cpuS),
      1,
    ),
  ].join(' | ')} |`;
console.log(
  [
    `${availableParallelism()} CPUs, load average ${load0.toFixed(1)} before / ${(loadavg()[0] ?? 0).toFixed(1)} after, Node ${process.version}; median (min–max) of ${RUNS} runs, both agents running at the same time, each on its own plain cluster.`,
    '',
    '| agent managing | RSS settled (MiB) | peak RSS, VmHWM (MiB) | RSS after full GC (MiB) | V8 heap used after full GC (MiB) | start → inventory at head (s) | start → CPU quiet (s) | CPU used (s) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    line(large),
    line(small),
    '',
    `Difference, ${LARGE} − ${SMALL} objects: ${range(
      large.map((l, i) => l.rssMiB - (small[i]?.rssMiB ?? Number.NaN)),
    )} MiB settled, ${range(large.map((l, i) => l.peakMiB - (small[i]?.peakMiB ?? Number.NaN)))} MiB peak, ${range(
      large.map((l, i) => l.gcRssMiB - (small[i]?.gcRssMiB ?? Number.NaN)),
    )} MiB RSS after GC, ${range(
      large.map((l, i) => l.heapUsedMiB - (small[i]?.heapUsedMiB ?? Number.NaN)),
      1,
    )} MiB V8 heap after GC.`,
  ].join('\n'),
);
