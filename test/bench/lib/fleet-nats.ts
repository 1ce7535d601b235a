/**
 * The NATS side of the fleet benchmark: a nats-server with JetStream trusting the hub's
 * operator (the operator's steps of docs/hub.md, "NATS"), NATS credentials for every simulated
 * agent, and each agent's link through the agent's own {@link NatsTransport} — its own NATS
 * connection with its own user JWT, the Hello as a request, reports published into the
 * JetStream stream, the hub's acks on its down subject — plus a heartbeat every 15 s, as the
 * agent's link sends one (the hub marks a NATS-linked cluster disconnected without them).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createUser, encodeUser, fromSeed } from '@nats-io/jwt';
import { AgentMessage, type HubMessage } from '@driftless/proto';
import { NatsTransport, type LinkTransport } from '@driftless/agent';
import { hubNatsConfig, startNats, type NatsServer } from '@driftless/test';
import {
  agentPermissions,
  NatsAuthority,
  nativeKeyPair,
} from '../../../hub/src/enroll/nats-auth.ts';
import type { FleetAgentStream } from './fleet-agent.ts';
import type { FleetIdentity } from './fleet-cache.ts';

/** The agent link's heartbeat interval (HUB_LINK_DEFAULTS.heartbeatIntervalMs). */
const HEARTBEAT_MS = 15_000;
/** The agent link's ack timeout (HUB_LINK_DEFAULTS.ackTimeoutMs). */
const ACK_TIMEOUT_MS = 15_000;

/**
 * The longest wait of each simulated agent for the hub's next ack while reports it wrote to
 * the transport were unacked, as the agent link's ack timeout measures it: `fromWrite` from a
 * write with nothing in flight or from the last ack (the link before `onStored`), `fromStored`
 * also from each JetStream ack of a publish (the link now). The simulator does not reconnect
 * on it; an agent whose wait passed {@link ACK_TIMEOUT_MS} would have reconnected and resent.
 * Printed as one JSON line when the process exits (`natsAckWaits`).
 */
const longestAckWaitMs = { fromWrite: [] as number[], fromStored: [] as number[] };
process.on('exit', () => {
  const summary = (waits: number[]) => {
    const sorted = [...waits].sort((a, b) => a - b);
    const at = (p: number) =>
      Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
    return {
      agents: sorted.length,
      overAckTimeout: sorted.filter((ms) => ms > ACK_TIMEOUT_MS).length,
      longestMs: { p50: at(0.5), p99: at(0.99), max: at(1) },
    };
  };
  if (longestAckWaitMs.fromWrite.length === 0) return;
  console.log(
    JSON.stringify({
      natsAckWaits: {
        fromWrite: summary(longestAckWaitMs.fromWrite),
        fromStored: summary(longestAckWaitMs.fromStored),
      },
    }),
  );
});

/**
 * Starts nats-server with JetStream for the hub whose data directory is `dataDir`: the hub's
 * NATS keys are made there when missing (`driftless-hub nats-config`), as an operator does.
 */
export function startFleetNats(dataDir: string): Promise<NatsServer> {
  return startNats({ jetstream: true, config: hubNatsConfig(dataDir) });
}

/** One user nkey every simulated agent enrolls with (as they share one TLS key pair). */
export function fleetNatsUser(): { publicKey: string; seed: string } {
  const user = createUser();
  return { publicKey: user.getPublicKey(), seed: new TextDecoder().decode(user.getSeed()) };
}

/**
 * NATS credentials for agents of a cached fleet that enrolled without them: user JWTs signed
 * with the hub's own account signing key in `dataDir` by the function Enroll calls
 * (`NatsAuthority.issueAgentUser`), each allowed only its cluster's subjects. Signing takes
 * a fraction of a ms each (native Ed25519, {@link nativeKeyPair}); with `cacheDir` (the fleet
 * cache, whose hub keys sign them) they are kept in `nats-credentials.json` for later runs.
 */
export async function issueFleetNatsCredentials(
  dataDir: string,
  clusters: string[],
  cacheDir?: string,
): Promise<{ seed: string; jwt: string }[]> {
  const file = cacheDir ? join(cacheDir, 'nats-credentials.json') : undefined;
  if (file && existsSync(file)) {
    const saved = JSON.parse(await readFile(file, 'utf8')) as { seed: string; jwt: string }[];
    if (saved.length >= clusters.length) return saved.slice(0, clusters.length);
  }
  const user = fleetNatsUser();
  // Make sure the keys exist (the hub makes them on its first start), then sign as
  // NatsAuthority.issueAgentUser does: same claims, same account signing key.
  await NatsAuthority.loadOrCreate(dataDir);
  const seed = async (file: string) =>
    fromSeed(new TextEncoder().encode((await readFile(join(dataDir, file), 'utf8')).trim()));
  const account = await seed('nats-account.nk');
  const signer = nativeKeyPair(await seed('nats-account-signing.nk'));
  const issuerAccount = account.getPublicKey();
  const out: { seed: string; jwt: string }[] = [];
  // 200 at a time: each JWT awaits a SHA-512 digest (its id) on the thread pool.
  for (let i = 0; i < clusters.length; i += 200)
    out.push(
      ...(await Promise.all(
        clusters.slice(i, i + 200).map(async (cluster) => ({
          seed: user.seed,
          jwt: await encodeUser(
            `agent ${cluster}`,
            user.publicKey,
            signer,
            { issuer_account: issuerAccount, ...agentPermissions(cluster) },
            {},
          ),
        })),
      )),
    );
  if (file) await writeFile(file, JSON.stringify(out));
  return out;
}

const noEnroll: LinkTransport = {
  enroll: () => Promise.reject(new Error('the fleet bench enrolls its agents itself')),
  connect: () => {
    throw new Error('unused');
  },
};

/**
 * Opens agent `cluster`'s NATS link with `identity` (which must carry NATS credentials). The
 * Hello waits up to `helloTimeoutMs` for its answer (the simulator does not reconnect, so it
 * waits as long as it counts an agent held). The environment variable `HUB_FLEET_NATS_WINDOW`
 * sets the transport's reports in flight to JetStream (`maxInFlight`; default the agent's).
 */
export function connectFleetNatsAgent(
  servers: string,
  cluster: string,
  identity: FleetIdentity,
  helloTimeoutMs = 120_000,
): FleetAgentStream {
  if (!identity.nats) throw new Error(`cluster ${cluster}: no NATS credentials in its identity`);
  const window = Number(process.env.HUB_FLEET_NATS_WINDOW) || undefined;
  const transport = new NatsTransport({
    servers,
    cluster,
    enrollVia: noEnroll,
    helloTimeoutMs,
    ...(window ? { maxInFlight: window } : {}),
  });
  const listeners: ((m: HubMessage) => void)[] = [];
  let heartbeat: NodeJS.Timeout | undefined;
  let resolveStatus!: (s: { code: number; details: string }) => void;
  const status = new Promise<{ code: number; details: string }>((r) => (resolveStatus = r));
  // As the agent's link does: after a write the transport refuses (its publish window is
  // full), the next wait for onDrain.
  const waiting: AgentMessage[] = [];
  let blocked = false;
  const agent = longestAckWaitMs.fromWrite.push(0) - 1;
  longestAckWaitMs.fromStored.push(0);
  /** Highest seq written to the transport / acked by the hub; when each ack clock started. */
  let written = 0n;
  let acked = -1n;
  let sinceWrite = 0;
  let sinceStored = 0;
  const restart = (clock: 'fromWrite' | 'fromStored', since: number, now: number) => {
    const waits = longestAckWaitMs[clock];
    waits[agent] = Math.max(waits[agent]!, now - since);
  };
  const flush = () => {
    while (!blocked && waiting.length > 0) {
      const m = waiting.shift()!;
      if (m.seq > 0n) {
        if (written <= acked) sinceWrite = sinceStored = performance.now();
        written = m.seq;
      }
      if (!stream.write(m)) blocked = true;
    }
  };
  const write = (seq: bigint, body: AgentMessage['body']) => {
    waiting.push(
      AgentMessage.create({
        seq,
        body,
        trace: { traceparent: '', tracestate: '' },
        sentAtUnixMs: BigInt(Date.now()),
      }),
    );
    flush();
  };
  const stream = transport.connect(
    { keyPem: identity.keyPem, certPem: identity.certPem, caPem: '', nats: identity.nats },
    {
      onMessage: (m) => {
        if (m.body?.$case === 'ack') {
          const now = performance.now();
          if (acked >= 0n && written > acked) {
            restart('fromWrite', sinceWrite, now);
            restart('fromStored', sinceStored, now);
          }
          acked = m.body.value.agentSeq;
          sinceWrite = sinceStored = now;
        }
        // The link heartbeats once the Hello is answered (its first ack); spread over the
        // interval, as agents that connected at different times are.
        if (!heartbeat && m.body?.$case === 'ack')
          heartbeat = setTimeout(function beat() {
            // As the link does: not behind the reports waiting for the transport.
            stream.write(AgentMessage.create({ seq: 0n, body: { $case: 'heartbeat', value: {} } }));
            heartbeat = setTimeout(beat, HEARTBEAT_MS);
          }, Math.random() * HEARTBEAT_MS);
        for (const fn of listeners) fn(m);
      },
      onDrain: () => {
        blocked = false;
        flush();
      },
      onStored: () => {
        if (acked < 0n || written <= acked) return;
        const now = performance.now();
        restart('fromStored', sinceStored, now);
        sinceStored = now;
      },
      onEnd: (e) => {
        clearTimeout(heartbeat);
        resolveStatus({ code: e.code ?? -1, details: e.details });
      },
    },
  );
  return {
    send: write,
    onMessage: (fn) => void listeners.push(fn),
    status,
    close: () => {
      clearTimeout(heartbeat);
      stream.close();
    },
  };
}
