// Hub ingest benchmark: 1,000 simulated agents (one process, each with its own key, certificate
// and gRPC connection) stream reports to a real `driftless-hub` process; then fleet-wide drift
// queries at that size, and the hub's resident memory. Results go to docs/benchmarks.md ("Hub").
//   node test/bench/hub-ingest.bench.ts [--agents 1000] [--reports 20] [--store sqlite|postgres]
// Each flag also reads HUB_INGEST_<NAME> from the environment (HUB_INGEST_AGENTS=2000 ...).
import { parseArgs } from 'node:util';
import {
  DriftType,
  HealthStatus,
  SyncMode,
  SyncOutcome,
  SyncStatus,
  type AgentMessageBody,
} from '@driftless/proto';
import { startPostgres } from '@driftless/test';
import {
  api,
  connect,
  enroll,
  makeAgentKey,
  startHubProcess,
  type AgentStream,
} from '../integration/hub/helpers.ts';

const env = (name: string, fallback: string) => process.env[`HUB_INGEST_${name}`] ?? fallback;
const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: env('AGENTS', '1000') },
    reports: { type: 'string', default: env('REPORTS', '20') },
    store: { type: 'string', default: env('STORE', 'sqlite') },
  },
});
const AGENTS = Number(values.agents);
const REPORTS = Number(values.reports);
const store = values.store === 'postgres' ? 'postgres' : 'sqlite';

const pgServer = store === 'postgres' ? await startPostgres() : undefined;
const hub = await startHubProcess({ store, databaseUrl: pgServer?.connectionString });
const admin = hub.bootstrapToken!;
const name = (i: number) => `bench-${String(i).padStart(4, '0')}`;

async function inBatches<T>(n: number, size: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += size)
    out.push(
      ...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => fn(i + j)))),
    );
  return out;
}

const report = (i: number, k: number): AgentMessageBody => {
  switch (k % 3) {
    case 0:
      return {
        $case: 'appStatus',
        value: {
          app: `app-${k % 5}`,
          revision: 'a'.repeat(40),
          syncStatus: SyncStatus.SYNC_STATUS_SYNCED,
          health: HealthStatus.HEALTH_STATUS_HEALTHY,
          healthMessage: '',
          driftCount: 0,
          planDigest: '',
          pendingPlan: [],
          message: '',
          lastSyncUnixMs: BigInt(Date.now()),
          syncMode: SyncMode.SYNC_MODE_AUTO,
        },
      };
    case 1:
      return {
        $case: 'driftReport',
        value: {
          driftId: `${name(i)}-d${k}`,
          app: `app-${k % 5}`,
          object: {
            group: 'apps',
            version: 'v1',
            kind: 'Deployment',
            namespace: 'ns',
            name: `web-${k}`,
          },
          type: DriftType.DRIFT_TYPE_MODIFIED,
          fields: [{ path: 'spec.replicas', desiredJson: '3', liveJson: '5' }],
          changedBy: 'kubectl-edit',
          detectedUnixMs: BigInt(Date.now()),
          healed: false,
          healedUnixMs: 0n,
          message: '',
          lastSyncTraceId: '',
        },
      };
    default:
      return {
        $case: 'syncResult',
        value: {
          syncId: `${name(i)}-s${k}`,
          app: `app-${k % 5}`,
          revision: 'a'.repeat(40),
          result: SyncOutcome.SYNC_OUTCOME_SUCCEEDED,
          error: '',
          planDigest: 'p',
          objects: [],
          steps: [{ name: 'fetch', durationMs: 10 }],
          traceId: '',
          startedUnixMs: BigInt(Date.now() - 100),
          finishedUnixMs: BigInt(Date.now()),
          health: HealthStatus.HEALTH_STATUS_HEALTHY,
          retryable: false,
          approvalId: '',
        },
      };
  }
};

const rss = async () => {
  const m = String((await api(hub, undefined, 'GET', '/metrics')).body);
  return Number(/process_resident_memory_bytes (\d+)/.exec(m)?.[1] ?? 0) / 2 ** 20;
};
const rssIdle = await rss();

// 1. Enroll every agent: token over the API, key + CSR, Enroll over gRPC.
let t0 = performance.now();
const identities = await inBatches(AGENTS, 50, async (i) => {
  const region = i % 2 ? 'eu' : 'us';
  const env = i % 4 === 0 ? 'prod' : 'dev';
  const t = await api(hub, admin, 'POST', '/api/v1/tokens', {
    cluster: name(i),
    labels: { env, region },
  });
  const key = await makeAgentKey();
  const res = await enroll(hub, {
    token: (t.body as { token: string }).token,
    clusterName: name(i),
    csrPem: key.csrPem,
  });
  return { keyPem: key.keyPem, certPem: res.certificatePem };
});
const enrollMs = performance.now() - t0;

// 2. Connect all agents (one TLS connection each) and wait for every Hello's ack.
t0 = performance.now();
const streams: AgentStream[] = await inBatches(AGENTS, 100, async (i) => {
  const s = connect(hub, identities[i]!);
  s.send(0n, {
    $case: 'hello',
    value: {
      clusterName: name(i),
      agentVersion: 'bench',
      lastAckedHubSeq: 0n,
      labels: {},
      apps: [],
      repoUrl: 'http://git.example/fleet.git',
      branch: 'main',
    },
  });
  await s.next(30_000);
  return s;
});
const connectMs = performance.now() - t0;
const rssConnected = await rss();

// 3. Every agent sends REPORTS reports at once; done when every report is acked.
t0 = performance.now();
await Promise.all(
  streams.map(async (s, i) => {
    for (let k = 1; k <= REPORTS; k++) s.send(BigInt(k), report(i, k));
    for (;;) {
      const m = await s.next(120_000);
      if (m.body?.$case === 'ack' && m.body.value.agentSeq === BigInt(REPORTS)) return;
    }
  }),
);
const ingestMs = performance.now() - t0;
const total = AGENTS * REPORTS;
const rssLoaded = await rss();

// 4. Fleet-wide drift queries by label selector at this size.
const latencies: number[] = [];
for (const selector of ['env=prod', 'env=dev,region=eu', 'region=us', '']) {
  for (let r = 0; r < 20; r++) {
    const q0 = performance.now();
    const res = await api(
      hub,
      admin,
      'GET',
      `/api/v1/drift?limit=500&selector=${encodeURIComponent(selector)}`,
    );
    if (res.status !== 200) throw new Error(`drift query failed: ${JSON.stringify(res.body)}`);
    latencies.push(performance.now() - q0);
  }
}
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
const drifts = (await api(hub, admin, 'GET', '/api/v1/drift?limit=5000&selector=env%3Dprod'))
  .body as { items: unknown[] };

console.log(
  JSON.stringify(
    {
      store,
      agents: AGENTS,
      reportsPerAgent: REPORTS,
      enroll: { totalMs: Math.round(enrollMs), perAgentMs: +(enrollMs / AGENTS).toFixed(1) },
      connect: { totalMs: Math.round(connectMs) },
      ingest: {
        reports: total,
        ms: Math.round(ingestMs),
        reportsPerSecond: Math.round(total / (ingestMs / 1000)),
      },
      driftQuery: {
        p50Ms: +pct(0.5).toFixed(1),
        p95Ms: +pct(0.95).toFixed(1),
        maxMs: +pct(1).toFixed(1),
        prodRows: drifts.items.length,
      },
      hubRssMiB: {
        idle: Math.round(rssIdle),
        connected: Math.round(rssConnected),
        afterIngest: Math.round(rssLoaded),
      },
    },
    null,
    2,
  ),
);

for (const s of streams) s.close();
await hub.stop();
await pgServer?.stop();
process.exit(0);
