// Commit → applied in both clusters, end to end with the real processes: the environment of
// `make demo` (two workloads clusters, the Git server, `driftless-hub` on SQLite, two
// `driftless-agent run` processes over gRPC+mTLS). Each run commits a new label on the podinfo
// Namespace (infrastructure/, an auto app in both clusters) and times, from the moment the
// commit is in the repository, (a) until both clusters' API servers show the label and (b) until
// the hub's API shows both clusters' infrastructure app Synced at the commit.
//
// Two modes, each in its own fresh environment:
//   webhook  agents poll every 1m; each commit is followed by a signed GitHub-style push
//            delivery to the hub, which sends the agents a RefreshHint (the webhook POST is
//            inside the measured time);
//   polling  no webhook (the receiver is off); agents poll every 10 s, the shortest interval
//            we would suggest for a real fleet, so the expected wait is half of that.
// A random 0–2 s pause comes before each commit; in polling mode each commit thus lands soon after
// the poll that found the previous one, so polling numbers are near the worst case (one interval).
// Results go to docs/benchmarks.md ("End to end").
//
//   node --expose-gc test/bench/e2e-commit-to-applied.bench.ts   (BENCH_RUNS=N, default 10;
//   BENCH_POLL_INTERVAL=10s)
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient } from '@driftless/agent';
import { startEnvironment, waitFor, type Environment } from '../demo/environment.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 10);
const POLL_INTERVAL = process.env['BENCH_POLL_INTERVAL'] ?? '10s';
const CLUSTERS = ['dev', 'prod'] as const;

const namespace = (run: string) =>
  `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n  labels:\n    team: web\n    bench-run: "${run}"\n`;

/** Median, min and max of `values`, in ms with one decimal. */
function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median =
    sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const f = (n: number) => n.toFixed(0);
  return `${f(median)} ms (min ${f(sorted[0]!)}, max ${f(sorted.at(-1)!)})`;
}

async function measure(mode: 'webhook' | 'polling'): Promise<{ applied: number[]; hub: number[] }> {
  const env: Environment = await startEnvironment({
    webhook: mode === 'webhook',
    pollInterval: mode === 'webhook' ? '1m' : POLL_INTERVAL,
  });
  const kube = await Promise.all(
    CLUSTERS.map((c) => KubeClient.fromKubeConfig(env.clusters[c].kubeConfig)),
  );
  try {
    const head = await env.repo.head();
    await waitFor(
      'the fleet at its first commit',
      async () =>
        (await env.apps()).filter(
          (a) => a.app === 'infrastructure' && a.revision === head && a.syncStatus === 'synced',
        ).length === 2
          ? true
          : undefined,
      { timeoutMs: 120_000 },
    );
    const applied: number[] = [];
    const hub: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      await sleep(Math.random() * 2000);
      const label = `${mode}-${run}`;
      // The clock starts when the commit is in the repository, as after a `git push`.
      const sha = await env.repo.commit(
        { 'infrastructure/namespaces.yaml': namespace(label) },
        `bench ${label}`,
      );
      const t0 = performance.now();
      if (mode === 'webhook') await env.commitDelivered(sha);
      const seen: (number | undefined)[] = [undefined, undefined];
      let hubAt: number | undefined;
      await waitFor(
        `run ${label} applied in both clusters and shown on the hub`,
        async () => {
          await Promise.all(
            kube.map(async (client, i) => {
              if (seen[i] !== undefined) return;
              const ns = await client.get({
                apiVersion: 'v1',
                kind: 'Namespace',
                namespace: '',
                name: 'podinfo',
              });
              const labels = (ns?.['metadata'] as { labels?: Record<string, string> } | undefined)
                ?.labels;
              if (labels?.['bench-run'] === label) seen[i] = performance.now();
            }),
          );
          if (hubAt === undefined) {
            const synced = (await env.apps()).filter(
              (a) => a.app === 'infrastructure' && a.revision === sha && a.syncStatus === 'synced',
            );
            if (synced.length === 2) hubAt = performance.now();
          }
          return seen.every((s) => s !== undefined) && hubAt !== undefined ? true : undefined;
        },
        { timeoutMs: 120_000, everyMs: 10 },
      );
      applied.push(Math.max(...(seen as number[])) - t0);
      hub.push(hubAt! - t0);
      console.log(
        `${mode} run ${run}: applied in both ${applied.at(-1)!.toFixed(0)} ms, on the hub ${hub.at(-1)!.toFixed(0)} ms`,
      );
    }
    return { applied, hub };
  } finally {
    for (const client of kube) client.close();
    await env.stop();
  }
}

console.log(
  `e2e commit → applied: ${RUNS} runs per mode, polling-only interval ${POLL_INTERVAL}; ${availableParallelism()} CPUs, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, Node ${process.version}`,
);
const webhook = await measure('webhook');
const polling = await measure('polling');
console.log(
  '\n| mode | commit → applied in both clusters, median (min, max) | commit → both Synced on the hub |',
);
console.log('| --- | --- | --- |');
console.log(`| webhook hint (poll 1m) | ${stats(webhook.applied)} | ${stats(webhook.hub)} |`);
console.log(
  `| polling only (poll ${POLL_INTERVAL}) | ${stats(polling.applied)} | ${stats(polling.hub)} |`,
);
console.log(
  `load after: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
