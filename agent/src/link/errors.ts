import { classify, DriftlessError, TerminalError, TransientError } from '@driftless/common';

/** gRPC status codes the link reads (numeric, as @grpc/grpc-js reports them). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const NAMES = Object.fromEntries(Object.entries(GrpcCode).map(([k, v]) => [v, k]));

/** The name of a gRPC status code, e.g. `UNAUTHENTICATED`. */
export function grpcCodeName(code: number | undefined): string {
  return code === undefined ? 'UNKNOWN' : (NAMES[code] ?? `code ${code}`);
}

/** The gRPC status code of an error thrown by @grpc/grpc-js, if it carries one. */
export function grpcCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Enrollment failed. Classified by its gRPC code through the one classifier in
 * common: terminal when the hub refused the request itself (bad, used or
 * expired token, token for another cluster, bad CSR: a person must act);
 * transient when the hub was unreachable or rate-limited us. The message names
 * the cluster and the gRPC code, never the token.
 */
export class EnrollError extends DriftlessError {
  override name = 'EnrollError';
  /** The gRPC status code the hub answered with, when it answered. */
  readonly code: number | undefined;
  /** The same code, where the classifier reads it. */
  readonly grpcCode: number | undefined;

  constructor(message: string, options: { code: number | undefined; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.grpcCode = options.code;
  }

  /** Whether retrying later can succeed. */
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
 * The hub ended or refused the Connect stream, classified by its gRPC code
 * through the one classifier in common. `terminal` when it refused this
 * cluster for good (revoked, or a certificate the hub does not know): the link
 * stops reconnecting and waits for a person.
 */
export class LinkClosedError extends DriftlessError {
  override name = 'LinkClosedError';
  /** The gRPC status code of the end of the stream. */
  readonly code: number | undefined;
  /** The same code, where the classifier reads it. */
  readonly grpcCode: number | undefined;

  constructor(message: string, options: { code: number | undefined; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.grpcCode = options.code;
  }

  /** True when reconnecting cannot help. */
  get terminal(): boolean {
    return classify(this) === 'terminal';
  }
}
