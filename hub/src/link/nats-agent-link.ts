import { status } from '@grpc/grpc-js';
import {
  headers,
  type ConsumerMessages,
  type JsMsg,
  type Msg,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { clockTimeout, errorMessage, type Clock, type Logger } from '@driftless/common';
import { AgentMessage, HubMessage, UNSEQUENCED } from '@driftless/proto';
import { checkLabels, natsSubjects, type CertificateAuthority } from '../enroll/index.ts';
import { InvalidArgumentError } from '../errors.ts';
import { ReportOutOfOrderError } from '../store/index.ts';
import type { EventBus } from '../events.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import { redeliverApprovals } from './approvals.ts';
import { deliverSuspensions } from './suspensions.ts';
import { checkFollows, checkHelloApps, recordHello } from './hello.ts';
import { ingestReport } from './ingest.ts';
import type { IngestBatcher } from './ingest-batch.ts';
import {
  clusterOfSubject,
  NATS_HUB_CONSUMER,
  NATS_REPORT_BATCHES_HEADER,
  NATS_REPORT_STREAM,
  NATS_REPORTS_HEADER,
  splitReports,
} from './jetstream.ts';
import { LastSeen } from './last-seen.ts';
import { RenewalLimiter, renewCertificate } from './renew.ts';
import type { Session, SessionRegistry } from './sessions.ts';

/** Most reports from the stream in the hub at once, with group commit. */
const NATS_INGEST_WINDOW = 1024;
/**
 * Stream messages one pull asks for, with group commit: a message may carry many reports, and
 * what the client holds counts against the consumer's ack wait (30 s) from its delivery.
 */
const NATS_PULL_MESSAGES = 256;
/**
 * Deliveries of an out-of-order report before the hub gives up waiting for its predecessor
 * and has the agent resend; the waits double from {@link OUT_OF_ORDER_RETRY_MS} (0.25 + 0.5 +
 * 1 + 2 + 4 s: longer than a failed commit's redelivery after 2 s).
 */
const OUT_OF_ORDER_RETRIES = 6;
const OUT_OF_ORDER_RETRY_MS = 250;

/** A NATS link's session (every replica has one per live NATS-linked cluster). */
export type NatsSession = Session & { readonly nats: true };

/** Whether `session` is a NATS link's. */
export function isNatsSession(session: Session): session is NatsSession {
  return 'nats' in session;
}

/** Why the hub refuses a cluster, as the LinkClosed it sends. */
interface Refusal {
  code: number;
  details: string;
}

/** What {@link NatsAgentLink} needs. */
export interface NatsAgentLinkOptions {
  nc: NatsConnection;
  store: Store;
  ca: CertificateAuthority;
  sessions: SessionRegistry;
  events: EventBus;
  metrics: HubMetrics;
  log: Logger;
  clock: Clock;
  /** Validity of certificates issued on renewal. */
  clientCertValidityMs: number;
  /** A cluster whose heartbeats stop for this long is marked disconnected. */
  heartbeatTimeoutMs: number;
  /**
   * Group commit of reports: the stream is then consumed for many clusters at once (each
   * cluster's reports still in order). Default none: one report at a time.
   */
  ingestBatch?: IngestBatcher;
  /** A Hello was answered here: tell the other replicas. */
  announceSession(cluster: string, follows: { repoUrl: string; branch: string }): void;
}

/**
 * The agent side of the NATS link on one hub replica: Hellos, acks and renewals (one replica
 * each, queue group), heartbeats (every replica, so each keeps a session for every live
 * cluster, with a liveness timer on the injected clock), and the report stream, consumed
 * through the durable consumer all replicas share into the same ingest as gRPC.
 */
export class NatsAgentLink {
  readonly #o: NatsAgentLinkOptions;
  readonly #lastSeen: LastSeen;
  readonly #renewals: RenewalLimiter;
  readonly #liveness = new Map<string, () => void>();
  /** When each cluster's last heartbeat was received (before any of its handling awaits). */
  readonly #heard = new Map<string, number>();
  /** When each refused cluster was last told so, to tell it at most once per second. */
  readonly #toldRefused = new Map<string, number>();
  /** When each cluster was last told to resend, likewise. */
  readonly #toldResend = new Map<string, number>();
  readonly #subscriptions: Subscription[] = [];
  /** Per cluster, the highest agent seq to ack down its subject at the next flush. */
  readonly #acksDue = new Map<string, bigint>();
  /** Reports from the stream stored since the last flush, to ack to JetStream then. */
  #streamAcksDue: JsMsg[] = [];
  #acksScheduled = false;
  #messages: ConsumerMessages | undefined;
  #consuming: Promise<void> | undefined;

  constructor(options: NatsAgentLinkOptions) {
    this.#o = options;
    this.#lastSeen = new LastSeen(options.store, options.clock, options.log);
    this.#renewals = new RenewalLimiter(options.clock);
  }

  /** Subscribes to the agents' subjects and starts consuming reports. */
  start(): void {
    const { nc, log } = this.#o;
    const agents = 'driftless.agent.*';
    const on = (
      kind: string,
      what: string,
      queue: boolean,
      fn: (cluster: string, m: Msg) => Promise<void>,
    ) =>
      this.#subscriptions.push(
        nc.subscribe(`${agents}.${kind}`, {
          ...(queue ? { queue: 'driftless-hub' } : {}),
          callback: (_e, m) => void this.#guard(what, m, fn),
        }),
      );
    // Hellos, acks of hub messages and renewals: one replica handles each.
    on('hello', 'Hello', true, (cluster, m) => this.#hello(cluster, m));
    on('ack', 'ack', true, async (cluster, m) => {
      const msg = AgentMessage.decode(m.data);
      if (msg.body?.$case === 'ack')
        await this.#o.store.ackHubSeq(cluster, Number(msg.body.value.hubSeq));
    });
    on('renew', 'renewal', true, async (cluster, m) => {
      const msg = AgentMessage.decode(m.data);
      if (msg.body?.$case === 'renewCertificate') await this.#renew(cluster, msg.body.value.csrPem);
    });
    // Heartbeats: every replica, so every replica keeps a session for every live cluster.
    on('heartbeat', 'heartbeat', false, (cluster) => this.#heartbeat(cluster));
    this.#consuming = this.#consume().catch((err: unknown) =>
      log.error(
        { err: errorMessage(err) },
        `NATS link: report consumer stopped: ${errorMessage(err)}`,
      ),
    );
  }

  /** Stops consuming and forgets this replica's NATS sessions. */
  async stop(): Promise<void> {
    for (const cancel of this.#liveness.values()) cancel();
    this.#liveness.clear();
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#messages?.stop();
    await this.#consuming;
    // Acks of what was stored go out before the connection drains (else redelivered).
    this.#flushAcks();
    for (const s of this.#o.sessions.list()) if (isNatsSession(s)) this.#o.sessions.unregister(s);
  }

  /** Runs the handler of an agent message; a failure is logged, never thrown. */
  async #guard(
    what: string,
    m: Msg,
    fn: (cluster: string, m: Msg) => Promise<void>,
  ): Promise<void> {
    // The subject is the identity: an agent's JWT lets it publish only under its own cluster.
    const cluster = clusterOfSubject(m.subject);
    try {
      await fn(cluster, m);
    } catch (err) {
      this.#o.log.warn(
        { cluster, err: errorMessage(err) },
        `NATS link: ${what} of cluster ${cluster} failed: ${errorMessage(err)}`,
      );
    }
  }

  /** Why the hub refuses `cluster`, or undefined when it is enrolled and not revoked. */
  async #refusal(cluster: string): Promise<Refusal | undefined> {
    const c = await this.#o.store.getCluster(cluster);
    if (!c) return { code: status.UNAUTHENTICATED, details: `cluster ${cluster} is not enrolled` };
    if (c.revokedMs !== 0)
      return { code: status.PERMISSION_DENIED, details: `cluster ${cluster} was revoked` };
    return undefined;
  }

  async #hello(cluster: string, m: Msg): Promise<void> {
    const { store, events, log } = this.#o;
    const msg = AgentMessage.decode(m.data);
    const reply = (h: HubMessage, hdrs?: ReturnType<typeof headers>) =>
      m.respond(HubMessage.encode(h).finish(), hdrs ? { headers: hdrs } : undefined);
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
              code: status.PERMISSION_DENIED,
              details: `Hello names cluster "${hello.clusterName.slice(0, 63)}", but the credentials are for ${cluster}`,
            },
          },
        }),
      );
      return;
    }
    checkLabels(hello.labels, `Hello from cluster ${cluster}`);
    checkFollows(hello, `Hello from cluster ${cluster}`);
    checkHelloApps(hello, `Hello from cluster ${cluster}`);
    const follows = { repoUrl: hello.repoUrl, branch: hello.branch };
    const session = this.adopt(cluster, follows);
    await recordHello(store, cluster, hello, this.#o.clock.now());
    // Only what is stored counts: the stream's copy of a report can still be lost (or be
    // refused out of order), and the agent keeps every report until the hub stored it.
    const stored = (await store.getCluster(cluster))?.lastAgentSeq ?? 0;
    // This hub takes several reports per stream message.
    const batches = headers();
    batches.set(NATS_REPORT_BATCHES_HEADER, '1');
    reply(
      HubMessage.create({
        seq: UNSEQUENCED,
        body: { $case: 'ack', value: { agentSeq: BigInt(stored) } },
      }),
      batches,
    );
    const resent = await redeliverApprovals(this.#o, session, Number(hello.lastAckedHubSeq));
    await deliverSuspensions(this.#o, session, { onlyIfEverPaused: true });
    this.#o.announceSession(cluster, follows);
    await store.setConnected(cluster, true, this.#o.clock.now());
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

  /** This replica's session for a NATS-linked cluster (created when absent). */
  adopt(cluster: string, follows?: { repoUrl: string; branch: string }): NatsSession {
    const { nc, sessions, metrics } = this.#o;
    const existing = sessions.get(cluster);
    if (existing && isNatsSession(existing)) {
      if (follows) existing.follows = follows;
      return existing;
    }
    const down = natsSubjects.down(cluster);
    const session: NatsSession = {
      cluster,
      nats: true,
      ...(follows ? { follows } : {}),
      send: (message) => {
        if (nc.isClosed()) return false;
        nc.publish(down, HubMessage.encode(message).finish());
        return true;
      },
      close: (code, details) => {
        // Only revocation closes a NATS session: tell the agent why, as a gRPC status would.
        if (!nc.isClosed())
          nc.publish(
            down,
            HubMessage.encode(
              HubMessage.create({ body: { $case: 'linkClosed', value: { code, details } } }),
            ).finish(),
          );
        this.#forget(cluster, session);
      },
    };
    // A gRPC stream of the same cluster (it switched transports) is replaced, as a newer stream.
    existing?.close(status.ABORTED, `cluster ${cluster}: replaced by its NATS link`);
    sessions.register(session);
    metrics.connectedAgents.set(sessions.size);
    this.#arm(cluster, session);
    return session;
  }

  async #heartbeat(cluster: string): Promise<void> {
    const { store } = this.#o;
    this.#heard.set(cluster, this.#o.clock.now());
    const refused = await this.#refusal(cluster);
    if (refused) return this.tellRefused(cluster, refused);
    const known = this.#o.sessions.get(cluster);
    if (!known || !isNatsSession(known)) {
      // E.g. this replica started after the agent's Hello: the cluster is live all the same.
      const c = await store.getCluster(cluster);
      const session = this.adopt(
        cluster,
        c?.repoUrl ? { repoUrl: c.repoUrl, branch: c.branch } : undefined,
      );
      await store.setConnected(cluster, true, this.#o.clock.now());
      // Approvals made while no replica knew the cluster live (e.g. all hubs restarted) were
      // only stored: the agent keeps its connection, so no new Hello would fetch them.
      await redeliverApprovals(this.#o, session, c?.ackedHubSeq ?? 0);
      await deliverSuspensions(this.#o, session, { onlyIfEverPaused: true });
    } else this.#arm(cluster, known);
    await this.#lastSeen.heartbeat(cluster);
  }

  /**
   * Ends a refused cluster's link from the hub's side: forgets its session and sends LinkClosed
   * down its subject, so an agent that missed the LinkClosed of the revocation itself (e.g. no
   * replica had adopted its session yet) hears it on its next heartbeat or report. At most once
   * a second per cluster, as every replica hears heartbeats.
   */
  tellRefused(cluster: string, refused: Refusal): void {
    const { nc, sessions, clock } = this.#o;
    const session = sessions.get(cluster);
    if (session && isNatsSession(session)) this.#forget(cluster, session);
    const now = clock.now();
    if (now - (this.#toldRefused.get(cluster) ?? -Infinity) < 1000 || nc.isClosed()) return;
    this.#toldRefused.set(cluster, now);
    nc.publish(
      natsSubjects.down(cluster),
      HubMessage.encode(
        HubMessage.create({ body: { $case: 'linkClosed', value: refused } }),
      ).finish(),
    );
  }

  /**
   * (Re)starts the cluster's liveness timer: no heartbeat in time means disconnected. Node runs
   * due timers before it reads the sockets, so a hub whose event loop was held up would find
   * every timer due while the heartbeats that reset them wait unread: the verdict is taken
   * after the next read of the sockets, and a heartbeat received meanwhile (or received but
   * still being handled) re-arms the timer for the rest of its time.
   */
  #arm(cluster: string, session: NatsSession, afterMs = this.#o.heartbeatTimeoutMs): void {
    this.#liveness.get(cluster)?.();
    const { clock, events, log, heartbeatTimeoutMs } = this.#o;
    const cancel = clockTimeout(clock, afterMs, () =>
      setImmediate(() => {
        if (this.#liveness.get(cluster) !== cancel) return; // re-armed meanwhile
        const since = clock.now() - (this.#heard.get(cluster) ?? -Infinity);
        if (since < heartbeatTimeoutMs) this.#arm(cluster, session, heartbeatTimeoutMs - since);
        else expire();
      }),
    );
    const expire = () => {
      if (!this.#forget(cluster, session)) return;
      void this.#lastSeen.disconnected(cluster, () => this.#o.sessions.get(cluster) !== undefined);
      events.publish({ type: 'cluster.disconnected', cluster });
      log.info({ cluster, link: 'nats' }, 'agent disconnected (no heartbeat)');
    };
    this.#liveness.set(cluster, cancel);
  }

  #forget(cluster: string, session: NatsSession): boolean {
    this.#liveness.get(cluster)?.();
    this.#liveness.delete(cluster);
    this.#heard.delete(cluster);
    this.#lastSeen.forget(cluster);
    const was = this.#o.sessions.unregister(session);
    if (was) this.#o.metrics.connectedAgents.set(this.#o.sessions.size);
    return was;
  }

  /**
   * Feeds the stream to the ingest, acking each report after its commit. With group commit,
   * reports of many clusters are in the hub at once (up to {@link NATS_INGEST_WINDOW}); each
   * cluster's go to the group commit in stream order, the next as soon as the one before is
   * queued there (the group commit keeps that order into the store), so a cluster with many
   * reports in the stream still has one in every transaction.
   */
  async #consume(): Promise<void> {
    const js = this.#o.nc.jetstream();
    const consumer = await js.consumers.get(NATS_REPORT_STREAM, NATS_HUB_CONSUMER);
    const batch = this.#o.ingestBatch;
    this.#messages = await consumer.consume({ max_messages: batch ? NATS_PULL_MESSAGES : 16 });
    if (!batch) {
      for await (const m of this.#messages) await this.#ingest(m);
      return;
    }
    /** Per cluster: settles once its latest report is queued for a commit (or is done). */
    const queued = new Map<string, Promise<void>>();
    let inFlight = 0;
    let drained: (() => void) | undefined;
    for await (const m of this.#messages) {
      const cluster = clusterOfSubject(m.subject);
      let markQueued!: () => void;
      const mine = new Promise<void>((resolve) => (markQueued = resolve));
      const before = queued.get(cluster);
      queued.set(cluster, mine);
      // The window counts reports (checked by the ingest; at least 1 for the count here).
      const reports = Math.max(
        1,
        Math.min(Number(m.headers?.get(NATS_REPORTS_HEADER)) || 1, NATS_INGEST_WINDOW),
      );
      inFlight += reports;
      const done = () => {
        markQueued();
        inFlight -= reports;
        if (queued.get(cluster) === mine) queued.delete(cluster);
        drained?.();
      };
      if (before) void before.then(() => this.#ingest(m, markQueued)).finally(done);
      else void this.#ingest(m, markQueued).finally(done);
      // Bounded: at most a window of reports waits in the hub at once.
      while (inFlight >= NATS_INGEST_WINDOW)
        await new Promise<void>((resolve) => (drained = resolve));
    }
  }

  /**
   * Stores the reports of one stream message (one, or several of one agent in seq order) and
   * acks the message there after they are all committed; `queued` is called once the last
   * waits for a commit (or one has failed before that).
   */
  async #ingest(m: JsMsg, queued?: () => void): Promise<void> {
    const { log } = this.#o;
    const cluster = clusterOfSubject(m.subject);
    try {
      const reports = decodeReports(m, cluster);
      const refused = await this.#refusal(cluster);
      if (refused) {
        log.warn({ cluster, reason: refused.details }, 'NATS report dropped');
        m.term();
        this.tellRefused(cluster, refused);
        return;
      }
      await this.#ingestInOrder(cluster, reports, queued);
      this.#ackStream(m);
    } catch (err) {
      const deliveries = m.info.deliveryCount;
      if (err instanceof ReportOutOfOrderError && deliveries < OUT_OF_ORDER_RETRIES) {
        // The report before it is likely still on its way: in another replica, or redelivered
        // after a failed commit. The stream hands this one out again a little later.
        m.nak(OUT_OF_ORDER_RETRY_MS * 2 ** (deliveries - 1));
      } else if (err instanceof ReportOutOfOrderError) {
        // A report before it is missing from the stream (lost): drop this copy; the agent
        // still holds it and resends it after reconnecting.
        log.warn(
          { cluster, err: errorMessage(err) },
          'NATS report out of order; agent told to resend',
        );
        m.term();
        this.#tellResend(cluster, err.message);
      } else if (err instanceof InvalidArgumentError) {
        // A malformed report never becomes valid: drop it, as gRPC ends such a stream.
        log.warn({ cluster, err: errorMessage(err) }, 'NATS report refused');
        m.term();
      } else {
        // The store is down or busy: JetStream redelivers it.
        log.warn({ cluster, err: errorMessage(err) }, 'NATS report not stored; redelivering');
        m.nak(2000);
      }
    } finally {
      queued?.();
    }
  }

  /**
   * Stores one agent's reports in seq order: with group commit, each goes to the batcher as soon
   * as the one before it is queued there (so they share transactions), and `queued` is called
   * once the last is. Rejects with the first report's error, after every report settled (one
   * stored before a failure stays stored; a redelivery finds it a replay).
   */
  async #ingestInOrder(
    cluster: string,
    reports: AgentMessage[],
    queued?: () => void,
  ): Promise<void> {
    const { store, events, metrics, clock } = this.#o;
    // The hub's ack goes down the cluster's subject: it releases the reports from the agent's
    // outbox, which the stream's publish ack does not.
    const down = { send: (ack: HubMessage) => this.#sendAck(cluster, ack) };
    const batcher = this.#o.ingestBatch;
    if (!batcher) {
      for (const msg of reports)
        await ingestReport({ store, events, metrics, clock }, cluster, msg, down);
      return;
    }
    const stored: Promise<void>[] = [];
    let previousQueued = Promise.resolve();
    for (const msg of reports) {
      let markQueued!: () => void;
      const isQueued = new Promise<void>((resolve) => (markQueued = resolve));
      const batch = {
        ingest: (...args: Parameters<IngestBatcher['ingest']>) => {
          const committed = batcher.ingest(...args);
          markQueued();
          return committed;
        },
      };
      stored.push(
        previousQueued
          .then(() => ingestReport({ store, events, metrics, clock, batch }, cluster, msg, down))
          .finally(markQueued),
      );
      previousQueued = isQueued;
    }
    void previousQueued.then(() => queued?.());
    const results = await Promise.allSettled(stored);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Sends the hub's ack of a stored report down the cluster's subject, coalesced: the acks of
   * one cluster's reports committed together (one group commit) go as one message, the one
   * naming the highest seq (an ack of seq s acks every report up to s), sent once the commit's
   * continuations have run. False when the connection is closed.
   */
  #sendAck(cluster: string, ack: HubMessage): boolean {
    const { nc } = this.#o;
    if (nc.isClosed()) return false;
    const seq = ack.body?.$case === 'ack' ? ack.body.value.agentSeq : undefined;
    if (seq === undefined) {
      nc.publish(natsSubjects.down(cluster), HubMessage.encode(ack).finish());
      return true;
    }
    const pending = this.#acksDue.get(cluster);
    if (pending === undefined || seq > pending) this.#acksDue.set(cluster, seq);
    this.#scheduleAcks();
    return true;
  }

  /**
   * Acks a stored report to JetStream at the next flush, with the acks of the other reports
   * of its commit: one write to nats-server for all of them (the client writes what was
   * published in one go together, and each report's ingest resumes on its own). A hub that
   * stops before the flush has them redelivered, and stores each once.
   */
  #ackStream(m: JsMsg): void {
    this.#streamAcksDue.push(m);
    this.#scheduleAcks();
  }

  #scheduleAcks(): void {
    if (this.#acksScheduled) return;
    this.#acksScheduled = true;
    setImmediate(() => this.#flushAcks());
  }

  #flushAcks(): void {
    this.#acksScheduled = false;
    const { nc } = this.#o;
    const due = [...this.#acksDue];
    this.#acksDue.clear();
    const stored = this.#streamAcksDue;
    this.#streamAcksDue = [];
    if (nc.isClosed()) return;
    for (const m of stored) m.ack();
    for (const [cluster, agentSeq] of due)
      nc.publish(
        natsSubjects.down(cluster),
        HubMessage.encode(
          HubMessage.create({ seq: UNSEQUENCED, body: { $case: 'ack', value: { agentSeq } } }),
        ).finish(),
      );
  }

  /**
   * Tells an agent to reconnect, so that it resends every report after the hub's Ack (sent
   * as a LinkClosed with ABORTED, which the agent retries). At most once a second per cluster:
   * the copies after a hole arrive together.
   */
  #tellResend(cluster: string, details: string): void {
    const now = this.#o.clock.now();
    if (now - (this.#toldResend.get(cluster) ?? -Infinity) < 1000 || this.#o.nc.isClosed()) return;
    this.#toldResend.set(cluster, now);
    this.#o.nc.publish(
      natsSubjects.down(cluster),
      HubMessage.encode(
        HubMessage.create({
          body: { $case: 'linkClosed', value: { code: status.ABORTED, details } },
        }),
      ).finish(),
    );
  }

  async #renew(cluster: string, csrPem: string): Promise<void> {
    if (await this.#refusal(cluster)) return;
    const { message, serial } = await renewCertificate(
      { ...this.#o, renewals: this.#renewals },
      cluster,
      csrPem,
    );
    this.adopt(cluster).send(message);
    this.#o.log.info({ cluster, serial, link: 'nats' }, 'certificate renewed');
  }
}

/**
 * Decodes the reports of a stream message (see {@link NATS_REPORTS_HEADER}); anything that is
 * not a report, or reports out of seq order, is an InvalidArgumentError.
 */
function decodeReports(m: JsMsg, cluster: string): AgentMessage[] {
  let parts: Uint8Array[];
  try {
    parts = splitReports(m.data, m.headers?.get(NATS_REPORTS_HEADER));
  } catch (err) {
    throw new InvalidArgumentError(
      `reports from cluster ${cluster}: malformed message: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  const reports = parts.map((data) => decodeReport(data, cluster));
  for (let i = 1; i < reports.length; i++)
    if (reports[i]!.seq !== reports[i - 1]!.seq + 1n)
      throw new InvalidArgumentError(
        `reports from cluster ${cluster}: seq ${reports[i]!.seq} follows ${reports[i - 1]!.seq} in one message`,
      );
  return reports;
}

/** Decodes a report from the stream; anything that is not one is an InvalidArgumentError. */
function decodeReport(data: Uint8Array, cluster: string): AgentMessage {
  let msg: AgentMessage;
  try {
    msg = AgentMessage.decode(data);
  } catch (err) {
    throw new InvalidArgumentError(`report from cluster ${cluster} is not an AgentMessage`, {
      cause: err,
    });
  }
  if (!msg.body) throw new InvalidArgumentError(`report from cluster ${cluster} has no body`);
  return msg;
}
