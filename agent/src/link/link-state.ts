import type { Clock } from '@driftless/common';

/**
 * Where the link is:
 * - `idle`: not started;
 * - `enrolling`: trading the enrollment token for a certificate;
 * - `connecting`: a stream is opening, Hello sent, waiting for the hub's Ack;
 * - `connected`: the hub acked the Hello; reports flow;
 * - `backoff`: the last attempt failed, waiting to retry;
 * - `refused`: the hub refused this cluster for good (revoked, unknown
 *   certificate, rejected token): no more attempts until a person acts;
 * - `stopped`: {@link HubLink.stop} was called.
 */
export type LinkState =
  'idle' | 'enrolling' | 'connecting' | 'connected' | 'backoff' | 'refused' | 'stopped';

/** The link's state with what led to it, as listeners receive it. */
export interface LinkStatus {
  state: LinkState;
  /** When the state was entered (ms since the epoch). */
  since: number;
  /** Failed attempts since the last successful connect. */
  attempt: number;
  /** Why the last attempt failed or the link was refused; never a secret. */
  error?: string;
  /** In `backoff`: the wait before the next attempt. */
  retryInMs?: number;
}

/** The states each state may move to; anything else is a bug in the link. */
export const LINK_TRANSITIONS: Readonly<Record<LinkState, readonly LinkState[]>> = {
  idle: ['enrolling', 'connecting', 'backoff', 'refused', 'stopped'],
  enrolling: ['connecting', 'backoff', 'refused', 'stopped'],
  connecting: ['connected', 'enrolling', 'backoff', 'refused', 'stopped'],
  // A refused identity is traded once for a new one when a token is configured.
  connected: ['enrolling', 'backoff', 'refused', 'stopped'],
  backoff: ['enrolling', 'connecting', 'backoff', 'refused', 'stopped'],
  refused: ['stopped'],
  stopped: [],
};

/** A transition the table does not allow. */
export class LinkStateError extends Error {
  override name = 'LinkStateError';
}

/** The link's status with guarded transitions and listeners. */
export class LinkStateMachine {
  readonly #clock: Clock;
  readonly #listeners = new Set<(s: LinkStatus) => void>();
  #status: LinkStatus;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#status = { state: 'idle', since: clock.now(), attempt: 0 };
  }

  /** The current status. */
  get status(): LinkStatus {
    return this.#status;
  }

  /**
   * Moves to `next.state` (keeping the attempt count unless given) and tells the listeners.
   * Throws {@link LinkStateError} for a transition {@link LINK_TRANSITIONS} does not allow.
   */
  move(next: Omit<LinkStatus, 'since' | 'attempt'> & { attempt?: number }): void {
    const from = this.#status.state;
    if (!LINK_TRANSITIONS[from].includes(next.state))
      throw new LinkStateError(`hub link cannot go from ${from} to ${next.state}`);
    this.#status = { attempt: this.#status.attempt, ...next, since: this.#clock.now() };
    for (const l of [...this.#listeners]) l(this.#status);
  }

  /** Calls `listener` on every change; returns an unsubscribe function. */
  onChange(listener: (s: LinkStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
