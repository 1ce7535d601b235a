import * as grpc from '@grpc/grpc-js';
import {
  errorMessage,
  getTracer,
  inSpan,
  SpanAttr,
  systemClock,
  type Clock,
  type Logger,
} from '@driftless/common';
import {
  AgentService,
  HubMessage,
  UNSEQUENCED,
  type AgentMessage,
  type AgentServiceServer,
  type EnrollRequest,
  type EnrollResponse,
} from '@driftless/proto';
import {
  checkLabels,
  peerAddress,
  type CertificateAuthority,
  type Enroller,
} from '../enroll/index.ts';
import {
  InvalidArgumentError,
  PermissionDeniedError,
  RateLimitedError,
  UnauthenticatedError,
} from '../errors.ts';
import type { EventBus } from '../events.ts';
import type { HubMetrics } from '../metrics.ts';
import type { ApprovalRecord, Store } from '../store/index.ts';
import { deliverApprovals, redeliverApprovals } from './approvals.ts';
import { checkFollows, checkHelloApps, recordHello } from './hello.ts';
import { toServiceError } from './grpc-errors.ts';
import { ingestReport } from './ingest.ts';
import type { IngestBatcher } from './ingest-batch.ts';
import { deliverSuspensions, watchSuspensions } from './suspensions.ts';
import { LastSeen } from './last-seen.ts';
import { RenewalLimiter, renewCertificate } from './renew.ts';
import type { Session, SessionRegistry } from './sessions.ts';
import type { TreeRequests } from './tree-requests.ts';

const tracer = getTracer('@driftless/hub/link');

/** How often the hub pings an agent's connection to find dead ones, ms. */
const KEEPALIVE_TIME_MS = 30_000;

/**
 * How long a ping may go unanswered before the hub drops the connection, ms. The timeout is a
 * timer on the hub's event loop, and Node runs due timers before it reads the sockets: when
 * the hub's loop is held up longer than this (a busy, CPU-starved hub), every connection with
 * a ping out is dropped although its answer sits unread in the socket. With 10,000 agents a
 * few hundred pings are out at any moment, so a 10 s timeout dropped agents in droves, and
 * their reconnects made the hub busier still. A dead agent costs a file descriptor until
 * then, and its reconnect replaces the old stream at once.
 */
const KEEPALIVE_TIMEOUT_MS = 120_000;

/** Options of {@link LinkServer}. */
export interface LinkServerOptions {
  store: Store;
  ca: CertificateAuthority;
  enroller: Enroller;
  sessions: SessionRegistry;
  events: EventBus;
  metrics: HubMetrics;
  log: Logger;
  /** Validity of certificates issued on renewal. */
  clientCertValidityMs: number;
  /** Names (DNS or IP) the hub's TLS server certificate is valid for. */
  serverNames: string[];
  /** Where agents' answers to object-tree requests go. Default: none (answers are dropped). */
  trees?: TreeRequests;
  /** Group commit of reports (shared with the NATS link). Default: one transaction per report. */
  ingestBatch?: IngestBatcher;
  clock?: Clock;
}

/**
 * A CertificateProvider that hands grpc-js fixed PEMs (the CA never changes while running).
 * Listeners are called on the next tick: grpc-js registers them before it registers the
 * server's watcher, so a synchronous update would reach nobody.
 */
function staticProvider(update: {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}): grpc.experimental.CertificateProvider {
  return {
    addCaCertificateListener: (l) =>
      setImmediate(() => l(update.ca ? { caCertificate: update.ca } : null)),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (l) =>
      setImmediate(() =>
        l(update.cert && update.key ? { certificate: update.cert, privateKey: update.key } : null),
      ),
    removeIdentityCertificateListener: () => undefined,
  };
}

/**
 * The hub side of AgentService over TLS. One port serves both calls: the TLS
 * layer asks every client for a certificate but does not require one, because
 * Enroll comes before the agent has any; Connect then refuses any stream whose
 * certificate TLS did not verify against our CA, or that is revoked.
 */
export class LinkServer {
  readonly #o: LinkServerOptions;
  readonly #clock: Clock;
  readonly #server: grpc.Server;
  readonly #lastSeen: LastSeen;
  readonly #renewals: RenewalLimiter;
  readonly #unwatchSuspensions: () => void;

  constructor(options: LinkServerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    // Pauses made on any replica go down the streams this replica holds (NATS ones included).
    this.#unwatchSuspensions = watchSuspensions({ ...options, clock: this.#clock });
    this.#lastSeen = new LastSeen(options.store, this.#clock, options.log);
    this.#renewals = new RenewalLimiter(this.#clock);
    this.#server = new grpc.Server({
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      'grpc.http2.min_ping_interval_without_data_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      // Channelz keeps per-connection call counters and traces nobody reads here; with ten
      // thousand agents connected it is memory and work on every call for nothing.
      'grpc.enable_channelz': 0,
    });
    const impl: AgentServiceServer = {
      enroll: (call, callback) => void this.#enroll(call, callback),
      connect: (call) => void this.#connect(call),
    };
    this.#server.addService(AgentService, impl);
  }

  /** Binds `address` (host:port; port 0 picks one) and returns the bound port. */
  async listen(address: string): Promise<number> {
    const server = await this.#o.ca.issueServerCertificate(this.#o.serverNames);
    const creds = grpc.experimental.createCertificateProviderServerCredentials(
      staticProvider({ cert: Buffer.from(server.certPem), key: Buffer.from(server.keyPem) }),
      staticProvider({ ca: Buffer.from(this.#o.ca.certPem) }),
      false,
    );
    return new Promise((resolve, reject) =>
      this.#server.bindAsync(address, creds, (err, port) =>
        err
          ? reject(new Error(`gRPC listen on ${address}: ${err.message}`, { cause: err }))
          : resolve(port),
      ),
    );
  }

  /** Closes every stream and stops; waits at most `graceMs` for calls in flight. */
  async close(graceMs = 2000): Promise<void> {
    this.#unwatchSuspensions();
    this.#o.sessions.closeAll(grpc.status.UNAVAILABLE, 'hub is shutting down');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #enroll(
    call: grpc.ServerUnaryCall<EnrollRequest, EnrollResponse>,
    callback: grpc.sendUnaryData<EnrollResponse>,
  ): Promise<void> {
    const { enroller, metrics, log } = this.#o;
    const peer = peerAddress(call.getPeer());
    const req = call.request;
    try {
      const out = await inSpan(
        tracer,
        'AgentService/Enroll',
        { [SpanAttr.cluster]: req.clusterName, 'client.address': peer },
        () =>
          enroller.enroll(
            {
              token: req.token,
              clusterName: req.clusterName,
              csrPem: req.csrPem,
              agentVersion: req.agentVersion,
              labels: req.labels,
              natsUserPublicKey: req.natsUserPublicKey,
            },
            peer,
          ),
      );
      metrics.enrollments.inc({ result: 'ok' });
      metrics.rpcs.inc({ method: 'Enroll', code: 'OK' });
      this.#o.events.publish({ type: 'cluster.enrolled', cluster: req.clusterName });
      callback(null, {
        certificatePem: out.certificatePem,
        caBundlePem: out.caBundlePem,
        notAfterUnixMs: BigInt(out.notAfterMs),
        natsUserJwt: out.natsUserJwt,
      });
    } catch (err) {
      const e = toServiceError(err);
      const name = grpc.status[e.code ?? grpc.status.INTERNAL];
      metrics.enrollments.inc({ result: name });
      metrics.rpcs.inc({ method: 'Enroll', code: name });
      if (e.code === grpc.status.INTERNAL) log.error({ err, peer }, 'Enroll failed');
      callback(e);
    }
  }

  /** Who is calling: the cluster named by a verified, unrevoked client certificate. */
  async #authenticate(
    call: grpc.ServerDuplexStream<AgentMessage, HubMessage>,
  ): Promise<{ cluster: string; serial: string }> {
    const cert = call.getAuthContext()?.sslPeerCertificate;
    // grpc-js only reports a peer certificate when TLS verified it against our CA.
    if (!cert)
      throw new UnauthenticatedError(
        'Connect: a client certificate issued by this hub CA is required (enroll first)',
      );
    const cn = cert.subject?.CN;
    const cluster = Array.isArray(cn) ? cn[0] : cn;
    if (!cluster) throw new UnauthenticatedError('Connect: client certificate has no CN');
    const serial = cert.serialNumber.toUpperCase();
    const record = await this.#o.store.getCertificate(serial);
    if (!record || record.cluster !== cluster)
      throw new UnauthenticatedError(
        `Connect cluster ${cluster}: certificate ${serial} was not issued by this hub`,
      );
    if (record.revokedMs !== 0)
      throw new PermissionDeniedError(
        `Connect cluster ${cluster}: certificate ${serial} was revoked`,
      );
    const c = await this.#o.store.getCluster(cluster);
    if (!c || c.revokedMs !== 0)
      throw new PermissionDeniedError(`Connect cluster ${cluster}: the cluster was revoked`);
    return { cluster, serial };
  }

  async #connect(call: grpc.ServerDuplexStream<AgentMessage, HubMessage>): Promise<void> {
    const { store, sessions, events, metrics, log } = this.#o;
    let closed = false;
    const fail = (err: unknown) => {
      if (closed) return;
      closed = true;
      const given = err as { code?: unknown; details?: unknown };
      const e =
        typeof given.code === 'number' && typeof given.details === 'string'
          ? (err as Partial<grpc.ServiceError>)
          : toServiceError(err);
      metrics.rpcs.inc({ method: 'Connect', code: grpc.status[e.code ?? grpc.status.INTERNAL] });
      call.emit('error', e);
    };
    let identity: { cluster: string; serial: string };
    try {
      identity = await this.#authenticate(call);
    } catch (err) {
      log.warn({ peer: call.getPeer(), reason: errorMessage(err) }, 'Connect refused');
      return fail(err);
    }
    const { cluster } = identity;
    const session: Session = {
      cluster,
      send: (message) => {
        if (closed || call.writableEnded || call.destroyed) return false;
        call.write(message);
        return true;
      },
      close: (code, details) =>
        fail(Object.assign(new Error(details), { code, details, fromClose: true })),
    };
    const span = tracer.startSpan('AgentService/Connect', {
      attributes: { [SpanAttr.cluster]: cluster },
    });
    let helloSeen = false;
    try {
      // destroyOnReturn false: leaving the loop on an error must not destroy the call before
      // its status (e.g. INVALID_ARGUMENT with the reason) is sent.
      for await (const raw of call.iterator({ destroyOnReturn: false })) {
        if (closed) break;
        const msg = raw as AgentMessage;
        const body = msg.body;
        if (!body)
          throw new InvalidArgumentError(
            `Connect cluster ${cluster}: message seq ${msg.seq} has no body`,
          );
        if (!helloSeen) {
          if (body.$case !== 'hello')
            throw new InvalidArgumentError(
              `Connect cluster ${cluster}: the first message must be a Hello, got ${body.$case}`,
            );
          helloSeen = true;
          await this.#hello(cluster, body.value, session);
          continue;
        }
        switch (body.$case) {
          case 'hello':
            throw new InvalidArgumentError(
              `Connect cluster ${cluster}: a second Hello on one stream`,
            );
          case 'heartbeat':
            await this.#lastSeen.heartbeat(cluster);
            break;
          case 'ack':
            await store.ackHubSeq(cluster, Number(body.value.hubSeq));
            break;
          case 'renewCertificate':
            await this.#renew(cluster, body.value.csrPem, session);
            break;
          case 'treeResponse':
            this.#o.trees?.answer(cluster, body.value);
            break;
          case 'appStatus':
          case 'syncResult':
          case 'driftReport':
          case 'reportsDropped':
          case 'configStatus':
            // One report at a time: a refused one ends the stream with its error at once.
            await this.#ingest(cluster, msg, session);
            break;
        }
      }
      if (!closed) {
        closed = true;
        call.end();
        metrics.rpcs.inc({ method: 'Connect', code: 'OK' });
      }
    } catch (err) {
      const e = err as { fromClose?: boolean; code?: unknown };
      if (!closed && !(call.cancelled || e.code === 'ERR_STREAM_PREMATURE_CLOSE')) {
        log.warn({ cluster, err: errorMessage(err) }, 'Connect stream failed');
        span.recordException(err instanceof Error ? err : new Error(String(err)));
      }
      fail(err);
    } finally {
      span.end();
      if (sessions.unregister(session)) {
        metrics.connectedAgents.set(sessions.size);
        await this.#lastSeen.disconnected(cluster, () => sessions.get(cluster) !== undefined);
        events.publish({ type: 'cluster.disconnected', cluster });
        log.info({ cluster }, 'agent disconnected');
      }
    }
  }

  async #hello(
    cluster: string,
    hello: {
      clusterName: string;
      agentVersion: string;
      lastAckedHubSeq: bigint;
      labels: Record<string, string>;
      apps: string[];
      repoUrl: string;
      branch: string;
    },
    session: Session,
  ): Promise<void> {
    const { store, sessions, events, metrics, log } = this.#o;
    if (hello.clusterName !== cluster)
      throw new PermissionDeniedError(
        `Connect cluster ${cluster}: Hello names cluster "${hello.clusterName.slice(0, 63)}", but the certificate is for ${cluster}`,
      );
    checkLabels(hello.labels, `Hello from cluster ${cluster}`);
    checkFollows(hello, `Hello from cluster ${cluster}`);
    checkHelloApps(hello, `Hello from cluster ${cluster}`);
    // Set before registering, so a webhook delivery never sees a session without it.
    session.follows = { repoUrl: hello.repoUrl, branch: hello.branch };
    const old = sessions.register(session);
    old?.close(grpc.status.ABORTED, `cluster ${cluster}: replaced by a newer Connect stream`);
    metrics.connectedAgents.set(sessions.size);
    const lastAgentSeq = await recordHello(store, cluster, hello, this.#clock.now());
    session.send(
      HubMessage.create({
        seq: UNSEQUENCED,
        body: { $case: 'ack', value: { agentSeq: BigInt(lastAgentSeq) } },
      }),
    );
    const resent = await redeliverApprovals(
      { store, events, clock: this.#clock },
      session,
      Number(hello.lastAckedHubSeq),
    );
    await deliverSuspensions({ store, clock: this.#clock }, session, { onlyIfEverPaused: true });
    events.publish({
      type: 'cluster.connected',
      cluster,
      data: { agentVersion: hello.agentVersion },
    });
    log.info(
      {
        cluster,
        agentVersion: hello.agentVersion,
        resent,
        branch: hello.branch,
      },
      'agent connected',
    );
  }

  /**
   * Sends approvals down a session and records as delivered those whose send succeeded
   * (see {@link deliverApprovals}); returns those.
   */
  deliverApprovals(session: Session, approvals: ApprovalRecord[]): Promise<ApprovalRecord[]> {
    const { store, events } = this.#o;
    return deliverApprovals({ store, events, clock: this.#clock }, session, approvals);
  }

  async #ingest(cluster: string, msg: AgentMessage, session: Pick<Session, 'send'>): Promise<void> {
    const { store, events, metrics, ingestBatch: batch } = this.#o;
    await ingestReport(
      { store, events, metrics, clock: this.#clock, batch },
      cluster,
      msg,
      session,
    );
  }

  async #renew(cluster: string, csrPem: string, session: Session): Promise<void> {
    let renewed;
    try {
      renewed = await renewCertificate({ ...this.#o, renewals: this.#renewals }, cluster, csrPem);
    } catch (err) {
      // Over the limit: refused, but the stream (and the reports on it) goes on.
      if (!(err instanceof RateLimitedError)) throw err;
      this.#o.log.warn({ cluster, err: errorMessage(err) }, errorMessage(err));
      return;
    }
    session.send(renewed.message);
    this.#o.log.info({ cluster, serial: renewed.serial }, 'certificate renewed');
  }
}
