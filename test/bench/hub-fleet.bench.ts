// Hub at fleet scale: N simulated agents (this process: each with its own hub-signed client
// certificate and its own gRPC/mTLS connection) stream reports to a real `driftless-hub`
// process sharing the machine. Rounds on the same enrolled fleet and data: group commit
// (the default `--ingest-batch-max`), then the hub restarted with `--ingest-batch-max 1` (one
// transaction per report) as the baseline. Per round: reports/s counted by acks (an ack is
// sent only after the commit), ack latency, hub RSS per connected agent, hub CPU per 1,000
// reports (from /proc), event-loop lag and the cost of one /metrics scrape; then, with every
// agent connected, the fleet-wide drift query, the clusters and apps lists and the
// dashboard's first paint in Chromium. Results go to docs/benchmarks.md ("Hub at fleet scale").
//   node --expose-gc test/bench/hub-fleet.bench.ts [--agents 10000] [--reports 24]
//        [--store sqlite|postgres] [--batch-max 256] [--rounds batched,unbatched]
//        [--unbatched-reports N] [--enroll-concurrency 32] [--connect-concurrency 200]
//        [--drift-queries 25] [--drift-client process|simulator|both] [--first-paint 3]
//        [--transport grpc|nats]
//        [--hub-node-options '--cpu-prof --cpu-prof-dir=DIR']
// Every flag also reads HUB_FLEET_<NAME> from the environment (HUB_FLEET_AGENTS=2000 ...).
// Each agent's first 20 reports are the status of its 20 apps; the rest alternate a drift and
// a sync result. Agents share one key pair (key generation is not what is measured); every
// agent still has its own certificate, CN and TLS connection. Enrollment uses the hub's real
// path (token from the API, Enroll with a CSR) over one shared HTTP/2 session.
// With --transport nats the agents link through a real nats-server (test/bench/lib/fleet-nats.ts):
// each its own NATS connection and user JWT, reports into the JetStream stream, acks from the
// hub after the commit on the agent's down subject; nats-server's RSS and CPU are measured too.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  DriftType,
  HealthStatus,
  SyncMode,
  SyncOutcome,
  SyncStatus,
  type AgentMessageBody,
  type EnrollResponse,
} from '@driftless/proto';
import { startPostgres } from '@driftless/test';
import {
  agentClient,
  api,
  makeAgentKey,
  startHubProcess,
  type HubProcess,
} from '../integration/hub/helpers.ts';
import { ensureDashboardBuilt, launchBrowser, newPage, signIn } from '../browser/fleet.ts';
import { loadFleet, saveFleet } from './lib/fleet-cache.ts';
import { connectFleetAgent, type FleetAgentStream } from './lib/fleet-agent.ts';
import { startQueryClient } from './lib/query-client.ts';
import {
  connectFleetNatsAgent,
  fleetNatsUser,
  issueFleetNatsCredentials,
  startFleetNats,
} from './lib/fleet-nats.ts';

// Every size is a flag with an environment variable as its default, so a CI job or a
// shell loop sets them without editing the command.
const env = (name: string, fallback: string) => process.env[`HUB_FLEET_${name}`] ?? fallback;
const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: env('AGENTS', '10000') },
    reports: { type: 'string', default: env('REPORTS', '24') },
    store: { type: 'string', default: env('STORE', 'sqlite') },
    'batch-max': { type: 'string', default: env('BATCH_MAX', '256') },
    rounds: { type: 'string', default: env('ROUNDS', 'batched,unbatched') },
    'unbatched-reports': { type: 'string', default: env('UNBATCHED_REPORTS', '') },
    'enroll-concurrency': { type: 'string', default: env('ENROLL_CONCURRENCY', '32') },
    'connect-concurrency': { type: 'string', default: env('CONNECT_CONCURRENCY', '200') },
    'drift-queries': { type: 'string', default: env('DRIFT_QUERIES', '25') },
    'first-paint': { type: 'string', default: env('FIRST_PAINT', '3') },
    'fleet-cache': { type: 'string', default: env('FLEET_CACHE', '') },
    'stop-after': { type: 'string', default: env('STOP_AFTER', '') },
    // Node options of the hub process only (a CPU profile: `--cpu-prof --cpu-prof-dir=DIR`).
    'hub-node-options': { type: 'string', default: env('HUB_NODE_OPTIONS', '') },
    // PostgreSQL server settings, `name=value,…` (durable: `fsync=on,synchronous_commit=on`).
    'postgres-settings': { type: 'string', default: env('POSTGRES_SETTINGS', '') },
    transport: { type: 'string', default: env('TRANSPORT', 'grpc') },
    // Who times the drift queries: a process of its own (as a user's browser would), this
    // simulator process (its own pauses then count as the hub's), or both, in that order.
    'drift-client': { type: 'string', default: env('DRIFT_CLIENT', 'process') },
  },
});
const AGENTS = Number(values.agents);
const REPORTS = Number(values.reports);
const APPS = 20;
const store = values.store === 'postgres' ? 'postgres' : 'sqlite';
const rounds = values.rounds.split(',').map((r) => r.trim());
if (values.transport !== 'grpc' && values.transport !== 'nats')
  throw new Error(`--transport: grpc or nats, not ${values.transport}`);
const transport = values.transport;
if (!['process', 'simulator', 'both'].includes(values['drift-client']))
  throw new Error(`--drift-client: process, simulator or both, not ${values['drift-client']}`);
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

const pgSettings = Object.fromEntries(
  values['postgres-settings']
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const pgServer = store === 'postgres' ? await startPostgres({ settings: pgSettings }) : undefined;

/** Starts the hub with `--hub-node-options` added to its NODE_OPTIONS (it spawns synchronously). */
function startHub(options: Parameters<typeof startHubProcess>[0]): Promise<HubProcess> {
  const saved = process.env['NODE_OPTIONS'];
  const extra = values['hub-node-options'];
  if (extra) process.env['NODE_OPTIONS'] = [saved, extra].filter(Boolean).join(' ');
  try {
    return startHubProcess(options);
  } finally {
    if (saved === undefined) delete process.env['NODE_OPTIONS'];
    else process.env['NODE_OPTIONS'] = saved;
  }
}
const name = (i: number) => `fleet-${String(i).padStart(5, '0')}`;

/** One simulated agent: its stream, index, the seq its reports follow, and who takes its acks. */
interface Sim {
  s: FleetAgentStream;
  i: number;
  base: number;
  onAck?: (seq: number) => void;
}

/** fn(0) … fn(n - 1) with at most `concurrency` running at once; results in index order. */
async function pool<T>(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

/** Report j (1-based) of agent i in a round; ids repeat across rounds except sync ids. */
const report = (i: number, j: number, seq: number): AgentMessageBody => {
  const now = BigInt(Date.now());
  if (j <= APPS)
    return {
      $case: 'appStatus',
      value: {
        app: `app-${j - 1}`,
        revision: 'a'.repeat(40),
        syncStatus: SyncStatus.SYNC_STATUS_SYNCED,
        health: HealthStatus.HEALTH_STATUS_HEALTHY,
        healthMessage: '',
        driftCount: 0,
        planDigest: '',
        pendingPlan: [],
        message: '',
        lastSyncUnixMs: now,
        syncMode: SyncMode.SYNC_MODE_AUTO,
      },
    };
  if (j % 2 === 1)
    return {
      $case: 'driftReport',
      value: {
        driftId: `${name(i)}-d${j}`,
        app: `app-${j % APPS}`,
        object: {
          group: 'apps',
          version: 'v1',
          kind: 'Deployment',
          namespace: 'ns',
          name: `w${j}`,
        },
        type: DriftType.DRIFT_TYPE_MODIFIED,
        fields: [{ path: 'spec.replicas', desiredJson: '3', liveJson: '5' }],
        changedBy: 'kubectl-edit',
        detectedUnixMs: now,
        healed: false,
        healedUnixMs: 0n,
        message: '',
        lastSyncTraceId: '',
      },
    };
  return {
    $case: 'syncResult',
    value: {
      syncId: `${name(i)}-s${seq}`,
      app: `app-${j % APPS}`,
      revision: 'a'.repeat(40),
      result: SyncOutcome.SYNC_OUTCOME_SUCCEEDED,
      error: '',
      planDigest: 'p',
      objects: [],
      steps: [{ name: 'fetch', durationMs: 10 }],
      traceId: '',
      startedUnixMs: now - 100n,
      finishedUnixMs: now,
      health: HealthStatus.HEALTH_STATUS_HEALTHY,
      retryable: false,
      approvalId: '',
    },
  };
};

/**
 * The hub process's CPU seconds, RSS and open fds, read from /proc: scraping /metrics would
 * itself cost the hub a read of every app of the fleet (one gauge series per app).
 */
async function hubMetrics(hub: HubProcess) {
  return procMetrics(hub.proc.pid!);
}

/** CPU seconds, RSS and open fds of process `pid` (the hub, nats-server). */
async function procMetrics(pid: number) {
  const { readFile, readdir } = await import('node:fs/promises');
  // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): utime, stime in ticks.
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return {
    rssMiB: Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024,
    /** The highest RSS so far. */
    peakRssMiB: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024,
    cpuS: (Number(stat[11]) + Number(stat[12])) / 100,
    /** Of which in the kernel (system calls: socket reads and writes, epoll). */
    sysS: Number(stat[12]) / 100,
    fds: (await readdir(`/proc/${pid}/fd`)).length,
  };
}

/**
 * One /metrics scrape: how long it took and the event-loop lag p99 the hub saw since the
 * previous scrape (prom-client resets that histogram on every scrape).
 */
async function scrape(hub: HubProcess) {
  const t = performance.now();
  const m = String((await api(hub, undefined, 'GET', '/metrics')).body);
  const ms = performance.now() - t;
  const gauge = (name: string) =>
    Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(m)?.[1] ?? NaN);
  const mib = (name: string) => Math.round(gauge(name) / 1024 / 1024);
  return {
    ms: Math.round(ms),
    lagP99Ms: Math.round(gauge('nodejs_eventloop_lag_p99_seconds') * 1000),
    bytes: m.length,
    // What of the hub's memory is the JavaScript heap (in use / reserved) and off-heap buffers.
    heapMiB: {
      used: mib('nodejs_heap_size_used_bytes'),
      total: mib('nodejs_heap_size_total_bytes'),
      external: mib('nodejs_external_memory_bytes'),
    },
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1);
};
const loadAvg = async () =>
  (await import('node:fs/promises')).readFile('/proc/loadavg', 'utf8').then((s) => s.trim());

// 1. One hub, a fleet of enrolled agents (token over the API, CSR, Enroll over gRPC). With
// --fleet-cache DIR a fleet enrolled by an earlier run is reused: its hub data directory (CA,
// store; on PostgreSQL a dump of the database) and every agent's certificate, each issued by
// that run's real Enroll.
const cache = values['fleet-cache'];
const cached = cache ? await loadFleet(cache, AGENTS, pgServer) : undefined;
// NATS: the hub's NATS keys must be in its data directory before nats-server starts.
const natsDataDir =
  transport === 'nats'
    ? (cached?.dataDir ?? mkdtempSync(join(tmpdir(), 'driftless-hub-fleet-')))
    : undefined;
const nats = natsDataDir ? await startFleetNats(natsDataDir) : undefined;
const natsArgs = nats ? ['--nats-url', nats.url] : [];
const natsMetrics = async () => {
  const pid = nats?.process.serverPid();
  return pid === undefined ? undefined : procMetrics(pid);
};
const natsUser = nats ? fleetNatsUser() : undefined;
let hub = await startHub({
  store,
  databaseUrl: pgServer?.connectionString,
  dataDir: natsDataDir ?? cached?.dataDir,
  args: natsArgs,
});
const admin = cached?.admin ?? hub.bootstrapToken!;
const dataDir = hub.dataDir;
const idle = await hubMetrics(hub);
let t0 = performance.now();
let enrollRetries = 0;
let identities = cached?.identities ?? (await enrollFleet());
const enrollMs = cached ? Number.NaN : performance.now() - t0;
if (cache && !cached) await saveFleet(cache, { dataDir, admin, identities }, pgServer);
if (natsUser && identities.some((x) => !x.nats)) {
  // A cached fleet enrolled over gRPC only: its NATS credentials are signed now, with the
  // hub's own account key, by what Enroll calls for an agent that sends a NATS key.
  t0 = performance.now();
  const creds = await issueFleetNatsCredentials(
    dataDir,
    identities.map((_, i) => name(i)),
    cache || undefined,
  );
  identities = identities.map((x, i) => ({ ...x, nats: creds[i]! }));
  log(
    `NATS credentials of ${identities.length} agents in ${Math.round(performance.now() - t0)} ms`,
  );
}

async function enrollFleet() {
  const key = await makeAgentKey();
  // Enrollment goes through the hub's real path (a token from the API, then Enroll with a CSR
  // over gRPC), but over one shared HTTP/2 session: Enroll needs no client certificate, and a
  // TLS handshake per enrollment would measure the simulator, not the hub. Each agent still
  // gets its own certificate, and connects below over its own mTLS connection.
  const enrollClient = agentClient(hub);
  // Over NATS each agent enrolls with a NATS user key of its own (the hub refuses a key it
  // issued credentials for before), made as the agent makes it.
  const enrollOne = (req: { token: string; clusterName: string }, natsPublicKey?: string) =>
    new Promise<EnrollResponse>((resolve, reject) =>
      enrollClient.enroll(
        {
          ...req,
          csrPem: key.csrPem,
          agentVersion: 'bench',
          labels: {},
          ...(natsPublicKey ? { natsUserPublicKey: natsPublicKey } : {}),
        },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
  const out = await pool(AGENTS, Number(values['enroll-concurrency']), async (i) => {
    const t = await api(hub, admin, 'POST', '/api/v1/tokens', {
      cluster: name(i),
      labels: { env: i % 4 === 0 ? 'prod' : 'dev', region: i % 2 ? 'eu' : 'us' },
    });
    if (t.status !== 201 && t.status !== 200)
      throw new Error(`token for ${name(i)}: ${t.status} ${JSON.stringify(t.body)}`);
    const user = natsUser ? fleetNatsUser() : undefined;
    // As an agent does: a hub too busy to answer (UNAVAILABLE) is asked again after a pause.
    for (let left = 5; ; left--) {
      try {
        const res = await enrollOne(
          { token: (t.body as { token: string }).token, clusterName: name(i) },
          user?.publicKey,
        );
        if ((i + 1) % 1000 === 0) log(`enrolled ${i + 1}`);
        if (natsUser && !res.natsUserJwt)
          throw new Error(`enroll ${name(i)}: the hub issued no NATS credentials`);
        return {
          keyPem: key.keyPem,
          certPem: res.certificatePem,
          ...(user ? { nats: { seed: user.seed, jwt: res.natsUserJwt! } } : {}),
        };
      } catch (err) {
        if ((err as { code?: number }).code !== 14 || left === 0) throw err;
        enrollRetries++;
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
      }
    }
  });
  enrollClient.close();
  return out;
}

const results: Record<string, unknown> = {};
for (const [r, round] of rounds.entries()) {
  const batchMax = round === 'unbatched' ? '1' : values['batch-max'];
  if (r > 0) {
    await hub.stop();
    hub = await startHub({
      store,
      dataDir,
      databaseUrl: pgServer?.connectionString,
      args: ['--ingest-batch-max', batchMax, ...natsArgs],
    });
  } else if (batchMax !== '256') {
    throw new Error('the first round runs the hub with its default --ingest-batch-max 256');
  }
  const before = await hubMetrics(hub);
  const natsBefore = await natsMetrics();
  const n =
    round === 'unbatched' && values['unbatched-reports']
      ? Number(values['unbatched-reports'])
      : REPORTS;

  // 2. Connect every agent (its own TLS connection) and wait for each Hello's ack.
  t0 = performance.now();
  const connectFailures: string[] = [];
  let helloAcked = 0;
  const opened = await pool(AGENTS, Number(values['connect-concurrency']), async (i) => {
    const s = nats
      ? connectFleetNatsAgent(nats.url, name(i), identities[i]!)
      : connectFleetAgent(hub, identities[i]!);
    const sim: Sim = { s, i, base: 0 };
    // The Hello's ack names the last report the hub stored (a cached fleet has some); later
    // acks go to the ingest below.
    const helloAck = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('no ack of the Hello within 120 s')),
        120_000,
      );
      sim.s.onMessage((m) => {
        if (m.body?.$case !== 'ack') return;
        const seq = Number(m.body.value.agentSeq);
        if (sim.onAck) return sim.onAck(seq);
        clearTimeout(timer);
        resolve(seq);
      });
      void sim.s.status.then((st) => {
        clearTimeout(timer);
        reject(new Error(`stream ended before the Hello's ack: ${st.code} ${st.details}`));
      });
    });
    sim.s.send(0n, {
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
    try {
      sim.base = await helloAck;
    } catch (err) {
      // No ack for the Hello: the hub did not hold this agent. Counted, and left out.
      connectFailures.push(`${name(i)}: ${(err as Error).message}`);
      sim.s.close();
      return undefined;
    }
    if (++helloAcked % 500 === 0)
      log(`${round}: ${helloAcked} connected, ${connectFailures.length} failed`);
    return sim;
  });
  const streams = opened.filter((x): x is Sim => x !== undefined);
  const endStatuses = new Map<string, number>();
  for (const { s } of streams)
    void s.status.then((st) => {
      const k = `${st.code} ${st.details.slice(0, 80)}`;
      endStatuses.set(k, (endStatuses.get(k) ?? 0) + 1);
    });
  const connectMs = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 2000)); // let RSS settle after the burst
  const connected = await hubMetrics(hub);
  const natsConnected = await natsMetrics();
  log(`${round}: ${streams.length} connected in ${Math.round(connectMs)} ms`);
  if (values['stop-after'] === 'connect') {
    log(
      JSON.stringify({
        connected: streams.length,
        connectMs,
        hub: connected,
        hubRssKiBPerConnectedAgent: Math.round(
          ((connected.rssMiB - before.rssMiB) * 1024) / streams.length,
        ),
        nats: natsConnected,
        natsRssKiBPerConnectedAgent:
          natsConnected && natsBefore
            ? Math.round(((natsConnected.rssMiB - natsBefore.rssMiB) * 1024) / streams.length)
            : undefined,
        firstFailure: connectFailures[0],
        loadAvg: await loadAvg(),
      }),
    );
    await hub.stop();
    await nats?.stop();
    process.exit(0);
  }

  // 3. Every agent sends its reports at once; an ack of seq s acks every report up to s.
  const latencies: number[] = [];
  // Resets the lag histogram (the next scrape covers the ingest only); the heap before it.
  const preIngest = await scrape(hub);
  t0 = performance.now();
  const simCpu0 = process.cpuUsage();
  const ingestStartMs = Date.now();
  let streamsEnded = 0;
  let unacked = 0;
  // A stream the hub ends (e.g. UNAVAILABLE when the store cannot keep up) is counted, not
  // waited for: the simulator does not reconnect.
  await Promise.all(
    streams.map(
      (sim) =>
        new Promise<void>((done) => {
          const sentAt: number[] = [];
          let acked = 0;
          sim.onAck = (seq) => {
            const upTo = seq - sim.base;
            const now = performance.now();
            for (; acked < upTo; acked++) latencies.push(now - sentAt[acked]!);
            if (acked >= n) done();
          };
          void sim.s.status.then(() => {
            if (acked >= n) return;
            streamsEnded++;
            unacked += n - acked;
            done();
          });
          for (let j = 1; j <= n; j++) {
            sentAt.push(performance.now());
            sim.s.send(BigInt(sim.base + j), report(sim.i, j, sim.base + j));
          }
        }),
    ),
  );
  const ingestMs = performance.now() - t0;
  const simCpu = process.cpuUsage(simCpu0);
  // The simulator shares the cores: its CPU during the ingest says how much it took.
  const simulatorCpuS = +((simCpu.user + simCpu.system) / 1e6).toFixed(1);
  const loaded = await hubMetrics(hub);
  const natsLoaded = await natsMetrics();
  // Work the acks do not wait for (notifications derived from the reports, commit statuses)
  // goes on after the last ack: the hub's CPU counts until it is quiet (under 5 % of a core
  // over 3 s), at most 5 minutes.
  let settled = loaded;
  for (const deadline = performance.now() + 300_000; performance.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const now = await hubMetrics(hub);
    const busy = now.cpuS - settled.cpuS;
    settled = now;
    if (busy < 0.15) break;
  }
  const hubLog = hub.stderr();
  // The hub's whole log, for a run to be looked into (HUB_FLEET_HUB_LOG=FILE).
  if (process.env.HUB_FLEET_HUB_LOG)
    (await import('node:fs')).writeFileSync(process.env.HUB_FLEET_HUB_LOG, hubLog);
  // gRPC: "agent disconnected"; NATS: "agent disconnected (no heartbeat)".
  const disconnects = hubLog.split('"agent disconnected').length - 1;
  // Over NATS: the hub's own connection's events (a disconnect loses core messages such as
  // heartbeats) and what nats-server counted as slow consumers.
  const natsEvents = nats
    ? {
        hubConnection: Object.fromEntries(
          [...hubLog.matchAll(/NATS link: (\w+)/g)].reduce(
            (m, [, type]) => m.set(type!, (m.get(type!) ?? 0) + 1),
            new Map<string, number>(),
          ),
        ),
        // When the hub marked agents disconnected, in s from the start of the ingest.
        disconnectedAtS: (() => {
          const at = hubLog
            .split('\n')
            .filter((l) => l.includes('"agent disconnected'))
            .map(
              (l) => (Date.parse((JSON.parse(l) as { time: string }).time) - ingestStartMs) / 1000,
            );
          return at.length ? { first: Math.min(...at), last: Math.max(...at) } : undefined;
        })(),
        slowConsumers: (
          (await (await fetch(`${nats.monitorUrl}/varz`)).json()) as { slow_consumers?: number }
        ).slow_consumers,
      }
    : undefined;
  const natsStats =
    natsBefore && natsConnected && natsLoaded
      ? {
          rssMiB: {
            start: Math.round(natsBefore.rssMiB),
            connected: Math.round(natsConnected.rssMiB),
            afterIngest: Math.round(natsLoaded.rssMiB),
          },
          rssKiBPerConnectedAgent: Math.round(
            ((natsConnected.rssMiB - natsBefore.rssMiB) * 1024) / streams.length,
          ),
          cpuSecondsPer1000Reports: +(
            ((natsLoaded.cpuS - natsConnected.cpuS) / (streams.length * n)) *
            1000
          ).toFixed(3),
        }
      : undefined;
  // The drift queries' own process, warmed up now so that its timed queries start right after
  // the scrape below, where the simulator's start.
  const driftPaths = ['', 'env=prod', 'env=dev,region=eu', 'region=us'].map(
    (selector) => `/api/v1/drift?limit=500&selector=${encodeURIComponent(selector)}`,
  );
  const driftTimes = Number(values['drift-queries']);
  const driftClient =
    values['stop-after'] !== 'ingest' && values['drift-client'] !== 'simulator'
      ? await startQueryClient({
          http: hub.http,
          token: admin,
          paths: driftPaths,
          times: driftTimes,
          warmup: '/healthz',
        })
      : undefined;
  const scraped = await scrape(hub);
  const total = streams.length * n;
  log(`${round}: ${total} reports in ${Math.round(ingestMs)} ms`);
  if (values['stop-after'] === 'ingest') {
    log(
      JSON.stringify({
        reportsPerSecond: Math.round((total - unacked) / (ingestMs / 1000)),
        hubCpuSecondsPer1000Reports: +(((loaded.cpuS - connected.cpuS) / total) * 1000).toFixed(3),
        hubCpuSecondsPer1000ReportsSettled: +(
          ((settled.cpuS - connected.cpuS) / total) *
          1000
        ).toFixed(3),
        hubSystemCpuSecondsPer1000Reports: +(
          ((loaded.sysS - connected.sysS) / total) *
          1000
        ).toFixed(3),
        hubDisconnects: disconnects,
        ...(natsEvents ? { natsEvents } : {}),
        hubRssMiB: Math.round(loaded.rssMiB),
        hubRssMiBConnected: Math.round(connected.rssMiB),
        hubRssMiBSettled: Math.round(settled.rssMiB),
        hubPeakRssMiB: Math.round(settled.peakRssMiB),
        hubHeapMiBConnected: preIngest.heapMiB,
        hubHeapMiBSettled: scraped.heapMiB,
        hubRssKiBPerConnectedAgent: Math.round(
          ((connected.rssMiB - before.rssMiB) * 1024) / streams.length,
        ),
        ackLatencyMs: {
          p50: pct(latencies, 0.5),
          p99: pct(latencies, 0.99),
          max: pct(latencies, 1),
        },
        nats: natsStats,
        simulatorCpuS,
        connected: streams.length,
        connectFailed: connectFailures.length,
        firstFailure: connectFailures[0],
        streamsEnded,
        endStatuses: Object.fromEntries(endStatuses),
        loadAvg: await loadAvg(),
      }),
    );
    await hub.stop();
    await nats?.stop();
    process.exit(0);
  }

  // 4. Fleet-wide queries at this size (every agent still connected).
  const query = async (path: string, n: number) => {
    const ms: number[] = [];
    for (let k = 0; k < n; k++) {
      const q0 = performance.now();
      const res = await api(hub, admin, 'GET', path);
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
      ms.push(performance.now() - q0);
    }
    return ms;
  };
  /**
   * The drift queries timed by `client`, with the simulator's own pauses meanwhile (its GC, its
   * event loop): a query the simulator times as slow may have waited in this process.
   */
  const timeDrift = async (client: 'process' | 'simulator') => {
    const gc: number[] = [];
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gc.push(e.duration);
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const ms: number[] = [];
    if (client === 'simulator')
      for (const path of driftPaths) ms.push(...(await query(path, driftTimes)));
    else ms.push(...(await driftClient!.run()));
    loop.disable();
    gcObserver.disconnect();
    return {
      p50: pct(ms, 0.5),
      p99: pct(ms, 0.99),
      max: pct(ms, 1),
      // In the order run (4 selectors in turn): shows whether a slow one is a first, cold query.
      samples: ms.map((x) => Math.round(x)),
      client,
      simulator: {
        gcPauses: gc.length,
        gcPauseMsMax: +Math.max(0, ...gc).toFixed(1),
        eventLoopDelayMsMax: +(loop.max / 1e6).toFixed(1),
      },
    };
  };
  // `both`: the separate process first (the figure reported), then the simulator.
  const driftQueryMs = await timeDrift(
    values['drift-client'] === 'simulator' ? 'simulator' : 'process',
  );
  const driftQueryMsSimulatorClient =
    values['drift-client'] === 'both' ? await timeDrift('simulator') : undefined;
  const clusters = await query('/api/v1/clusters', 10);
  const oneCluster = await query(`/api/v1/clusters/${name(0)}`, 10);
  const appsAll = await query('/api/v1/apps', 1);
  const appsPage = await query('/api/v1/apps?limit=5000', 3);

  // 5. Dashboard first paint: Chromium signs in and waits for the first matrix row (the
  // dashboard reads the clusters and the first page of apps, then paints). Each sample is a
  // fresh browser context; every agent is still connected.
  const firstPaint: number[] = [];
  if (values['first-paint'] !== '0') {
    ensureDashboardBuilt();
    const browser = await launchBrowser();
    try {
      for (let k = 0; k < Number(values['first-paint']); k++) {
        const { context, page } = await newPage(browser);
        const p0 = performance.now();
        await signIn(page, hub, admin);
        await page.locator(`tr[data-cluster="${name(0)}"]`).waitFor({ timeout: 120_000 });
        firstPaint.push(performance.now() - p0);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  }

  results[round] = {
    ingestBatchMax: Number(batchMax),
    connect: {
      ms: Math.round(connectMs),
      perSecond: Math.round(streams.length / (connectMs / 1000)),
      connected: streams.length,
      failed: connectFailures.length,
      firstFailure: connectFailures[0] ?? null,
    },
    streamEndStatuses: Object.fromEntries(endStatuses),
    ingest: {
      reports: total,
      ms: Math.round(ingestMs),
      reportsPerSecond: Math.round((total - unacked) / (ingestMs / 1000)),
      streamsEnded,
      unacked,
      ackLatencyMs: { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), max: pct(latencies, 1) },
      hubCpuSecondsPer1000Reports: +(((loaded.cpuS - connected.cpuS) / total) * 1000).toFixed(3),
      hubCpuSecondsPer1000ReportsSettled: +(
        ((settled.cpuS - connected.cpuS) / total) *
        1000
      ).toFixed(3),
      hubDisconnects: disconnects,
      hubEventLoopLagP99Ms: scraped.lagP99Ms,
      simulatorCpuS,
    },
    hub: {
      rssMiB: {
        start: Math.round(before.rssMiB),
        connected: Math.round(connected.rssMiB),
        afterIngest: Math.round(loaded.rssMiB),
      },
      rssKiBPerConnectedAgent: Math.round(
        ((connected.rssMiB - before.rssMiB) * 1024) / streams.length,
      ),
      openFds: loaded.fds,
      metricsScrape: { ms: scraped.ms, kiB: Math.round(scraped.bytes / 1024) },
      heapMiBConnected: preIngest.heapMiB,
      heapMiBSettled: scraped.heapMiB,
    },
    ...(natsStats ? { natsServer: natsStats } : {}),
    driftQueryMs,
    ...(driftQueryMsSimulatorClient ? { driftQueryMsSimulatorClient } : {}),
    clustersListMs: { p50: pct(clusters, 0.5), max: pct(clusters, 1) },
    oneClusterMs: { p50: pct(oneCluster, 0.5), max: pct(oneCluster, 1) },
    appsListMs: { all: pct(appsAll, 0.5), firstPageOf5000: pct(appsPage, 0.5) },
    dashboardFirstPaintMs: firstPaint.length
      ? { median: pct(firstPaint, 0.5), min: pct(firstPaint, 0), max: pct(firstPaint, 1) }
      : null,
    loadAvg: await loadAvg(),
  };
  log(JSON.stringify(results[round]));
  for (const { s } of streams) s.close();
}

console.log(
  JSON.stringify(
    {
      store,
      transport,
      agents: AGENTS,
      reportsPerAgent: REPORTS,
      appsPerCluster: APPS,
      enroll: {
        totalMs: Math.round(enrollMs),
        perSecond: Math.round(AGENTS / (enrollMs / 1000)),
        retries: enrollRetries,
      },
      hubRssIdleMiB: Math.round(idle.rssMiB),
      rounds: results,
    },
    null,
    2,
  ),
);
await hub.stop();
await nats?.stop();
await pgServer?.stop();
process.exit(0);
