// What one request costs the API server by kind, side by side on one cluster: a server-side
// apply write, an SSA dry-run of an object in a Namespace that exists, an SSA dry-run of an
// object in a Namespace that does not exist yet (what the plan sends for a new Namespace's
// objects), and a GET answered 404, each of BENCH_N ConfigMaps at BENCH_CONCURRENCY at a time
// through the agent's KubeClient. The API server's own view comes from its /metrics (request
// duration by verb and dry-run, admission time of NamespaceLifecycle). Results go to
// docs/benchmarks.md ("Cold convergence and API requests").
//
//   node --expose-gc test/bench/dry-run-cost.bench.ts
//   (BENCH_N=N, default 400; BENCH_CONCURRENCY=a,b, default 8,64; BENCH_RUNS=N, default 3)
import https from 'node:https';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { KubeClient, type KubeObject } from '@driftless/agent';
import { startCluster } from '@driftless/test';
import { median } from './lib/measure.ts';

const N = Number(process.env['BENCH_N'] ?? 400);
const CONCURRENCY = (process.env['BENCH_CONCURRENCY'] ?? '8,64').split(',').map(Number);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);

async function mapLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const configMap = (ns: string, name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns },
  data: { level: 'info', owner: 'bench' },
});

/** The body of a GET of `path`, unparsed (the client parses JSON). */
async function raw(client: KubeClient, path: string): Promise<string> {
  const opts: https.RequestOptions = {};
  await cluster.kubeConfig.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    https
      .get(new URL(path, client.server), opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Sums of the API server's histograms we read, by series. */
async function metrics(client: KubeClient): Promise<Map<string, number>> {
  const text = await raw(client, '/metrics');
  const out = new Map<string, number>();
  for (const line of String(text).split('\n')) {
    const m =
      /^(apiserver_admission_controller_admission_duration_seconds_(?:sum|count)\{[^}]*name="NamespaceLifecycle"[^}]*\}|apiserver_request_duration_seconds_(?:sum|count)\{[^}]*resource="(?:configmaps|namespaces)"[^}]*\}) (\S+)$/.exec(
        line,
      );
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

function diff(a: Map<string, number>, b: Map<string, number>): string[] {
  const lines: string[] = [];
  for (const [k, v] of b) {
    const d = v - (a.get(k) ?? 0);
    if (d > 0 && k.includes('_sum')) {
      const count =
        (b.get(k.replace('_sum', '_count')) ?? 0) - (a.get(k.replace('_sum', '_count')) ?? 0);
      lines.push(
        `${k.replace(/_sum\{/, '{')}: ${count} requests, mean ${((d / count) * 1000).toFixed(1)} ms`,
      );
    }
  }
  return lines;
}

const cluster = await startCluster();
const client = await KubeClient.fromKubeConfig(cluster.kubeConfig, { maxSockets: 128 });
try {
  await client.apply(
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'present' } },
    { fieldManager: 'bench' },
  );
  const modes: Record<string, (i: string) => Promise<unknown>> = {
    'SSA write, Namespace exists': (i) =>
      client.apply(configMap('present', `w-${i}`), { fieldManager: 'bench' }),
    'SSA dry-run, Namespace exists': (i) =>
      client.apply(configMap('present', `d-${i}`), { fieldManager: 'bench', dryRun: true }),
    'SSA dry-run, Namespace missing (404)': (i) =>
      client
        .apply(configMap('absent', `d-${i}`), { fieldManager: 'bench', dryRun: true })
        .catch(() => undefined),
    'GET, object missing (404)': (i) =>
      client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'present', name: `none-${i}` }),
  };
  const results: string[] = [];
  for (const c of CONCURRENCY) {
    for (const [mode, fn] of Object.entries(modes)) {
      const times: number[] = [];
      let server: string[] = [];
      for (let r = 0; r < RUNS; r++) {
        const before = await metrics(client);
        const started = performance.now();
        await mapLimit(
          Array.from({ length: N }, (_, k) => `${c}-${r}-${k}`),
          c,
          fn,
        );
        times.push(performance.now() - started);
        server = diff(before, await metrics(client));
      }
      const ms = median(times);
      results.push(
        `| ${mode} | ${c} | ${(ms / 1000).toFixed(2)} (${(Math.min(...times) / 1000).toFixed(2)}–${(Math.max(...times) / 1000).toFixed(2)}) | ${((ms * c) / N).toFixed(1)} | ${server.join('; ')} |`,
      );
      console.error(results.at(-1));
    }
  }
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, ${N} requests per row, median (min–max) of ${RUNS}`,
  );
  console.log(
    '| request | at a time | wall (s) | ms per request | API server metrics (last run) |',
  );
  console.log('| --- | --- | --- | --- | --- |');
  console.log(results.join('\n'));
} finally {
  client.close();
  await cluster.stop();
}
