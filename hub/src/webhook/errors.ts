import { InvalidArgumentError, NotFoundError, UnauthenticatedError } from '../errors.ts';

/**
 * Errors of the Git webhook receiver. Each carries the HTTP status the
 * delivery is answered with and the `result` label of the deliveries metric,
 * so one catch answers and counts every refusal the same way.
 */

/** The hub was started without a webhook secret, so no delivery can be trusted. */
export class WebhookDisabledError extends NotFoundError {
  override name = 'WebhookDisabledError';
  readonly status = 404;
  readonly result = 'disabled';
}

/**
 * The delivery's signature or token does not match the secret (or is missing).
 * The message never says which part was wrong, or what was expected.
 */
export class WebhookSignatureError extends UnauthenticatedError {
  override name = 'WebhookSignatureError';
  readonly status = 401;
  readonly result = 'unauthorized';
}

/** The delivery is not a webhook we understand: no provider headers, bad JSON, no repository. */
export class WebhookPayloadError extends InvalidArgumentError {
  override name = 'WebhookPayloadError';
  readonly status = 400;
  readonly result = 'malformed';
}

/** The body is larger than the receiver accepts. */
export class WebhookTooLargeError extends InvalidArgumentError {
  override name = 'WebhookTooLargeError';
  readonly status = 413;
  readonly result = 'too-large';
}

/** Any refusal of the receiver. */
export type WebhookError =
  WebhookDisabledError | WebhookSignatureError | WebhookPayloadError | WebhookTooLargeError;

/** Whether `err` is one of the receiver's own refusals (rather than a hub failure). */
export function isWebhookError(err: unknown): err is WebhookError {
  return (
    err instanceof WebhookDisabledError ||
    err instanceof WebhookSignatureError ||
    err instanceof WebhookPayloadError ||
    err instanceof WebhookTooLargeError
  );
}
