import {
  connect,
  headers,
  jwtAuthenticator,
  type JetStreamClient,
  type MsgHdrs,
  type NatsConnection,
} from 'nats';
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

/**
 * Header of a JetStream message that carries several reports: their count. The payload is then
 * each report's protobuf `AgentMessage` after its length (4 bytes, big-endian), in seq order.
 * A message without it is one `AgentMessage`.
 */
export const NATS_REPORTS_HEADER = 'Driftless-Reports';
/**
 * Header of the hub's answer to a Hello when the hub takes {@link NATS_REPORTS_HEADER} messages
 * (value `1`); without it the agent publishes one report per message.
 */
export const NATS_REPORT_BATCHES_HEADER = 'Driftless-Report-Batches';

/** Several encoded reports as one payload (see {@link NATS_REPORTS_HEADER}). */
export function encodeReportBatch(reports: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const r of reports) size += 4 + r.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const r of reports) {
    view.setUint32(at, r.length);
    out.set(r, at + 4);
    at += 4 + r.length;
  }
  return out;
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
  /**
   * How long a JetStream publish ack may take. Default 30 s: a publish waits in the stream's
   * ingest queue behind the whole fleet's (10,000 agents × {@link maxInFlight} at a few
   * thousand a second is seconds, and more under load), and one tried again after a timeout is
   * a duplicate.
   */
  publishTimeoutMs?: number;
  /**
   * Messages published and not yet acked by JetStream at once. Default 1. One connection's
   * publishes enter the stream in order, so with more a message lands behind a later one only
   * when JetStream refused it and it is tried again (the hub holds the later one back until it
   * arrives); the stream refuses beyond its ingest queue (100,000 messages by default,
   * `max_buffered_msgs`). Reports written meanwhile share the next message (see
   * {@link maxBatchReports}); against a hub that takes one report per message, `write` says
   * "wait" once this many reports are out. With 4 one report per message, 10,000 agents
   * flushing at once had the hub show each of them disconnected once (docs/benchmarks.md,
   * "Fleet over NATS, 2026-12-01").
   */
  maxInFlight?: number;
  /**
   * Most reports in one JetStream message, when the hub takes several per message (it says so
   * in its answer to the Hello). Reports written while a publish is in flight wait and go out
   * together once it is acked, so a backlog costs nats-server, hub and agent one publish, one
   * delivery and one ack per message instead of per report, and still enters the stream in
   * seq order. Default 128.
   */
  maxBatchReports?: number;
  /**
   * Most bytes of reports in one JetStream message (a larger report goes alone). Default
   * 256 KiB, and never more than half the server's largest message.
   */
  maxBatchBytes?: number;
  /**
   * Tries of a report's publish when JetStream is busy (refuses it as "too many requests" or
   * does not ack in time) before the stream is ended; the waits between them double from
   * 250 ms, with jitter. Default 5.
   */
  publishAttempts?: number;
  /**
   * Least ack timeout of the link over NATS ({@link LinkTransport.minAckTimeoutMs}). Default
   * 60 s: the clock restarts when JetStream takes a report, but 10,000 agents flushing at once
   * with 4 in flight each waited up to 27 s from there for the hub's ack; a report in the
   * stream is not lost, and a lost ack costs only a later resend (the hub stores each seq once).
   */
  ackTimeoutMs?: number;
  /** Connection state changes of the client (it reconnects by itself). */
  onStatus?: (event: NatsLinkEvent) => void;
  logger?: Logger;
}

/** Defaults of {@link NatsTransportOptions}. */
export const NATS_TRANSPORT_DEFAULTS = {
  helloTimeoutMs: 10_000,
  publishTimeoutMs: 30_000,
  maxInFlight: 1,
  maxBatchReports: 128,
  maxBatchBytes: 256 * 1024,
  ackTimeoutMs: 60_000,
  publishAttempts: 5,
} as const;

/** Whether a failed JetStream publish is worth trying again: the server was busy. */
function jetStreamBusy(err: unknown): boolean {
  const code = (err as { code?: string | number }).code?.toString() ?? '';
  return code === 'TIMEOUT' || code === '429' || /too many requests/i.test(errorMessage(err));
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
  readonly minAckTimeoutMs: number;

  constructor(options: NatsTransportOptions) {
    this.#o = options;
    this.minAckTimeoutMs = options.ackTimeoutMs ?? NATS_TRANSPORT_DEFAULTS.ackTimeoutMs;
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
  /** JetStream publishes not yet acked. */
  #inFlight = 0;
  #blocked = false;
  /** The hub takes several reports per JetStream message (its answer to the Hello said so). */
  #batches = false;
  /** Reports written and not yet published, encoded, in seq order; and their bytes. */
  #unpublished: { seq: bigint; data: Uint8Array }[] = [];
  #unpublishedBytes = 0;
  #publishScheduled = false;
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
        // The client counts pings left unanswered at each 20 s tick and gives up at the third
        // tick with two out: a held-up event loop costs at most one tick (the sockets are
        // read between ticks), so unlike a gRPC ping timeout a starved agent keeps its
        // connection; only a server silent for 40–60 s drops it.
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
        nc.request(`${this.#prefix}.hello`, data, {
          timeout: this.#o.helloTimeoutMs ?? NATS_TRANSPORT_DEFAULTS.helloTimeoutMs,
        })
          .then((reply) => {
            this.#batches = reply.headers?.get(NATS_REPORT_BATCHES_HEADER) === '1';
            this.#deliver(reply.data);
          })
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
        return this.#queueReport(js, m.seq, data);
    }
  }

  /**
   * Takes a report for the stream. The publish ack only paces the writes (and a missing one
   * ends the stream): the report is released when the hub acks it after storing it, on the
   * down subject, because a stream's copy can still be lost (e.g. nats-server killed before it
   * wrote the message to disk). Reports are published from the next microtask, so those the
   * link writes in one go share a message; false when the next write should wait for onDrain.
   */
  #queueReport(js: JetStreamClient, seq: bigint, data: Uint8Array): boolean {
    this.#unpublished.push({ seq, data });
    this.#unpublishedBytes += data.length;
    if (!this.#publishScheduled) {
      this.#publishScheduled = true;
      queueMicrotask(() => {
        this.#publishScheduled = false;
        this.#publishQueued(js);
      });
    }
    if (this.#full()) this.#blocked = true;
    return !this.#blocked;
  }

  /**
   * Whether the transport holds all it should: a whole message waiting behind the publishes in
   * flight (one report when the hub takes one per message).
   */
  #full(): boolean {
    const max = this.#o.maxInFlight ?? NATS_TRANSPORT_DEFAULTS.maxInFlight;
    if (!this.#batches) return this.#inFlight + this.#unpublished.length >= max;
    return (
      this.#unpublished.length >=
        (this.#o.maxBatchReports ?? NATS_TRANSPORT_DEFAULTS.maxBatchReports) ||
      this.#unpublishedBytes >= this.#maxBatchBytes()
    );
  }

  #maxBatchBytes(): number {
    const bytes = this.#o.maxBatchBytes ?? NATS_TRANSPORT_DEFAULTS.maxBatchBytes;
    const serverMax = this.#nc?.info?.max_payload;
    return serverMax ? Math.min(bytes, Math.floor(serverMax / 2)) : bytes;
  }

  /** Publishes what waits while fewer than `maxInFlight` publishes are in flight. */
  #publishQueued(js: JetStreamClient): void {
    const max = this.#o.maxInFlight ?? NATS_TRANSPORT_DEFAULTS.maxInFlight;
    while (!this.#ended && this.#inFlight < max && this.#unpublished.length > 0)
      this.#publishReports(js, this.#takeBatch());
    if (this.#blocked && !this.#ended && !this.#full()) {
      this.#blocked = false;
      this.#handlers.onDrain();
    }
  }

  /** The next message's reports: the oldest, and those after it that fit. */
  #takeBatch(): { seq: bigint; data: Uint8Array }[] {
    const limit = this.#batches
      ? (this.#o.maxBatchReports ?? NATS_TRANSPORT_DEFAULTS.maxBatchReports)
      : 1;
    const maxBytes = this.#maxBatchBytes();
    let count = 1;
    let bytes = 4 + this.#unpublished[0]!.data.length;
    for (; count < limit && count < this.#unpublished.length; count++) {
      const next = 4 + this.#unpublished[count]!.data.length;
      if (bytes + next > maxBytes) break;
      bytes += next;
    }
    const batch = this.#unpublished.splice(0, count);
    for (const r of batch) this.#unpublishedBytes -= r.data.length;
    return batch;
  }

  /** One message into the stream: a report, or several ({@link NATS_REPORTS_HEADER}). */
  #publishReports(js: JetStreamClient, batch: { seq: bigint; data: Uint8Array }[]): void {
    this.#inFlight++;
    const first = batch[0]!.seq;
    const last = batch[batch.length - 1]!.seq;
    let hdrs: MsgHdrs | undefined;
    if (batch.length > 1) {
      hdrs = headers();
      hdrs.set(NATS_REPORTS_HEADER, String(batch.length));
    }
    const data = hdrs ? encodeReportBatch(batch.map((r) => r.data)) : batch[0]!.data;
    const ack = this.#publish(js, data, hdrs);
    ack.catch(() => undefined); // handled in order below
    this.#acks = this.#acks.then(async () => {
      try {
        await ack;
        // In the stream: the hub's ack now waits for the stream's backlog, not the network.
        if (!this.#ended) this.#handlers.onStored?.();
      } catch (err) {
        this.#end({
          code: UNAVAILABLE,
          details: `JetStream did not ack report seq ${first === last ? first : `${first}–${last}`}: ${errorMessage(err)}`,
          error: err,
        });
      } finally {
        this.#inFlight--;
        this.#publishQueued(js);
      }
    });
  }

  /**
   * One report into the stream, tried again while JetStream is busy. A try that timed out may
   * still have been stored: the hub stores a seq once and acks a copy as a duplicate. With
   * more than one report in flight, a later one may reach the stream first; the hub waits for
   * this one.
   */
  async #publish(js: JetStreamClient, data: Uint8Array, hdrs?: MsgHdrs): Promise<void> {
    const attempts = this.#o.publishAttempts ?? NATS_TRANSPORT_DEFAULTS.publishAttempts;
    const timeout = this.#o.publishTimeoutMs ?? NATS_TRANSPORT_DEFAULTS.publishTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await js.publish(`${this.#prefix}.up`, data, {
          timeout,
          ...(hdrs ? { headers: hdrs } : {}),
        });
        return;
      } catch (err) {
        if (this.#ended || attempt >= attempts || !jetStreamBusy(err)) throw err;
        const waitMs = 250 * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4);
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
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
