import { TerminalError, TransientError } from '@driftless/common';

/** A DriftWatcher was used wrongly, e.g. `track()` after `stop()`. A caller bug: not retried. */
export class DriftWatcherError extends TerminalError {
  override name = 'DriftWatcherError';
}

/** A list or watch of one kind failed; the loop retries it with backoff. */
export class WatchLoopError extends TransientError {
  override name = 'WatchLoopError';
}
