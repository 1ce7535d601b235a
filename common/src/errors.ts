/**
 * How an error should be handled by whoever retries work:
 * - `terminal`: the input is wrong (bad manifest, bad token); retrying cannot help, report it.
 * - `transient`: the world is briefly wrong (network, 5xx, conflicts); retry with backoff.
 * - `waiting`: nothing failed, a condition is not met yet (health, approval); requeue.
 */
export type ErrorClass = 'terminal' | 'transient' | 'waiting';

/** Base of every Driftless error: carries its class and the underlying cause. */
export class DriftlessError extends Error {
  override name = 'DriftlessError';
  /** How callers should handle this error; see {@link ErrorClass}. */
  readonly errorClass: ErrorClass;

  constructor(message: string, options: { errorClass: ErrorClass; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.errorClass = options.errorClass;
  }
}

/** The input is wrong; retrying the same input cannot succeed. */
export class TerminalError extends DriftlessError {
  override name = 'TerminalError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, errorClass: 'terminal' });
  }
}

/** A dependency failed for now; the same work may succeed later. */
export class TransientError extends DriftlessError {
  override name = 'TransientError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, errorClass: 'transient' });
  }
}

/** A condition is not met yet (e.g. health, approval); come back later. */
export class WaitingError extends DriftlessError {
  override name = 'WaitingError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, errorClass: 'waiting' });
  }
}

/**
 * Socket error codes that mean the peer was unreachable or went away; the
 * same request may work once the peer is back.
 */
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED', // peer not listening (restarting)
  'ECONNRESET', // peer closed mid-request
  'ETIMEDOUT', // no answer in time
  'EPIPE', // peer closed while we wrote
  'EAI_AGAIN', // DNS temporarily failed
  'ENOTFOUND', // DNS has no answer yet (e.g. a Service not created yet)
  'EHOSTUNREACH', // route down
  'ENETUNREACH', // network down
  'UND_ERR_SOCKET', // undici: socket closed
  'UND_ERR_CONNECT_TIMEOUT', // undici: connect timed out
]);

/**
 * HTTP statuses worth retrying: 408/429 ask us to come back, 409 is an
 * optimistic-concurrency conflict, 5xx are server-side failures.
 */
const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504]);

/** Classifies any thrown value. Errors we know nothing about are transient. */
export function classify(err: unknown): ErrorClass {
  if (err instanceof DriftlessError) return err.errorClass;
  const status = httpStatusOf(err);
  if (status !== undefined) return RETRYABLE_STATUS.has(status) ? 'transient' : 'terminal';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return 'transient';
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause !== undefined && cause !== err) return classify(cause);
  return 'transient';
}

/** True when retrying the work that threw `err` may succeed. */
export function isRetryable(err: unknown): boolean {
  return classify(err) !== 'terminal';
}

/** The HTTP status carried by a client error, if any (Kubernetes and fetch clients differ). */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as {
    code?: unknown;
    statusCode?: unknown;
    status?: unknown;
    response?: { status?: unknown; statusCode?: unknown };
  };
  for (const v of [e.statusCode, e.status, e.response?.status, e.response?.statusCode, e.code]) {
    if (typeof v === 'number' && v >= 100 && v < 600) return v;
  }
  return undefined;
}

/** The message of any thrown value, with the chain of causes appended. */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause === undefined || cause === err) return err.message;
  const inner = errorMessage(cause);
  return err.message.includes(inner) ? err.message : `${err.message}: ${inner}`;
}
