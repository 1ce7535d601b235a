import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { connect, jwtAuthenticator, type NatsConnection } from 'nats';
import { errorMessage, systemClock, type Logger } from '@driftless/common';
import type { NatsAuthority } from '../enroll/index.ts';
import { HubFanout, type RelayedPush } from './hub-fanout.ts';
import { ensureReportStream } from './jetstream.ts';
import { isNatsSession, NatsAgentLink, type NatsAgentLinkOptions } from './nats-agent-link.ts';
import { NatsRevocations } from './nats-revocations.ts';
import type { TreeRequests } from './tree-requests.ts';

export { HUB_FANOUT_SUBJECTS, type RelayedPush } from './hub-fanout.ts';
export { NATS_HUB_CONSUMER, NATS_REPORT_STREAM } from './jetstream.ts';
export { isNatsSession } from './nats-agent-link.ts';

/**
 * Options of {@link NatsLink}: those of its agent link it passes on (`heartbeatTimeoutMs`
 * default 45 s), and its own.
 */
export interface NatsLinkOptions
  extends
    Pick<
      NatsAgentLinkOptions,
      'store' | 'ca' | 'sessions' | 'events' | 'metrics' | 'log' | 'clientCertValidityMs'
    >,
    Partial<Pick<NatsAgentLinkOptions, 'heartbeatTimeoutMs' | 'clock' | 'ingestBatch'>> {
  /** NATS server URLs, comma-separated. */
  servers: string;
  auth: NatsAuthority;
  /**
   * Hints this replica's gRPC-linked agents about a Git push another replica's webhook
   * received (its NATS-linked agents were hinted by that replica directly). Default: none.
   */
  hintRelayedPush?(push: RelayedPush): void;
  /** Object-tree requests: agents' answers over NATS, and requests relayed between replicas. */
  trees?: TreeRequests;
}

/** Defaults of {@link NatsLinkOptions}. */
export const NATS_LINK_DEFAULTS = { heartbeatTimeoutMs: 45_000 } as const;

/**
 * The hub side of the NATS link (docs/hub.md, "NATS"): one connection with the hub's own
 * user, the JetStream report stream ({@link ensureReportStream}), the agents' subjects
 * ({@link NatsAgentLink}) and the fan-out between replicas ({@link HubFanout}). Reports come
 * from the stream through one durable consumer shared by every replica into the same ingest
 * as gRPC; a hint or approval made on any replica is published to the cluster's down subject
 * directly.
 */
export class NatsLink {
  readonly #nc: NatsConnection;
  readonly #agents: NatsAgentLink;
  readonly #fanout: HubFanout;
  readonly #revocations: NatsRevocations;
  readonly #log: Logger;
  readonly #trees: TreeRequests | undefined;
  readonly #replica: string;
  /** Whether the connection to nats-server is up (the client reconnects by itself). */
  #up = true;

  private constructor(o: NatsLinkOptions, nc: NatsConnection) {
    this.#nc = nc;
    this.#log = o.log;
    this.#revocations = new NatsRevocations({
      servers: o.servers,
      auth: o.auth,
      store: o.store,
      log: o.log,
    });
    const clock = o.clock ?? systemClock;
    const replica = randomUUID();
    this.#replica = replica;
    this.#trees = o.trees;
    this.#fanout = new HubFanout({
      nc,
      replica,
      store: o.store,
      sessions: o.sessions,
      events: o.events,
      metrics: o.metrics,
      log: o.log,
      clock,
      isNatsSession: (cluster) => {
        const s = o.sessions.get(cluster);
        return s !== undefined && isNatsSession(s);
      },
      adopt: (cluster, follows) => void this.#agents.adopt(cluster, follows),
      revoked: (cluster, details) => {
        this.#agents.tellRefused(cluster, { code: status.PERMISSION_DENIED, details });
        this.#pushRevocations();
      },
      hintRelayedPush: (push) => o.hintRelayedPush?.(push),
    });
    this.#agents = new NatsAgentLink({
      nc,
      store: o.store,
      ca: o.ca,
      sessions: o.sessions,
      events: o.events,
      metrics: o.metrics,
      log: o.log,
      clock,
      clientCertValidityMs: o.clientCertValidityMs,
      ingestBatch: o.ingestBatch,
      heartbeatTimeoutMs: o.heartbeatTimeoutMs ?? NATS_LINK_DEFAULTS.heartbeatTimeoutMs,
      announceSession: (cluster, follows) => this.#fanout.announceSession(cluster, follows),
    });
  }

  /** Connects with the hub's own user, ensures the stream and consumer, and starts serving. */
  static async start(o: NatsLinkOptions): Promise<NatsLink> {
    const creds = await o.auth.hubCredentials();
    const nc = await connect({
      servers: o.servers.split(',').map((s) => s.trim()),
      name: 'driftless-hub',
      authenticator: jwtAuthenticator(creds.jwt, creds.seed),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      // What this replica publishes to the other replicas (every dashboard event, so one per
      // stored report) would come back to it, only to be parsed and dropped as its own.
      noEcho: true,
    });
    try {
      const jsm = await nc.jetstreamManager();
      await ensureReportStream(jsm);
      const link = new NatsLink(o, nc);
      void link.#watchStatus(o.log);
      link.#agents.start();
      link.#fanout.start();
      link.#trees?.attachNats(nc, link.#replica);
      link.#pushRevocations();
      return link;
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  async #watchStatus(log: Logger): Promise<void> {
    for await (const s of this.#nc.status()) {
      const type = s.type as string;
      if (type === 'disconnect') this.#up = false;
      else if (type === 'reconnect') {
        this.#up = true;
        // A nats-server that restarted without its resolver directory forgets revocations.
        this.#pushRevocations();
      }
      const data = typeof s.data === 'string' ? s.data : JSON.stringify(s.data);
      log.info({ nats: { type: s.type, data } }, `NATS link: ${s.type}`);
    }
  }

  /** Pushes the account JWT with the revocations; a failure is logged (and retried on the next). */
  #pushRevocations(): void {
    this.#revocations
      .push()
      .catch((err: unknown) =>
        this.#log.warn(
          { err: errorMessage(err) },
          `NATS account update failed: revoked clusters' NATS credentials may still work: ${errorMessage(err)}`,
        ),
      );
  }

  /** Why the link cannot serve now (nats-server unreachable), or undefined when it can. */
  unavailable(): string | undefined {
    if (this.#nc.isClosed()) return 'the NATS connection is closed';
    if (!this.#up) return 'nats-server is unreachable (reconnecting)';
    return undefined;
  }

  /** Relays a Git push this replica's webhook received to the other replicas. */
  relayPush(push: RelayedPush): void {
    this.#fanout.relayPush(push);
  }

  /** Stops consuming and closes the connection (sessions of NATS clusters are forgotten). */
  async close(): Promise<void> {
    this.#fanout.stop();
    this.#trees?.detachNats();
    await this.#agents.stop();
    await this.#revocations.close();
    await this.#nc.drain().catch(() => undefined);
  }
}
