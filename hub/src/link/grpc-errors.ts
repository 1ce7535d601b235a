/** Hub errors as gRPC statuses, for both link transports. */
import * as grpc from '@grpc/grpc-js';
import { errorMessage, isRetryable } from '@driftless/common';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitedError,
  StoreError,
  UnauthenticatedError,
} from '../errors.ts';

/** gRPC status for a hub error; the message travels as the status details. */
export function grpcCodeFor(err: unknown): grpc.status {
  if (err instanceof InvalidArgumentError) return grpc.status.INVALID_ARGUMENT;
  if (err instanceof UnauthenticatedError) return grpc.status.UNAUTHENTICATED;
  if (err instanceof PermissionDeniedError) return grpc.status.PERMISSION_DENIED;
  if (err instanceof RateLimitedError) return grpc.status.RESOURCE_EXHAUSTED;
  if (err instanceof NotFoundError) return grpc.status.NOT_FOUND;
  if (err instanceof ConflictError) return grpc.status.FAILED_PRECONDITION;
  if (err instanceof StoreError)
    return isRetryable(err) ? grpc.status.UNAVAILABLE : grpc.status.INTERNAL;
  return grpc.status.INTERNAL;
}

/** `err` as a gRPC service error: its code, and a message safe to send to the agent. */
export function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  const code = grpcCodeFor(err);
  // Unexpected errors may carry internals; the agent gets a generic line, the log has the rest.
  const details =
    code === grpc.status.INTERNAL ? 'internal error in the hub; see its logs' : errorMessage(err);
  return Object.assign(new Error(details), { code, details });
}
