import { status } from '@grpc/grpc-js';
import { classify, DriftlessError, TerminalError, TransientError } from '@driftless/common';

/** gRPC status codes (numeric, as @grpc/grpc-js reports them); NATS ends use them too. */
export const GrpcCode = status;

/** The name of a gRPC status code, e.g. `UNAUTHENTICATED`. */
export function grpcCodeName(code: number | undefined): string {
  return code === undefined ? 'UNKNOWN' : (status[code] ?? `code ${code}`);
}

/** The gRPC status code of an error thrown by @grpc/grpc-js, if it carries one. */
export function grpcCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * The hub's own words in a gRPC error: its `details` (grpc-js's `message` repeats them after
 * the code), without a leading `what: ` the caller is about to say itself.
 */
export function hubDetails(err: unknown, what?: string): string {
  const e = err as { details?: unknown; message?: unknown } | null;
  const text =
    typeof e?.details === 'string' && e.details
      ? e.details
      : typeof e?.message === 'string'
        ? e.message
        : String(err);
  return what && text.startsWith(`${what}: `) ? text.slice(what.length + 2) : text;
}

/**
 * A gRPC error as the `cause` of ours: its code and details only. Its own message
 * (`16 UNAUTHENTICATED: <details>`) would be appended by `errorMessage` and repeat what ours
 * already says.
 */
export function statusCause(err: unknown): { code: number | undefined; details: string } {
  return { code: grpcCodeOf(err), details: hubDetails(err) };
}

/** An answer of the hub that carries a gRPC status code, classified by common from that code. */
export class GrpcStatusError extends DriftlessError {
  override name = 'GrpcStatusError';
  /** The gRPC status code the hub answered or ended with, when it did. */
  readonly code: number | undefined;
  /** The same code, where the one classifier in common reads it. */
  readonly grpcCode: number | undefined;

  constructor(message: string, options: { code: number | undefined; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.grpcCode = options.code;
  }
}

/**
 * Enrollment failed. Terminal when the hub refused the request itself (bad,
 * used or expired token, token for another cluster, bad CSR: a person must
 * act); transient when the hub was unreachable or rate-limited us. The message
 * names the cluster and the gRPC code, never the token.
 */
export class EnrollError extends GrpcStatusError {
  override name = 'EnrollError';

  /** Whether retrying later can succeed ({@link classify} of the gRPC code). */
  get retryable(): boolean {
    return classify(this) !== 'terminal';
  }
}

/**
 * The agent has no identity and no enrollment token to get one: it cannot
 * connect to the hub until a person gives it a token. Terminal.
 */
export class NotEnrolledError extends TerminalError {
  override name = 'NotEnrolledError';
}

/** Reading or writing the identity Secret failed; the agent retries. */
export class IdentityStoreError extends TransientError {
  override name = 'IdentityStoreError';
}

/** The identity Secret exists but is unusable (e.g. a key that does not match the certificate). */
export class IdentityInvalidError extends TerminalError {
  override name = 'IdentityInvalidError';
}

/**
 * The hub ended or refused the Connect stream. `terminal` when it refused this
 * cluster for good (revoked, or a certificate the hub does not know): the link
 * stops reconnecting and waits for a person.
 */
export class LinkClosedError extends GrpcStatusError {
  override name = 'LinkClosedError';

  /** True when reconnecting cannot help ({@link classify} of the gRPC code). */
  get terminal(): boolean {
    return classify(this) === 'terminal';
  }
}
