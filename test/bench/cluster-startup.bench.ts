// Test cluster start-up: how long startCluster() takes, plain (etcd +
// kube-apiserver) and with workloads (plus kube-controller-manager,
// kube-scheduler, kwok and a Ready fake node), and how much memory the
// processes hold once it is up. Prints a markdown table for docs/benchmarks.md.
//
//   node --expose-gc test/bench/cluster-startup.bench.ts   (BENCH_RUNS=N, default 5)
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { startCluster, type ServerProcess } from '@driftless/test';
import { cpuSeconds as processCpuSeconds, median } from './lib/measure.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);

interface Run {
  startMs: number;
  stopMs: number;
  /** Resident memory in MiB per process name, sampled right after start-up. */
  rssMiB: Record<string, number>;
  /** CPU seconds etcd and kube-apiserver used until startCluster() resolved. */
  cpuSeconds: number;
}

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match?.[1] ? Number(match[1]) / 1024 : Number.NaN;
}

/** User + system CPU seconds of a process (fields 14 and 15 of /proc/<pid>/stat, in clock ticks of 1/100 s). */

const cpuSeconds = (pid: number | undefined): number =>
  pid === undefined ? Number.NaN : processCpuSeconds(pid);

async function measure(workloads: boolean): Promise<Run> {
  const started = Date.now();
  const cluster = await startCluster({ workloads });
  const startMs = Date.now() - started;
  const byName = new Map<string, ServerProcess>(cluster.processes.map((p) => [p.name, p]));
  const rss: Record<string, number> = {};
  for (const [name, p] of byName) rss[name] = rssMiB(p.serverPid());
  const cpu = ['etcd', 'kube-apiserver']
    .map((name) => cpuSeconds(byName.get(name)?.serverPid()))
    .reduce((a, b) => a + b, 0);
  const stopStarted = Date.now();
  await cluster.stop();
  return { startMs, stopMs: Date.now() - stopStarted, rssMiB: rss, cpuSeconds: cpu };
}

const seconds = (ms: number): string => (ms / 1000).toFixed(2);
const range = (values: number[], format: (v: number) => string): string =>
  `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`;
const mib = (v: number): string => v.toFixed(0);

const rows: string[] = [];
const before = loadavg()[0] ?? 0;
for (const workloads of [false, true]) {
  // One unmeasured start warms the page cache, so every measured run starts alike.
  await (await startCluster({ workloads })).stop();
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    runs.push(await measure(workloads));
    (globalThis as { gc?: () => void }).gc?.();
  }
  const rss = (name: string): number[] => runs.map((r) => r.rssMiB[name] ?? 0);
  const storage = runs.map((r) => (r.rssMiB['etcd'] ?? 0) + (r.rssMiB['kube-apiserver'] ?? 0));
  const others = runs.map((r) =>
    Object.entries(r.rssMiB)
      .filter(([name]) => name !== 'etcd' && name !== 'kube-apiserver')
      .reduce((sum, [, v]) => sum + v, 0),
  );
  rows.push(
    `| ${workloads ? 'workloads' : 'plain'} | ${RUNS} | ${range(
      runs.map((r) => r.startMs),
      seconds,
    )} | ${range(
      runs.map((r) => r.cpuSeconds),
      (v) => v.toFixed(2),
    )} | ${range(rss('etcd'), mib)} | ${range(rss('kube-apiserver'), mib)} | ${range(storage, mib)} | ${
      workloads ? range(others, mib) : '–'
    } | ${range(
      runs.map((r) => r.stopMs),
      seconds,
    )} |`,
  );
}

console.log(
  [
    `${availableParallelism()} CPUs, load average ${before.toFixed(1)} before / ${(loadavg()[0] ?? 0).toFixed(1)} after, Node ${process.version}; median (min–max) of ${RUNS} runs.`,
    '',
    '| cluster | runs | start-up (s) | etcd + apiserver CPU during start-up (s) | etcd RSS (MiB) | kube-apiserver RSS (MiB) | etcd + apiserver RSS (MiB) | controller-manager + scheduler + kwok RSS (MiB) | stop (s) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n'),
);
