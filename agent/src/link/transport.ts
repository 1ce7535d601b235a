import * as grpc from '@grpc/grpc-js';
import {
  AgentServiceClient,
  type AgentMessage,
  type EnrollRequest,
  type EnrollResponse,
  type HubMessage,
} from '@driftless/proto';
import type { Identity } from './identity.ts';

/** How a stream ended: the gRPC status, or a transport error without one. */
export interface StreamEnd {
  code: number | undefined;
  details: string;
  /** The underlying error, when there was one. */
  error?: unknown;
}

/** Callbacks of one open stream. */
export interface StreamHandlers {
  onMessage(message: HubMessage): void;
  /** Called after a write returned false, once the transport can take more. */
  onDrain(): void;
  /**
   * Optional: a report written was taken by a durable store on the way to the hub (over NATS,
   * JetStream acked its publish). The hub's ack then waits for the store's backlog rather
   * than for the network, so the link's ack clock starts again (see `ackTimeoutMs`).
   */
  onStored?(): void;
  /** Called once, when the stream is over for any reason. */
  onEnd(end: StreamEnd): void;
}

/** One open Connect stream, as the link uses it. */
export interface LinkStream {
  /** Writes a message; false when the transport's buffer is full (wait for onDrain). */
  write(message: AgentMessage): boolean;
  /** Ends the stream from our side (onEnd still follows). */
  close(): void;
}

/**
 * What the link needs from the network: small enough that the link's rules
 * are tested with a fake, without sockets (as nats.js does with its transports).
 */
export interface LinkTransport {
  /** Calls Enroll over server-authenticated TLS, trusting `caPem`. */
  enroll(request: EnrollRequest, caPem: string, signal?: AbortSignal): Promise<EnrollResponse>;
  /** Opens Connect over mutual TLS with `identity`. */
  connect(identity: Identity, handlers: StreamHandlers): LinkStream;
  /**
   * Adds what this transport needs to an enrollment request (e.g. the NATS
   * transport's public user key) and, once the hub answered, to the identity
   * (its seed and JWT). Optional: gRPC needs only the certificate.
   */
  prepareEnroll?(cluster: string): EnrollExtension;
  /**
   * Least ack timeout this transport needs (ms), above the link's `ackTimeoutMs`. Optional:
   * over NATS reports wait in a durable stream behind the fleet's, and a fleet flushing at
   * once keeps them there longer than the link's default.
   */
  readonly minAckTimeoutMs?: number;
}

/** A transport's part of one enrollment, see {@link LinkTransport.prepareEnroll}. */
export interface EnrollExtension {
  /** Fields to set on the EnrollRequest. */
  request: Partial<EnrollRequest>;
  /** The identity to store, completed from the hub's answer; throws when the answer lacks it. */
  complete(identity: Identity, response: EnrollResponse): Identity;
}

/** Options of {@link GrpcTransport}. */
export interface GrpcTransportOptions {
  /** The hub's AgentService address, host:port. */
  address: string;
  /**
   * The name to check the hub's certificate against, when it differs from the
   * host of `address` (e.g. dialing an IP or a tunnel). Default: the host.
   */
  serverName?: string;
  /** The file the Enroll CA came from (--hub-ca-file), named when the hub's certificate fails it. */
  caFile?: string;
  /** Where the identity's CA is kept (e.g. its Secret), named when the hub's certificate fails it. */
  identityWhere?: string;
  /** Deadline of one Enroll call. Default 30 s. */
  enrollTimeoutMs?: number;
  /** Interval of HTTP/2 keepalive pings, which detect a dead hub on an idle stream. Default 20 s. */
  keepaliveMs?: number;
  /**
   * How long a keepalive ping may go unanswered before the connection is dropped. Default
   * 120 s, as the hub's: the timeout is a timer on the event loop, and Node runs due timers
   * before it reads the sockets, so when either end's loop is held up longer than this (a
   * CPU-starved hub answering late, an agent throttled by its CPU limit or busy in a large
   * render), a healthy connection is dropped although the answer sits unread in the socket,
   * and every agent of a busy hub reconnects at once. A dead hub is still noticed sooner on a
   * busy stream: reports without an ack for the link's ack timeout reopen it.
   */
  keepaliveTimeoutMs?: number;
}

/** Defaults of {@link GrpcTransportOptions}. */
export const GRPC_TRANSPORT_DEFAULTS = {
  enrollTimeoutMs: 30_000,
  keepaliveMs: 20_000,
  keepaliveTimeoutMs: 120_000,
} as const;

/** The gRPC (HTTP/2 + TLS) transport to the hub. */
export class GrpcTransport implements LinkTransport {
  readonly #o: GrpcTransportOptions;

  constructor(options: GrpcTransportOptions) {
    this.#o = options;
  }

  #client(credentials: grpc.ChannelCredentials): AgentServiceClient {
    const keepalive = this.#o.keepaliveMs ?? GRPC_TRANSPORT_DEFAULTS.keepaliveMs;
    return new AgentServiceClient(this.#o.address, credentials, {
      ...(this.#o.serverName
        ? {
            'grpc.ssl_target_name_override': this.#o.serverName,
            'grpc.default_authority': this.#o.serverName,
          }
        : {}),
      'grpc.keepalive_time_ms': keepalive,
      'grpc.keepalive_timeout_ms':
        this.#o.keepaliveTimeoutMs ?? GRPC_TRANSPORT_DEFAULTS.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      // One channel per call site: a reconnect must not reuse a subchannel of an old identity.
      'grpc.use_local_subchannel_pool': 1,
    });
  }

  enroll(request: EnrollRequest, caPem: string, signal?: AbortSignal): Promise<EnrollResponse> {
    const client = this.#client(grpc.credentials.createSsl(Buffer.from(caPem)));
    return new Promise<EnrollResponse>((resolve, reject) => {
      const call = client.enroll(
        request,
        new grpc.Metadata(),
        {
          deadline:
            Date.now() + (this.#o.enrollTimeoutMs ?? GRPC_TRANSPORT_DEFAULTS.enrollTimeoutMs),
        },
        (err, res) =>
          err
            ? reject(
                this.#explained(
                  err,
                  this.#o.caFile ? `--hub-ca-file ${this.#o.caFile}` : '--hub-ca-file',
                ),
              )
            : resolve(res),
      );
      signal?.addEventListener('abort', () => call.cancel(), { once: true });
    }).finally(() => client.close());
  }

  /** `err` with its details replaced by what a TLS failure means for the user, if it is one. */
  #explained(err: grpc.ServiceError, ca: string): grpc.ServiceError {
    const details = err.details ?? err.message;
    const explained = explainTlsFailure(details, {
      address: this.#o.address,
      serverName: this.#o.serverName,
      ca,
    });
    if (explained === details) return err;
    return Object.assign(new Error(`${err.code} ${grpc.status[err.code]}: ${explained}`), {
      code: err.code,
      details: explained,
      metadata: err.metadata,
    });
  }

  connect(identity: Identity, handlers: StreamHandlers): LinkStream {
    const client = this.#client(
      grpc.credentials.createSsl(
        Buffer.from(identity.caPem),
        Buffer.from(identity.keyPem),
        Buffer.from(identity.certPem),
      ),
    );
    const call = client.connect();
    let ended = false;
    const end = (e: StreamEnd) => {
      if (ended) return;
      ended = true;
      client.close();
      handlers.onEnd(e);
    };
    call.on('data', (m: HubMessage) => handlers.onMessage(m));
    call.on('drain', () => handlers.onDrain());
    call.on('error', (err: grpc.ServiceError) => {
      const e = this.#explained(
        err,
        `the hub CA stored with the agent's identity${this.#o.identityWhere ? ` (Secret ${this.#o.identityWhere})` : ''}`,
      );
      end({ code: e.code, details: e.details, error: e });
    });
    // 'status' precedes 'error' for failures; only a clean end is taken from it.
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) end({ code: s.code, details: s.details });
    });
    call.on('end', () => {
      // The hub half-closed; grpc-js follows with 'status' (or 'error').
    });
    return {
      write: (m) => {
        if (ended) return true;
        return call.write(m);
      },
      close: () => {
        if (ended) return;
        call.end();
        call.cancel();
      },
    };
  }
}

/** What {@link explainTlsFailure} names. */
export interface TlsFailureContext {
  /** The hub address dialed, host:port. */
  address: string;
  /** --hub-server-name, when given. */
  serverName: string | undefined;
  /** Where the trusted CA came from, e.g. `--hub-ca-file /etc/driftless/ca.crt`. */
  ca: string;
}

// OpenSSL's words for "no chain to a trusted CA", as Node reports them.
const UNTRUSTED_CHAIN = [
  'self-signed certificate',
  'self signed certificate',
  'unable to verify the first certificate',
  'unable to get local issuer certificate',
  'unable to get issuer certificate',
  'certificate signature failure',
];

/**
 * The details of a failed gRPC call, said in the user's terms when TLS failed: a hub
 * certificate not signed by the trusted CA, or not valid for the name checked (which
 * --hub-server-name sets). Any other details are returned unchanged. The link keeps retrying
 * either way: the CA or the hub's certificate may be replaced meanwhile.
 */
export function explainTlsFailure(details: string, c: TlsFailureContext): string {
  if (UNTRUSTED_CHAIN.some((w) => details.includes(w)))
    return `the hub at ${c.address} presents a certificate not signed by ${c.ca}`;
  if (details.includes('certificate has expired'))
    return `the hub at ${c.address} presents an expired certificate`;
  const altnames =
    /Hostname\/IP does not match certificate's altnames: (?:Host|IP): (.*?)\.? is not (?:in the cert's altnames|in the cert's list): (.*?)(?:\. Resolution note:.*)?$/s.exec(
      details,
    );
  if (details.includes('ERR_TLS_CERT_ALTNAME_INVALID') || altnames) {
    const expected = c.serverName ?? hostOf(c.address);
    const names = altnames?.[2]?.replace(/IP Address:/g, 'IP:').trim();
    return `the hub at ${c.address} presents a certificate not valid for ${expected}${c.serverName ? ' (--hub-server-name)' : ''}${names ? ` (it is for ${names})` : ''}: set --hub-server-name to one of its names`;
  }
  return details;
}

/** The host of host:port (brackets of an IPv6 address removed). */
function hostOf(address: string): string {
  const m = /^\[(.*)\](?::\d+)?$/.exec(address) ?? /^(.*?)(?::\d+)?$/.exec(address);
  return m?.[1] ?? address;
}
