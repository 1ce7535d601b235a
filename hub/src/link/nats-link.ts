import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  jwtAuthenticator,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type Msg,
  type NatsConnection,
} from 'nats';
import { errorMessage, systemClock, type Clock, type Logger } from '@driftless/common';
import { AgentMessage, HubMessage } from '@driftless/proto';
import {
  checkLabels,
  natsSubjects,
  type CertificateAuthority,
  type NatsAuthority,
} from '../enroll/index.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { EventBus, HubEvent } from '../events.ts';
import type { HubMetrics } from '../metrics.ts';
import type { ApprovalRecord, Store } from '../store/index.ts';
import { ingestReport } from './ingest.ts';
import { renewCertificate } from './renew.ts';
import { checkFollows, recordHello, redeliverApprovals } from './hello.ts';
import type { Session, SessionRegistry } from './sessions.ts';

/** Name of the JetStream stream that keeps agent reports. */
export const NATS_REPORT_STREAM = 'DRIFTLESS_REPORTS';
/** The durable consumer all hub replicas share. */
export const NATS_HUB_CONSUMER = 'driftless-hub';
/** Hub-to-hub subjects (replicas on one PostgreSQL). */
export const HUB_FANOUT_SUBJECTS = {
  /** Dashboard events (SSE) of every replica. */
  events: 'driftless.hubs.events',
  /** A replica answered a cluster's Hello: every replica can now send to it. */
  sessions: 'driftless.hubs.sessions',
  /** An approval was stored: the replica holding the cluster's gRPC stream delivers it. */
  approvals: 'driftless.hubs.approvals',
  /** A Git push reached one replica's webhook: every replica hints its gRPC-linked agents. */
  hints: 'driftless.hubs.hints',
  /** A cluster was revoked: every replica closes the cluster's stream. */
  revocations: 'driftless.hubs.revocations',
};

/**
 * A Git push as replicas relay it (the webhook's PushEvent, with its set of repository keys
 * as an array so that it travels as JSON).
 */
export interface RelayedPush {
  /** Every URL the payload gives for the repository, as repository keys. */
  repoKeys: string[];
  /** A URL of the repository for logs (credentials stripped). */
  repoUrl: string;
  /** The pushed branch, without `refs/heads/`. */
  branch: string;
  /** The repository's default branch if the payload names it, else ''. */
  defaultBranch: string;
  /** The new head commit, or ''. */
  revision: string;
}

/** Whether `session` is a NATS link's (every replica has one per live NATS-linked cluster). */
export function isNatsSession(session: Session): boolean {
  return 'nats' in session;
}

const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;

/** Options of {@link NatsLink}. */
export interface NatsLinkOptions {
  /** NATS server URLs, comma-separated. */
  servers: string;
  auth: NatsAuthority;
  store: Store;
  ca: CertificateAuthority;
  sessions: SessionRegistry;
  events: EventBus;
  metrics: HubMetrics;
  log: Logger;
  /** Sends stored approvals down a session (the gRPC link's, so both links send alike). */
  deliverApprovals(session: Session, approvals: ApprovalRecord[]): number;
  /**
   * Hints this replica's gRPC-linked agents about a Git push another replica's webhook
   * received (its NATS-linked agents were hinted by that replica directly). Default: none.
   */
  hintRelayedPush?(push: RelayedPush): void;
  /** Validity of certificates issued on renewal. */
  clientCertValidityMs: number;
  /** A cluster whose heartbeats stop for this long is marked disconnected. Default 45 s. */
  heartbeatTimeoutMs?: number;
  clock?: Clock;
}

/**
 * The hub side of the NATS link (docs/hub.md, "NATS"). Reports come from the
 * JetStream stream through one durable consumer shared by every replica,
 * one message at a time (max_ack_pending 1: the store accepts a cluster's
 * seqs only in order), into the same ingest as gRPC, acked after the store
 * committed. Hellos are answered by one replica (queue group); heartbeats
 * reach every replica, so each one can send to every NATS-linked cluster:
 * a hint or approval made on any replica is published to the cluster's down
 * subject directly. Dashboard events are relayed between replicas.
 */
export class NatsLink {
  readonly #o: NatsLinkOptions;
  readonly #clock: Clock;
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #replica = randomUUID();
  readonly #liveness = new Map<string, ReturnType<typeof setTimeout>>();
  /** When each refused cluster was last told so, to tell it at most once per heartbeat. */
  readonly #toldRefused = new Map<string, number>();
  #messages: ConsumerMessages | undefined;
  #consuming: Promise<void> | undefined;
  #relaying = false;
  #unsubscribeEvents: (() => void) | undefined;
  #unsubscribeFanout: (() => void) | undefined;
  #lastTouch = new Map<string, number>();

  private constructor(o: NatsLinkOptions, nc: NatsConnection, jsm: JetStreamManager) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#nc = nc;
    this.#jsm = jsm;
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
    });
    try {
      const jsm = await nc.jetstreamManager();
      await ensureStream(jsm);
      const link = new NatsLink(o, nc, jsm);
      link.#serve();
      return link;
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  #serve(): void {
    const { log } = this.#o;
    const agents = 'driftless.agent.*';
    void this.#watchStatus();
    // Hellos and acks of hub messages: one replica handles each.
    this.#nc.subscribe(`${agents}.hello`, {
      queue: 'driftless-hub',
      callback: (_e, m) => void this.#guard('Hello', m, () => this.#hello(m)),
    });
    this.#nc.subscribe(`${agents}.ack`, {
      queue: 'driftless-hub',
      callback: (_e, m) =>
        void this.#guard('ack', m, async (cluster, msg) => {
          if (msg.body?.$case === 'ack')
            await this.#o.store.ackHubSeq(cluster, Number(msg.body.value.hubSeq));
        }),
    });
    this.#nc.subscribe(`${agents}.renew`, {
      queue: 'driftless-hub',
      callback: (_e, m) =>
        void this.#guard('renewal', m, async (cluster, msg) => {
          if (msg.body?.$case === 'renewCertificate')
            await this.#renew(cluster, msg.body.value.csrPem);
        }),
    });
    // Heartbeats: every replica, so every replica keeps a session for every live cluster.
    this.#nc.subscribe(`${agents}.heartbeat`, {
      callback: (_e, m) => void this.#guard('heartbeat', m, (cluster) => this.#heartbeat(cluster)),
    });
    this.#nc.subscribe(HUB_FANOUT_SUBJECTS.sessions, {
      callback: (_e, m) => {
        const { cluster, follows } = m.json<{
          cluster: string;
          follows?: { repoUrl: string; branch: string };
        }>();
        this.#adopt(cluster, follows);
      },
    });
    this.#relayEvents();
    this.#serveFanout();
    this.#consuming = this.#consume().catch((err: unknown) =>
      log.error(
        { err: errorMessage(err) },
        `NATS link: report consumer stopped: ${errorMessage(err)}`,
      ),
    );
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      const data = typeof s.data === 'string' ? s.data : JSON.stringify(s.data);
      this.#o.log.info({ nats: { type: s.type, data } }, `NATS link: ${s.type}`);
    }
  }

  /** Decodes an agent message, takes its cluster from the subject, and logs what fails. */
  async #guard(
    what: string,
    m: Msg,
    fn: (cluster: string, msg: AgentMessage) => Promise<void>,
  ): Promise<void> {
    // The subject is the identity: an agent's JWT lets it publish only under its own cluster.
    const cluster = clusterOf(m.subject);
    try {
      await fn(cluster, AgentMessage.decode(m.data));
    } catch (err) {
      this.#o.log.warn(
        { cluster, err: errorMessage(err) },
        `NATS link: ${what} of cluster ${cluster} failed: ${errorMessage(err)}`,
      );
    }
  }

  /** Why the hub refuses `cluster`, or undefined when it is enrolled and not revoked. */
  async #refusal(cluster: string): Promise<{ code: number; details: string } | undefined> {
    const c = await this.#o.store.getCluster(cluster);
    if (!c) return { code: UNAUTHENTICATED, details: `cluster ${cluster} is not enrolled` };
    if (c.revokedMs !== 0)
      return { code: PERMISSION_DENIED, details: `cluster ${cluster} was revoked` };
    return undefined;
  }

  async #hello(m: Msg): Promise<void> {
    const { store, events, log } = this.#o;
    const cluster = clusterOf(m.subject);
    const msg = AgentMessage.decode(m.data);
    const reply = (h: HubMessage) => m.respond(HubMessage.encode(h).finish());
    const refused = await this.#refusal(cluster);
    if (refused) {
      log.warn({ cluster, reason: refused.details }, 'NATS Hello refused');
      reply(HubMessage.create({ body: { $case: 'linkClosed', value: refused } }));
      return;
    }
    if (msg.body?.$case !== 'hello') return;
    const hello = msg.body.value;
    if (hello.clusterName !== cluster) {
      reply(
        HubMessage.create({
          body: {
            $case: 'linkClosed',
            value: {
              code: PERMISSION_DENIED,
              details: `Hello names cluster "${hello.clusterName.slice(0, 63)}", but the credentials are for ${cluster}`,
            },
          },
        }),
      );
      return;
    }
    checkLabels(hello.labels, `Hello from cluster ${cluster}`);
    checkFollows(hello, `Hello from cluster ${cluster}`);
    const follows = { repoUrl: hello.repoUrl, branch: hello.branch };
    const session = this.#adopt(cluster, follows);
    const now = this.#clock.now();
    await recordHello(store, cluster, hello, now);
    // What the stream holds counts as stored: an agent that restarted numbers its reports
    // above it, so none collides with a report still waiting in the stream for this hub.
    const stored = (await store.getCluster(cluster))?.lastAgentSeq ?? 0;
    const streamed = await this.#lastStreamedSeq(cluster);
    reply(
      HubMessage.create({
        body: { $case: 'ack', value: { agentSeq: BigInt(Math.max(stored, streamed)) } },
      }),
    );
    const resent = await redeliverApprovals(store, cluster, hello.lastAckedHubSeq, now, (pending) =>
      this.#o.deliverApprovals(session, pending),
    );
    this.#nc.publish(HUB_FANOUT_SUBJECTS.sessions, JSON.stringify({ cluster, follows }));
    await this.#markConnected(cluster);
    events.publish({
      type: 'cluster.connected',
      cluster,
      data: { agentVersion: hello.agentVersion },
    });
    log.info(
      { cluster, agentVersion: hello.agentVersion, resent, link: 'nats' },
      'agent connected',
    );
  }

  /** The seq of the cluster's newest report in the stream (0 when there is none). */
  async #lastStreamedSeq(cluster: string): Promise<number> {
    try {
      const sm = await this.#jsm.streams.getMessage(NATS_REPORT_STREAM, {
        last_by_subj: `${natsSubjects.agentPrefix(cluster)}.up`,
      });
      return Number(AgentMessage.decode(sm.data).seq);
    } catch (err) {
      if ((err as { code?: string }).code === '404') return 0;
      throw err;
    }
  }

  /** This replica's session for a NATS-linked cluster (created when absent). */
  #adopt(cluster: string, follows?: { repoUrl: string; branch: string }): Session {
    const existing = this.#o.sessions.get(cluster);
    if (existing && 'nats' in existing) {
      if (follows) existing.follows = follows;
      return existing;
    }
    const down = natsSubjects.down(cluster);
    const session: Session & { nats: true } = {
      cluster,
      nats: true,
      ...(follows ? { follows } : {}),
      send: (message) => {
        if (this.#nc.isClosed()) return false;
        this.#nc.publish(down, HubMessage.encode(message).finish());
        return true;
      },
      close: (code, details) => {
        // Only revocation closes a NATS session: tell the agent why, as a gRPC status would.
        if (!this.#nc.isClosed())
          this.#nc.publish(
            down,
            HubMessage.encode(
              HubMessage.create({ body: { $case: 'linkClosed', value: { code, details } } }),
            ).finish(),
          );
        this.#forget(cluster, session);
      },
    };
    // A gRPC stream of the same cluster (it switched transports) is replaced, as a newer stream.
    existing?.close(10, `cluster ${cluster}: replaced by its NATS link`);
    this.#o.sessions.register(session);
    this.#o.metrics.connectedAgents.set(this.#o.sessions.size);
    this.#arm(cluster, session);
    return session;
  }

  async #heartbeat(cluster: string): Promise<void> {
    const refused = await this.#refusal(cluster);
    if (refused) return this.#tellRefused(cluster, refused);
    const known = this.#o.sessions.get(cluster);
    if (!known || !('nats' in known)) {
      // E.g. this replica started after the agent's Hello: the cluster is live all the same.
      const c = await this.#o.store.getCluster(cluster);
      const session = this.#adopt(
        cluster,
        c?.repoUrl ? { repoUrl: c.repoUrl, branch: c.branch } : undefined,
      );
      await this.#markConnected(cluster);
      // Approvals made while no replica knew the cluster live (e.g. all hubs restarted) were
      // only stored: the agent keeps its connection, so no new Hello would fetch them.
      const pending = await this.#o.store.unackedApprovals(cluster, c?.ackedHubSeq ?? 0);
      if (pending.length) {
        this.#o.deliverApprovals(session, pending);
        await this.#o.store.markDelivered(
          pending.map((x) => x.id),
          this.#clock.now(),
        );
      }
    } else this.#arm(cluster, known);
    const now = this.#clock.now();
    // Throttled: last-seen is for people, a write per heartbeat per agent is waste.
    if (now - (this.#lastTouch.get(cluster) ?? 0) > 10_000) {
      this.#lastTouch.set(cluster, now);
      await this.#o.store.touch(cluster, now);
    }
  }

  /**
   * Ends a refused cluster's link from the hub's side: forgets its session and sends LinkClosed
   * down its subject. Its NATS user JWT stays valid for the server (the memory resolver takes
   * no revocations at run time), so this is what stops an agent that missed the LinkClosed of
   * the revocation itself (e.g. no replica had adopted its session yet): its next heartbeat or
   * report is answered so. At most once a second per cluster, as every replica hears heartbeats.
   */
  #tellRefused(cluster: string, refused: { code: number; details: string }): void {
    const session = this.#o.sessions.get(cluster);
    if (session && isNatsSession(session)) this.#forget(cluster, session);
    const now = this.#clock.now();
    if (now - (this.#toldRefused.get(cluster) ?? -Infinity) < 1000 || this.#nc.isClosed()) return;
    this.#toldRefused.set(cluster, now);
    this.#nc.publish(
      natsSubjects.down(cluster),
      HubMessage.encode(
        HubMessage.create({ body: { $case: 'linkClosed', value: refused } }),
      ).finish(),
    );
  }

  async #markConnected(cluster: string): Promise<void> {
    await this.#o.store.setConnected(cluster, true, this.#clock.now());
  }

  /** (Re)starts the cluster's liveness timer: no heartbeat in time means disconnected. */
  #arm(cluster: string, session: Session): void {
    clearTimeout(this.#liveness.get(cluster));
    const timer = setTimeout(() => {
      if (!this.#forget(cluster, session)) return;
      void this.#o.store.setConnected(cluster, false, this.#clock.now()).catch(() => undefined);
      this.#o.events.publish({ type: 'cluster.disconnected', cluster });
      this.#o.log.info({ cluster, link: 'nats' }, 'agent disconnected (no heartbeat)');
    }, this.#o.heartbeatTimeoutMs ?? 45_000);
    timer.unref();
    this.#liveness.set(cluster, timer);
  }

  #forget(cluster: string, session: Session): boolean {
    clearTimeout(this.#liveness.get(cluster));
    this.#liveness.delete(cluster);
    const was = this.#o.sessions.unregister(session);
    if (was) this.#o.metrics.connectedAgents.set(this.#o.sessions.size);
    return was;
  }

  /** Feeds the stream to the ingest, one report at a time, acking after the store commit. */
  async #consume(): Promise<void> {
    const js = this.#nc.jetstream();
    const consumer = await js.consumers.get(NATS_REPORT_STREAM, NATS_HUB_CONSUMER);
    this.#messages = await consumer.consume({ max_messages: 16 });
    for await (const m of this.#messages) await this.#ingest(m);
  }

  async #ingest(m: JsMsg): Promise<void> {
    const { store, events, metrics, log } = this.#o;
    const cluster = clusterOf(m.subject);
    let msg: AgentMessage;
    try {
      msg = AgentMessage.decode(m.data);
      const refused = await this.#refusal(cluster);
      if (refused) {
        log.warn({ cluster, reason: refused.details }, 'NATS report dropped');
        m.term();
        this.#tellRefused(cluster, refused);
        return;
      }
      if (!msg.body) throw new InvalidArgumentError(`report from cluster ${cluster} has no body`);
      // The agent acks on the stream's publish ack; the hub's ingest ack has no one to go to.
      await ingestReport({ store, events, metrics, clock: this.#clock }, cluster, msg, {
        send: () => true,
      });
      m.ack();
    } catch (err) {
      if (err instanceof InvalidArgumentError || err instanceof RangeError) {
        // A malformed report never becomes valid: drop it, as gRPC ends such a stream.
        log.warn({ cluster, err: errorMessage(err) }, 'NATS report refused');
        m.term();
      } else {
        // The store is down or busy: JetStream redelivers it (and nothing after it meanwhile).
        log.warn({ cluster, err: errorMessage(err) }, 'NATS report not stored; redelivering');
        m.nak(2000);
      }
    }
  }

  async #renew(cluster: string, csrPem: string): Promise<void> {
    if (await this.#refusal(cluster)) return;
    const { message, serial } = await renewCertificate(this.#o, cluster, csrPem);
    this.#adopt(cluster).send(message);
    this.#o.log.info({ cluster, serial, link: 'nats' }, 'certificate renewed');
  }

  /** Relays dashboard events between replicas, so SSE clients of every replica see all. */
  #relayEvents(): void {
    const { events } = this.#o;
    this.#unsubscribeEvents = events.subscribe((e) => {
      if (this.#relaying || this.#nc.isClosed()) return;
      const { id: _id, atMs: _at, ...rest } = e;
      this.#nc.publish(
        HUB_FANOUT_SUBJECTS.events,
        JSON.stringify({ from: this.#replica, event: rest }),
      );
    });
    this.#nc.subscribe(HUB_FANOUT_SUBJECTS.events, {
      callback: (_e, m) => {
        const { from, event } = m.json<{ from: string; event: Omit<HubEvent, 'id' | 'atMs'> }>();
        if (from === this.#replica) return;
        // publish() calls subscribers synchronously: the flag keeps it from echoing back.
        this.#relaying = true;
        try {
          events.publish(event);
        } finally {
          this.#relaying = false;
        }
      },
    });
  }

  /**
   * Announces a Git push this replica's webhook received, so that every other replica hints
   * the gRPC-linked agents whose streams it holds. A hint only (seq 0, not stored): an agent
   * that misses it finds the commit at its next poll.
   */
  relayPush(push: RelayedPush): void {
    if (this.#nc.isClosed()) return;
    this.#nc.publish(HUB_FANOUT_SUBJECTS.hints, JSON.stringify({ from: this.#replica, push }));
  }

  /**
   * The fan-out a gRPC stream needs: it lives on one replica, while approvals, pushes and
   * revocations reach any replica. Approvals and revocations are taken from this replica's
   * own events (every API write announces one), pushes from {@link NatsLink.relayPush}.
   * NATS-linked clusters need none of it: every replica sends to them directly.
   */
  #serveFanout(): void {
    const { events, log } = this.#o;
    this.#unsubscribeFanout = events.subscribe((e) => {
      // Relayed events were announced by the replica that made them.
      if (this.#relaying || this.#nc.isClosed() || !e.cluster) return;
      if (e.type === 'approval.created' && typeof e.data?.['id'] === 'string')
        this.#nc.publish(
          HUB_FANOUT_SUBJECTS.approvals,
          JSON.stringify({ from: this.#replica, cluster: e.cluster, approvalId: e.data['id'] }),
        );
      else if (e.type === 'cluster.revoked') {
        // Whether or not a replica has adopted the cluster's NATS session, the agent hears it.
        this.#tellRefused(e.cluster, {
          code: PERMISSION_DENIED,
          details: `cluster ${e.cluster} was revoked by an administrator`,
        });
        this.#nc.publish(
          HUB_FANOUT_SUBJECTS.revocations,
          JSON.stringify({ from: this.#replica, cluster: e.cluster }),
        );
      }
    });
    const remote = <T>(subject: string, fn: (body: T) => Promise<void> | void) =>
      this.#nc.subscribe(subject, {
        callback: (_e, m) => {
          void (async () => {
            const body = m.json<T & { from: string }>();
            if (body.from === this.#replica) return;
            await fn(body);
          })().catch((err: unknown) =>
            log.warn(
              { err: errorMessage(err), subject },
              `hub fan-out: ${subject} failed: ${errorMessage(err)}`,
            ),
          );
        },
      });
    remote<{ cluster: string; approvalId: string }>(HUB_FANOUT_SUBJECTS.approvals, (a) =>
      this.#deliverRelayedApproval(a.cluster, a.approvalId),
    );
    remote<{ push: RelayedPush }>(HUB_FANOUT_SUBJECTS.hints, ({ push }) =>
      this.#o.hintRelayedPush?.(push),
    );
    remote<{ cluster: string }>(HUB_FANOUT_SUBJECTS.revocations, ({ cluster }) => {
      const session = this.#o.sessions.get(cluster);
      if (!session) return;
      this.#o.sessions.close(
        cluster,
        PERMISSION_DENIED,
        `cluster ${cluster} was revoked by an administrator`,
      );
      if (!isNatsSession(session)) this.#o.metrics.connectedAgents.set(this.#o.sessions.size);
      log.info({ cluster }, 'hub fan-out: stream of a cluster revoked on another replica closed');
    });
  }

  /**
   * Sends an approval another replica stored down this replica's gRPC stream of the cluster,
   * if it holds one. The store is the source of truth: only an approval the agent has not
   * acked is sent, under its stored hub seq, so a second delivery (a reconnect's Hello
   * resends it too) carries the same approval under the same seq.
   */
  async #deliverRelayedApproval(cluster: string, approvalId: string): Promise<void> {
    const { store, events, log } = this.#o;
    const session = this.#o.sessions.get(cluster);
    if (!session || isNatsSession(session)) return;
    const c = await store.getCluster(cluster);
    if (!c || c.revokedMs !== 0) return;
    const pending = (await store.unackedApprovals(cluster, c.ackedHubSeq)).filter(
      (a) => a.id === approvalId,
    );
    if (this.#o.deliverApprovals(session, pending) === 0) return;
    await store.markDelivered([approvalId], this.#clock.now());
    const app = pending[0]?.app;
    events.publish({
      type: 'approval.delivered',
      cluster,
      ...(app ? { app } : {}),
      data: { id: approvalId },
    });
    log.info(
      { cluster, approval: approvalId },
      'hub fan-out: approval delivered from another replica',
    );
  }

  /** Stops consuming and closes the connection (sessions of NATS clusters are forgotten). */
  async close(): Promise<void> {
    this.#unsubscribeEvents?.();
    this.#unsubscribeFanout?.();
    for (const t of this.#liveness.values()) clearTimeout(t);
    this.#liveness.clear();
    this.#messages?.stop();
    await this.#consuming;
    for (const s of this.#o.sessions.list()) if ('nats' in s) this.#o.sessions.unregister(s);
    await this.#nc.drain().catch(() => undefined);
  }
}

/** The cluster of `driftless.agent.<token>.<kind>` (`_` in a token stands for `.`). */
function clusterOf(subject: string): string {
  return (subject.split('.')[2] ?? '').replaceAll('_', '.');
}

/** Creates the report stream and the hubs' durable consumer when missing. */
async function ensureStream(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.streams.info(NATS_REPORT_STREAM);
  } catch (err) {
    if ((err as { code?: string }).code !== '404') throw err;
    await jsm.streams.add({
      name: NATS_REPORT_STREAM,
      subjects: ['driftless.agent.*.up'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      // Kept per cluster (not deleted on ack) so the last seq of each stays readable, bounded.
      max_msgs_per_subject: 100_000,
      duplicate_window: 120_000_000_000,
    });
  }
  try {
    await jsm.consumers.info(NATS_REPORT_STREAM, NATS_HUB_CONSUMER);
  } catch (err) {
    if ((err as { code?: string }).code !== '404') throw err;
    await jsm.consumers.add(NATS_REPORT_STREAM, {
      durable_name: NATS_HUB_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // One at a time: the store takes a cluster's reports only in seq order.
      max_ack_pending: 1,
      ack_wait: 30_000_000_000,
    });
  }
}
