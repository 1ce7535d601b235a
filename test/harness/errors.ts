/**
 * A test server failed to start, answer or stop. The message names the server
 * and, for start-up failures, ends with the tail of the server's log.
 */
export class HarnessError extends Error {
  override name = 'HarnessError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
