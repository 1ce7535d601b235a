/**
 * The one error model of Driftless. Every module throws typed errors with a
 * `cause`; {@link classify} alone decides, from the error's type and its chain
 * of causes (HTTP status, gRPC code, network or database code), how whoever
 * retries the work must treat it:
 * - `terminal`: the input is wrong (bad manifest, bad token, RBAC denies it);
 *   retrying the same input cannot help: report it and wait for a new commit,
 *   a new config or a person.
 * - `transient`: the world is briefly wrong (network, 5xx, conflicts, throttling);
 *   retry with capped, jittered backoff.
 * - `waiting`: nothing failed, a condition is not met yet (health, a CRD not
 *   Established); requeue.
 */
export type ErrorClass = 'terminal' | 'transient' | 'waiting';

/** A class and the reason it was chosen, as {@link explainClass} returns it. */
export interface Classification {
  errorClass: ErrorClass;
  /** Why, e.g. `HTTP 503: the server is overloaded or restarting`. */
  reason: string;
}

/**
 * Base of every Driftless error. It has no class of its own: {@link classify}
 * reads its `cause` (e.g. the API server's answer). Subclasses whose *type*
 * says what went wrong extend {@link TerminalError}, {@link TransientError} or
 * {@link WaitingError} instead.
 */
export class DriftlessError extends Error {
  override name = 'DriftlessError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }

  /** How callers should handle this error: {@link classify} of it. */
  get errorClass(): ErrorClass {
    return classify(this);
  }
}

/** The input is wrong; retrying the same input cannot succeed. Terminal by type. */
export class TerminalError extends DriftlessError {
  override name = 'TerminalError';
}

/** A dependency failed for now; the same work may succeed later. Transient by type. */
export class TransientError extends DriftlessError {
  override name = 'TransientError';
}

/** A condition is not met yet (e.g. health, approval); come back later. Waiting by type. */
export class WaitingError extends DriftlessError {
  override name = 'WaitingError';
}

type Entry = readonly [ErrorClass, string];

/**
 * HTTP statuses (Kubernetes API server, Git server, the hub's API), each with
 * the reason for its class. Statuses not listed: other 4xx are terminal (the
 * request itself is wrong), other 5xx transient (the server failed).
 */
export const HTTP_STATUS_CLASSES: Readonly<Record<number, Entry>> = {
  400: ['terminal', 'bad request: the object or request is malformed'],
  401: [
    'terminal',
    'unauthenticated: the credentials are missing or rejected; a person must fix them',
  ],
  403: ['terminal', 'forbidden: RBAC or the server denies this; a person must grant it'],
  404: [
    'terminal',
    'not found: the kind, namespace or repository does not exist; Git or a person must add it',
  ],
  405: ['terminal', 'method not allowed: the resource does not support this verb'],
  406: ['terminal', 'not acceptable: the server cannot answer in a format we read'],
  408: ['transient', 'request timeout: the server gave up waiting; the same request may pass'],
  409: [
    'transient',
    'conflict: optimistic-concurrency or create race; a fresh attempt reads the new state',
  ],
  410: ['transient', 'gone: a watch resourceVersion expired; re-list and go on'],
  413: ['terminal', 'too large: the object exceeds the server limit'],
  415: ['terminal', 'unsupported media type: the server does not take this patch type'],
  422: ['terminal', 'invalid: the object fails validation or admission; Git must change'],
  425: ['transient', 'too early: the server asks to retry later'],
  429: ['transient', 'too many requests: throttled (API priority and fairness); back off'],
  500: ['transient', 'internal error: often a failing admission webhook or etcd hiccup'],
  501: ['terminal', 'not implemented: the server will never support this'],
  502: ['transient', 'bad gateway: a proxy in front of the server lost it'],
  503: ['transient', 'unavailable: the server is overloaded or restarting'],
  504: ['transient', 'gateway timeout: a proxy timed out waiting for the server'],
};

/** gRPC status codes (the agent↔hub link and enrollment), with the reason for each class. */
export const GRPC_CODE_CLASSES: Readonly<Record<number, Entry>> = {
  1: ['transient', 'CANCELLED: the call was cancelled (e.g. a stream replaced); call again'],
  2: ['transient', 'UNKNOWN: the peer failed without saying why'],
  3: ['terminal', 'INVALID_ARGUMENT: the request is malformed'],
  4: ['transient', 'DEADLINE_EXCEEDED: no answer in time'],
  5: ['terminal', 'NOT_FOUND: the named object does not exist'],
  6: ['terminal', 'ALREADY_EXISTS: the object exists and may not be created again'],
  7: [
    'terminal',
    'PERMISSION_DENIED: the identity may not do this (e.g. revoked); a person must act',
  ],
  8: ['transient', 'RESOURCE_EXHAUSTED: rate-limited; back off'],
  9: ['terminal', 'FAILED_PRECONDITION: the state forbids this until something else changes'],
  10: ['transient', 'ABORTED: a concurrency conflict; a fresh attempt may pass'],
  11: ['terminal', 'OUT_OF_RANGE: the request is outside what the peer accepts'],
  12: ['terminal', 'UNIMPLEMENTED: the peer does not support this call'],
  13: ['transient', 'INTERNAL: the peer failed (its store, a bug that may pass)'],
  14: ['transient', 'UNAVAILABLE: the peer is down or restarting'],
  15: ['terminal', 'DATA_LOSS: unrecoverable data loss'],
  16: ['terminal', 'UNAUTHENTICATED: the token or certificate is unknown, expired or used up'],
};

/**
 * String error codes: sockets (Node, undici), NATS, the file system and
 * SQLite (node:sqlite), each with the reason for its class.
 */
export const CODE_CLASSES: Readonly<Record<string, Entry>> = {
  ECONNREFUSED: ['transient', 'peer not listening (restarting)'],
  ECONNRESET: ['transient', 'peer closed the connection mid-request'],
  ECONNABORTED: ['transient', 'connection aborted mid-request'],
  ETIMEDOUT: ['transient', 'no answer in time'],
  EPIPE: ['transient', 'peer closed while we wrote'],
  EAI_AGAIN: ['transient', 'DNS temporarily failed'],
  ENOTFOUND: ['transient', 'DNS has no answer yet (e.g. a Service not created yet)'],
  EHOSTUNREACH: ['transient', 'route to the host is down'],
  ENETUNREACH: ['transient', 'network is down'],
  UND_ERR_SOCKET: ['transient', 'undici: socket closed'],
  UND_ERR_CONNECT_TIMEOUT: ['transient', 'undici: connect timed out'],
  UND_ERR_HEADERS_TIMEOUT: ['transient', 'undici: no response headers in time'],
  UND_ERR_BODY_TIMEOUT: ['transient', 'undici: response body stalled'],
  ERR_STREAM_PREMATURE_CLOSE: ['transient', 'the stream closed before it ended'],
  ABORT_ERR: ['transient', 'the work was aborted (stop or timeout); it can run again'],
  ENOSPC: ['transient', 'disk full; space may be freed'],
  EMFILE: ['transient', 'too many open files for now'],
  EBUSY: ['transient', 'resource busy for now'],
  ENOENT: ['terminal', 'no such file: the input names a path that does not exist'],
  EACCES: ['terminal', 'permission denied on a file; a person must fix it'],
  EISDIR: ['terminal', 'a directory where a file was expected'],
  // NATS (nats.js ErrorCode)
  TIMEOUT: ['transient', 'NATS: request timed out'],
  CONNECTION_CLOSED: ['transient', 'NATS: connection closed; it reconnects'],
  CONNECTION_DRAINING: ['transient', 'NATS: connection draining'],
  CONNECTION_REFUSED: ['transient', 'NATS: server not listening'],
  CONNECTION_TIMEOUT: ['transient', 'NATS: connect timed out'],
  DISCONNECT: ['transient', 'NATS: disconnected; it reconnects'],
  AUTHORIZATION_VIOLATION: ['terminal', 'NATS: credentials refused; a person must act'],
  AUTHENTICATION_EXPIRED: ['terminal', 'NATS: credentials expired; re-enroll'],
  PERMISSIONS_VIOLATION: ['terminal', 'NATS: subject not allowed for this user'],
  BAD_AUTHENTICATION: ['terminal', 'NATS: malformed credentials'],
  // SQLite result codes arrive as `errcode` on ERR_SQLITE_ERROR (see sqliteClass).
};

/**
 * PostgreSQL SQLSTATE classes (first two characters), with the reason. Codes
 * of other classes are terminal: the statement or data is wrong.
 */
export const SQLSTATE_CLASSES: Readonly<Record<string, Entry>> = {
  '08': ['transient', 'connection exception: the database is unreachable'],
  '40': ['transient', 'transaction rollback (serialization failure, deadlock): run it again'],
  '53': ['transient', 'insufficient resources (disk, memory, connections)'],
  '57': ['transient', 'operator intervention (shutdown, restart, cancel)'],
  '58': ['transient', 'system error (I/O) in the database server'],
};

/** SQLite primary result codes that pass by themselves. */
const SQLITE_TRANSIENT: Readonly<Record<number, string>> = {
  5: 'SQLITE_BUSY: another connection holds the lock',
  6: 'SQLITE_LOCKED: a table is locked',
  10: 'SQLITE_IOERR: an I/O error that may pass',
  13: 'SQLITE_FULL: disk full',
};

/** Classifies any thrown value; see {@link ErrorClass}. The one classifier. */
export function classify(err: unknown): ErrorClass {
  return explainClass(err).errorClass;
}

/**
 * {@link classify} with the reason: the error's own type decides first
 * ({@link TerminalError}, {@link TransientError}, {@link WaitingError}), then
 * what it carries (HTTP status, gRPC code, string code), then its `cause`;
 * an {@link AggregateError} is as bad as its worst member. A value that says
 * nothing is transient: most unexplained failures (a truncated read) pass.
 */
export function explainClass(err: unknown, depth = 0): Classification {
  if (err instanceof TerminalError) return { errorClass: 'terminal', reason: err.name };
  if (err instanceof TransientError) return { errorClass: 'transient', reason: err.name };
  if (err instanceof WaitingError) return { errorClass: 'waiting', reason: err.name };
  if (typeof err !== 'object' || err === null || depth > 16)
    return { errorClass: 'transient', reason: 'no detail: assumed to pass' };
  const name = (err as { name?: unknown }).name;
  if (name === 'AbortError' || name === 'TimeoutError')
    return { errorClass: 'transient', reason: `${name}: the work was stopped; it can run again` };
  const status = httpStatusOf(err);
  if (status !== undefined) {
    const e = HTTP_STATUS_CLASSES[status];
    if (e) return { errorClass: e[0], reason: `HTTP ${status}: ${e[1]}` };
    return status >= 500
      ? { errorClass: 'transient', reason: `HTTP ${status}: a server error` }
      : { errorClass: 'terminal', reason: `HTTP ${status}: the request is wrong` };
  }
  const grpc = grpcCodeOf(err);
  if (grpc !== undefined) {
    const e = GRPC_CODE_CLASSES[grpc];
    if (e) return { errorClass: e[0], reason: `gRPC ${e[1]}` };
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    const e = CODE_CLASSES[code];
    if (e) return { errorClass: e[0], reason: `${code}: ${e[1]}` };
    if (code === 'ERR_SQLITE_ERROR') return sqliteClass(err);
    if (/^[0-9A-Z]{5}$/.test(code) && /^[0-9]{2}/.test(code) && 'severity' in err) {
      const s = SQLSTATE_CLASSES[code.slice(0, 2)];
      return s
        ? { errorClass: s[0], reason: `SQLSTATE ${code}: ${s[1]}` }
        : { errorClass: 'terminal', reason: `SQLSTATE ${code}: the statement or data is wrong` };
    }
  }
  if (err instanceof AggregateError && err.errors.length > 0) return worstOf(err.errors, depth);
  const cause = (err as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== err) return explainClass(cause, depth + 1);
  return { errorClass: 'transient', reason: 'no detail: assumed to pass' };
}

function sqliteClass(err: object): Classification {
  const errcode = (err as { errcode?: unknown }).errcode;
  const primary = typeof errcode === 'number' ? errcode & 0xff : -1;
  const why = SQLITE_TRANSIENT[primary];
  return why
    ? { errorClass: 'transient', reason: why }
    : { errorClass: 'terminal', reason: `SQLite error ${primary}: the statement or data is wrong` };
}

/** Several failures at once: terminal beats waiting beats transient. */
function worstOf(errors: unknown[], depth: number): Classification {
  const all = errors.map((e) => explainClass(e, depth + 1));
  return (
    all.find((c) => c.errorClass === 'terminal') ??
    all.find((c) => c.errorClass === 'waiting') ??
    (all[0] as Classification)
  );
}

/** True when retrying the work that threw `err` may succeed: {@link classify} is not terminal. */
export function isRetryable(err: unknown): boolean {
  return classify(err) !== 'terminal';
}

/**
 * The HTTP status carried by a client error itself (not its causes), if any:
 * `statusCode`, `status`, `response.status(Code)`, isomorphic-git's
 * `data.statusCode`, or a numeric `code` in 100..599.
 */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as {
    code?: unknown;
    statusCode?: unknown;
    status?: unknown;
    response?: { status?: unknown; statusCode?: unknown };
    data?: { statusCode?: unknown };
  };
  for (const v of [
    e.statusCode,
    e.status,
    e.response?.status,
    e.response?.statusCode,
    e.data?.statusCode,
    e.code,
  ]) {
    if (typeof v === 'number' && v >= 100 && v < 600) return v;
  }
  // NATS and JetStream answer with HTTP-like status strings ('404', '503').
  if (typeof e.code === 'string' && /^[1-5][0-9]{2}$/.test(e.code)) return Number(e.code);
  return undefined;
}

/**
 * The gRPC status code carried by an error itself, if any: a `grpcCode`
 * property (our link errors) or a @grpc/grpc-js ServiceError (numeric `code`
 * with `details`).
 */
export function grpcCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { grpcCode?: unknown; code?: unknown; details?: unknown };
  if (typeof e.grpcCode === 'number') return e.grpcCode;
  if (typeof e.code === 'number' && e.code >= 0 && e.code <= 16 && typeof e.details === 'string')
    return e.code;
  return undefined;
}

/** True when `err` (or its cause) is an abort: the work was stopped, not failed. */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  for (let e = err, i = 0; typeof e === 'object' && e !== null && i < 16; i++) {
    const x = e as { name?: unknown; code?: unknown; cause?: unknown };
    if (x.name === 'AbortError' || x.code === 'ABORT_ERR') return true;
    e = x.cause;
  }
  return false;
}

/** The `message` of a plain object when it is a string, else ''. */
function messageField(o: object): string {
  const m = (o as { message?: unknown }).message;
  return typeof m === 'string' ? m : '';
}

/**
 * The message of any thrown value, with the chain of causes appended. A cause that is a plain
 * object without a message (e.g. `{ status: 503 }`, there for {@link classify}) adds nothing.
 */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause === undefined || cause === err) return err.message;
  const inner =
    typeof cause === 'object' && cause !== null && !(cause instanceof Error)
      ? messageField(cause)
      : errorMessage(cause);
  if (!inner) return err.message;
  return err.message.includes(inner) ? err.message : `${err.message}: ${inner}`;
}
