import { DriftlessError, isRetryable, TerminalError, TransientError } from '@driftless/common';

/**
 * The hub's error classes. Each maps to one HTTP status and one gRPC status
 * code, so the API and the link answer the same failure the same way.
 */

/** The request is malformed: a missing field, a bad selector, an unparsable CSR. */
export class InvalidArgumentError extends TerminalError {
  override name = 'InvalidArgumentError';
}

/** The named object does not exist. */
export class NotFoundError extends TerminalError {
  override name = 'NotFoundError';
}

/** The object is in a state that forbids the operation (e.g. a cluster that is not connected). */
export class ConflictError extends TerminalError {
  override name = 'ConflictError';
}

/** No valid credential was presented (unknown, expired, revoked or used token; no certificate). */
export class UnauthenticatedError extends TerminalError {
  override name = 'UnauthenticatedError';
}

/** The credential is valid but does not allow this operation. */
export class PermissionDeniedError extends TerminalError {
  override name = 'PermissionDeniedError';
}

/** Too many failed attempts from one peer; retry after `retryAfterMs`. */
export class RateLimitedError extends TransientError {
  override name = 'RateLimitedError';
  /** How long the peer should wait before trying again. */
  readonly retryAfterMs: number;
  constructor(message: string, options: { retryAfterMs: number; cause?: unknown }) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * Something the request needs is not reachable now (an agent that is not connected, no channel to
 * the hub replica holding its stream); asking again later may work.
 */
export class UnavailableError extends TransientError {
  override name = 'UnavailableError';
}

/** The answer did not come within the request's deadline (e.g. an agent that did not answer). */
export class DeadlineExceededError extends TransientError {
  override name = 'DeadlineExceededError';
}

/**
 * The store failed. Classified by its cause (SQLSTATE, SQLite result code)
 * through the one classifier in common: an unreachable or busy database is
 * transient, a broken constraint terminal.
 */
export class StoreError extends DriftlessError {
  override name = 'StoreError';
}

/** HTTP status for an error thrown by hub code; 500 for anything unexpected. */
export function httpStatusFor(err: unknown): number {
  if (err instanceof InvalidArgumentError) return 400;
  if (err instanceof UnauthenticatedError) return 401;
  if (err instanceof PermissionDeniedError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof RateLimitedError) return 429;
  if (err instanceof UnavailableError) return 503;
  if (err instanceof DeadlineExceededError) return 504;
  if (err instanceof StoreError) return isRetryable(err) ? 503 : 500;
  return 500;
}
