import { EventEmitter } from 'node:events';

/** Kinds of change the hub announces (the SSE `event:` names), in the order the docs list them. */
export const HUB_EVENT_TYPES = [
  'cluster.enrolled',
  'cluster.connected',
  'cluster.disconnected',
  'cluster.revoked',
  'cluster.suspended',
  'cluster.resumed',
  'app.updated',
  'drift.updated',
  'sync.recorded',
  'gap.recorded',
  'config.updated',
  'approval.created',
  'approval.delivered',
  'token.created',
  'token.revoked',
] as const;

/** One kind of change the hub announces; see {@link HUB_EVENT_TYPES}. */
export type HubEventType = (typeof HUB_EVENT_TYPES)[number];

/** One change: what happened, to which cluster (and app), with a small JSON payload. */
export interface HubEvent {
  /** Increasing per hub process; the SSE `id:`. */
  id: number;
  type: HubEventType;
  atMs: number;
  cluster?: string;
  app?: string;
  data?: Record<string, unknown>;
}

/**
 * In-process fan-out of changes to server-sent-event streams. With several hub
 * replicas on PostgreSQL, the NATS link relays each replica's events to the
 * others (see link/nats-link.ts), so every replica's streams see every change.
 */
export class EventBus {
  readonly #emitter = new EventEmitter();
  readonly #onError: (err: unknown, event: HubEvent) => void;
  #next = 1;

  /**
   * `onError` hears what a subscriber threw (default: a process warning). A subscriber's
   * failure never reaches the publisher: the change it announces has already been made (a
   * report stored, an approval created), and must not be answered as failed.
   */
  constructor(options: { onError?: (err: unknown, event: HubEvent) => void } = {}) {
    // Every SSE client is a listener; a large dashboard audience is not a leak.
    this.#emitter.setMaxListeners(0);
    this.#onError =
      options.onError ??
      ((err, event) =>
        process.emitWarning(
          `event ${event.type} subscriber failed: ${err instanceof Error ? err.message : String(err)}`,
        ));
  }

  /** Announces a change to every subscriber; a subscriber that throws does not stop the others. */
  publish(event: Omit<HubEvent, 'id' | 'atMs'>): void {
    this.#emitter.emit('event', { id: this.#next++, atMs: Date.now(), ...event });
  }

  /** Calls `fn` for every change until the returned function is called. */
  subscribe(fn: (event: HubEvent) => void): () => void {
    const guarded = (event: HubEvent) => {
      try {
        fn(event);
      } catch (err) {
        this.#onError(err, event);
      }
    };
    this.#emitter.on('event', guarded);
    return () => this.#emitter.off('event', guarded);
  }
}
