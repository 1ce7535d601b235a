import { connect, jwtAuthenticator, type JetStreamClient, type NatsConnection } from 'nats';
import { createUser } from 'nkeys.js';
import { errorMessage, type Logger } from '@driftless/common';
import {
  AgentMessage,
  HubMessage,
  type EnrollRequest,
  type EnrollResponse,
} from '@driftless/proto';
import { EnrollError, GrpcCode } from './errors.ts';
import type { Identity } from './identity.ts';
import type {
  EnrollExtension,
  LinkStream,
  LinkTransport,
  StreamEnd,
  StreamHandlers,
} from './transport.ts';

/**
 * The subject token of a cluster: `.` (allowed in cluster names, a token
 * separator in NATS) becomes `_` (not allowed in cluster names), so the
 * mapping is one-to-one and a cluster stays inside its permissions. The hub
 * uses the same rule (hub/src/enroll/nats-auth.ts).
 */
export function natsClusterToken(cluster: string): string {
  return cluster.replaceAll('.', '_');
}

/** The connection state of the NATS client, as {@link NatsTransportOptions.onStatus} receives it. */
export type NatsLinkEvent =
  | { type: 'connected'; server: string }
  | { type: 'disconnected'; server: string }
  | { type: 'reconnecting' }
  | { type: 'reconnected'; server: string }
  | { type: 'error'; error: string; permission?: { operation: string; subject: string } }
  | { type: 'closed'; error?: string };

/** Options of {@link NatsTransport}. */
export interface NatsTransportOptions {
  /** NATS server URLs, comma-separated (`nats://host:4222,...`). */
  servers: string;
  /** This agent's cluster: its subjects are `driftless.agent.<cluster>.*`. */
  cluster: string;
  /**
   * The transport Enroll goes through (gRPC over server-authenticated TLS to
   * the hub): enrollment needs the hub itself, NATS carries the link after it.
   */
  enrollVia: LinkTransport;
  /** How long the hub may take to answer a Hello. Default 10 s. */
  helloTimeoutMs?: number;
  /** How long a JetStream publish ack may take. Default 10 s. */
  publishTimeoutMs?: number;
  /** Reports published and not yet acked by JetStream before `write` says "wait". Default 256. */
  maxInFlight?: number;
  /** Connection state changes of the client (it reconnects by itself). */
  onStatus?: (event: NatsLinkEvent) => void;
  logger?: Logger;
}

// Ends of a NATS link carry gRPC codes, so the link classifies them as gRPC ends.
const { UNAVAILABLE, UNAUTHENTICATED } = GrpcCode;

/**
 * The NATS transport of the link (docs/link.md, "NATS"). Every AgentMessage
 * keeps its protobuf encoding, seq and trace context:
 * - reports (seq > 0) are published to `driftless.agent.<cluster>.up`, which
 *   the hub's JetStream stream captures (kept while the hub is down); the hub
 *   acks each on the down subject once stored, which releases it from the
 *   outbox (the publish ack only paces writes);
 * - the Hello is a request to `driftless.agent.<cluster>.hello`, answered by
 *   one hub replica with the Ack naming the highest seq stored;
 * - heartbeats, acks of hub messages, renewals and object-tree answers
 *   (`driftless.agent.<cluster>.tree`) are core NATS publishes;
 * - what the hub sends comes on `driftless.hub.<cluster>.down`.
 * The client reconnects by itself (state reported through `onStatus`); the
 * "stream" ends only when the connection closes for good, a Hello is not
 * answered, a publish is not acked, or the hub sends LinkClosed.
 */
export class NatsTransport implements LinkTransport {
  readonly #o: NatsTransportOptions;

  constructor(options: NatsTransportOptions) {
    this.#o = options;
  }

  enroll(request: EnrollRequest, caPem: string, signal?: AbortSignal): Promise<EnrollResponse> {
    return this.#o.enrollVia.enroll(request, caPem, signal);
  }

  prepareEnroll(cluster: string): EnrollExtension {
    // The seed is made here and never leaves the agent; only the public key goes to the hub.
    const user = createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    return {
      request: { natsUserPublicKey: user.getPublicKey() },
      complete: (identity, response) => {
        if (!response.natsUserJwt)
          throw new EnrollError(
            `enroll cluster ${cluster}: the hub returned no NATS credentials (is it a hub without NATS support?)`,
            { code: GrpcCode.INVALID_ARGUMENT },
          );
        return { ...identity, nats: { seed, jwt: response.natsUserJwt } };
      },
    };
  }

  connect(identity: Identity, handlers: StreamHandlers): LinkStream {
    return new NatsStream(this.#o, identity, handlers);
  }
}

/** One link session over one NATS connection. */
class NatsStream implements LinkStream {
  readonly #o: NatsTransportOptions;
  readonly #handlers: StreamHandlers;
  readonly #prefix: string;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  /** Written before the connection was up; sent in order once it is. */
  #pending: AgentMessage[] = [];
  #ended = false;
  #inFlight = 0;
  #blocked = false;
  /** Publish acks are awaited in publication order. */
  #acks: Promise<void> = Promise.resolve();

  constructor(o: NatsTransportOptions, identity: Identity, handlers: StreamHandlers) {
    this.#o = o;
    this.#handlers = handlers;
    this.#prefix = `driftless.agent.${natsClusterToken(o.cluster)}`;
    void this.#open(identity);
  }

  async #open(identity: Identity): Promise<void> {
    const { cluster } = this.#o;
    if (!identity.nats) {
      // An identity from a gRPC enrollment: the hub never issued NATS credentials for it.
      queueMicrotask(() =>
        this.#end({
          code: UNAUTHENTICATED,
          details: `cluster ${cluster} has no NATS credentials in its identity: enroll again with a new token while --transport nats is set`,
        }),
      );
      return;
    }
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: this.#o.servers.split(',').map((s) => s.trim()),
        name: `driftless-agent ${cluster}`,
        authenticator: jwtAuthenticator(
          identity.nats.jwt,
          new TextEncoder().encode(identity.nats.seed),
        ),
        // Replies (publish acks, the Hello's Ack) come to an inbox only this cluster may read.
        inboxPrefix: `_INBOX.${natsClusterToken(cluster)}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        pingInterval: 20_000,
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      return this.#end({
        code: code === 'AUTHORIZATION_VIOLATION' ? UNAUTHENTICATED : UNAVAILABLE,
        details: `connect to NATS: ${errorMessage(err)}`,
        error: err,
      });
    }
    this.#nc = nc;
    if (this.#ended) return void nc.close();
    this.#o.onStatus?.({ type: 'connected', server: nc.getServer() });
    void this.#watch(nc);
    void nc.closed().then((err) => {
      this.#o.onStatus?.({ type: 'closed', ...(err ? { error: errorMessage(err) } : {}) });
      this.#end({
        code: UNAVAILABLE,
        details: `NATS connection closed${err ? `: ${errorMessage(err)}` : ''}`,
        ...(err ? { error: err } : {}),
      });
    });
    nc.subscribe(`driftless.hub.${natsClusterToken(cluster)}.down`, {
      callback: (err, msg) => {
        if (err) return this.#end({ code: UNAVAILABLE, details: errorMessage(err), error: err });
        this.#deliver(msg.data);
      },
    });
    this.#js = nc.jetstream();
    try {
      // The subscription must be in place before the Hello: approvals follow its Ack at once.
      await nc.flush();
    } catch (err) {
      return this.#end({ code: UNAVAILABLE, details: errorMessage(err), error: err });
    }
    const pending = this.#pending;
    this.#pending = [];
    for (const m of pending) this.write(m);
  }

  /** Maps the client's status stream to our typed events. */
  async #watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      const data = typeof s.data === 'string' ? s.data : JSON.stringify(s.data);
      // The client's event names, as strings: its enums are not exported as values we share.
      switch (s.type as string) {
        case 'disconnect':
          this.#o.onStatus?.({ type: 'disconnected', server: data });
          break;
        case 'reconnect':
          this.#o.onStatus?.({ type: 'reconnected', server: data });
          break;
        case 'reconnecting':
          this.#o.onStatus?.({ type: 'reconnecting' });
          break;
        case 'error':
          this.#o.onStatus?.({
            type: 'error',
            error: data,
            ...(s.permissionContext ? { permission: s.permissionContext } : {}),
          });
          break;
      }
    }
  }

  #deliver(data: Uint8Array): void {
    let m: HubMessage;
    try {
      m = HubMessage.decode(data);
    } catch (err) {
      this.#o.logger?.warn(
        { err: errorMessage(err) },
        'hub link: undecodable message from the hub; ignored',
      );
      return;
    }
    if (m.body?.$case === 'linkClosed')
      return this.#end({ code: m.body.value.code, details: m.body.value.details });
    if (!this.#ended) this.#handlers.onMessage(m);
  }

  write(m: AgentMessage): boolean {
    if (this.#ended) return true;
    const nc = this.#nc;
    const js = this.#js;
    if (!nc || !js) {
      this.#pending.push(m);
      return true;
    }
    const data = AgentMessage.encode(m).finish();
    switch (m.body?.$case) {
      case 'hello':
        nc.request(`${this.#prefix}.hello`, data, { timeout: this.#o.helloTimeoutMs ?? 10_000 })
          .then((reply) => this.#deliver(reply.data))
          .catch((err: unknown) =>
            this.#end({
              code: UNAVAILABLE,
              details: `no hub answered the Hello: ${errorMessage(err)}`,
              error: err,
            }),
          );
        return true;
      case 'heartbeat':
        nc.publish(`${this.#prefix}.heartbeat`, data);
        return true;
      case 'ack':
        nc.publish(`${this.#prefix}.ack`, data);
        return true;
      case 'renewCertificate':
        nc.publish(`${this.#prefix}.renew`, data);
        return true;
      case 'treeResponse':
        // Every hub replica listens; the one waiting for this request id takes it.
        nc.publish(`${this.#prefix}.tree`, data);
        return true;
      default:
        return this.#publishReport(js, m.seq, data);
    }
  }

  /**
   * Publishes a report into the stream. The publish ack only paces the writes (and a missing
   * one ends the stream): the report is released when the hub acks it after storing it, on
   * the down subject, because a stream's copy can still be lost (e.g. nats-server killed
   * before it wrote the message to disk).
   */
  #publishReport(js: JetStreamClient, seq: bigint, data: Uint8Array): boolean {
    const max = this.#o.maxInFlight ?? 256;
    this.#inFlight++;
    const ack = js.publish(`${this.#prefix}.up`, data, {
      timeout: this.#o.publishTimeoutMs ?? 10_000,
    });
    ack.catch(() => undefined); // handled in order below
    this.#acks = this.#acks.then(async () => {
      try {
        await ack;
      } catch (err) {
        this.#end({
          code: UNAVAILABLE,
          details: `JetStream did not ack report seq ${seq}: ${errorMessage(err)}`,
          error: err,
        });
      } finally {
        this.#inFlight--;
        if (this.#blocked && this.#inFlight <= max / 2 && !this.#ended) {
          this.#blocked = false;
          this.#handlers.onDrain();
        }
      }
    });
    if (this.#inFlight >= max) this.#blocked = true;
    return !this.#blocked;
  }

  close(): void {
    this.#end({ code: 1, details: 'closed by the agent' });
  }

  #end(e: StreamEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    const nc = this.#nc;
    if (nc && !nc.isClosed()) void nc.close().catch(() => undefined);
    this.#handlers.onEnd(e);
  }
}
