import type { ServerResponse } from 'node:http';
import type { Logger } from '@driftless/common';
import { RateLimitedError } from '../errors.ts';
import type { EventBus, HubEvent } from '../events.ts';

/** Limits of the server-sent-event streams (`GET /api/v1/events`). */
export interface EventStreamLimits {
  /** Open streams at most, over all tokens. */
  maxStreams: number;
  /** Open streams at most per API token. */
  maxStreamsPerToken: number;
  /**
   * Bytes a stream may have queued and unsent; a reader slower than the event rate is
   * dropped at this point (it reconnects and re-reads the lists) instead of buffering.
   */
  maxBufferedBytes: number;
  /** Interval of the `: keepalive` comment that keeps proxies from cutting idle streams, ms. */
  keepaliveMs: number;
}

/** Defaults of {@link EventStreamLimits}; the hub's flags override them. */
export const EVENT_STREAM_DEFAULTS: EventStreamLimits = {
  maxStreams: 1000,
  maxStreamsPerToken: 20,
  maxBufferedBytes: 1 << 20,
  keepaliveMs: 15_000,
};

/** How long a refused client should wait before trying to open a stream again, ms. */
const RETRY_AFTER_MS = 5_000;

interface Stream {
  res: ServerResponse;
  token: string;
  /** Only this cluster's events; '' for all. */
  cluster: string;
}

/**
 * The open event streams of this hub process. One subscription to the event bus feeds all
 * of them: each event is serialised once, whatever the number of readers, so idle streams
 * cost the hub's ingest almost nothing.
 */
export class EventStreams {
  readonly #limits: EventStreamLimits;
  readonly #log: Logger;
  readonly #streams = new Set<Stream>();
  readonly #perToken = new Map<string, number>();
  readonly #unsubscribe: () => void;
  readonly #keepalive: NodeJS.Timeout;

  constructor(options: { events: EventBus; log: Logger; limits?: Partial<EventStreamLimits> }) {
    this.#limits = { ...EVENT_STREAM_DEFAULTS, ...options.limits };
    this.#log = options.log;
    this.#unsubscribe = options.events.subscribe((e) => this.#publish(e));
    this.#keepalive = setInterval(
      () => this.#broadcast(': keepalive\n\n'),
      this.#limits.keepaliveMs,
    );
    this.#keepalive.unref();
  }

  /** Streams currently open. */
  get size(): number {
    return this.#streams.size;
  }

  /**
   * Turns `res` into an event stream for API token `token` (only `cluster`'s events when
   * given). Throws RateLimitedError, before writing anything, when a limit is reached.
   */
  open(res: ServerResponse, token: string, cluster: string): void {
    const mine = this.#perToken.get(token) ?? 0;
    if (mine >= this.#limits.maxStreamsPerToken)
      throw new RateLimitedError(
        `event stream: API token ${token} already has ${mine} open streams (--sse-max-streams-per-token); close one`,
        { retryAfterMs: RETRY_AFTER_MS },
      );
    if (this.#streams.size >= this.#limits.maxStreams)
      throw new RateLimitedError(
        `event stream: the hub serves ${this.#streams.size} streams already (--sse-max-streams); try again later`,
        { retryAfterMs: RETRY_AFTER_MS },
      );
    const stream: Stream = { res, token, cluster };
    this.#streams.add(stream);
    this.#perToken.set(token, mine + 1);
    res.once('close', () => this.#forget(stream));
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Proxies like nginx buffer responses by default, which would hold events back.
      'x-accel-buffering': 'no',
    });
    this.#write(stream, 'retry: 3000\n: connected\n\n');
  }

  /** Ends every stream and stops listening to the bus. */
  close(): void {
    clearInterval(this.#keepalive);
    this.#unsubscribe();
    for (const s of this.#streams) s.res.end();
  }

  #publish(e: HubEvent): void {
    if (this.#streams.size === 0) return;
    const frame = `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
    for (const s of this.#streams) if (!s.cluster || s.cluster === e.cluster) this.#write(s, frame);
  }

  #broadcast(frame: string): void {
    for (const s of this.#streams) this.#write(s, frame);
  }

  /** Writes a frame, or drops the stream when its reader has fallen too far behind. */
  #write(s: Stream, frame: string): void {
    if (s.res.destroyed) return;
    if (s.res.writableLength + frame.length > this.#limits.maxBufferedBytes) {
      this.#log.warn(
        { tokenId: s.token, queuedBytes: s.res.writableLength },
        'event stream dropped: its reader is too slow',
      );
      this.#forget(s);
      s.res.destroy();
      return;
    }
    s.res.write(frame);
  }

  #forget(s: Stream): void {
    if (!this.#streams.delete(s)) return;
    const left = (this.#perToken.get(s.token) ?? 1) - 1;
    if (left > 0) this.#perToken.set(s.token, left);
    else this.#perToken.delete(s.token);
  }
}
