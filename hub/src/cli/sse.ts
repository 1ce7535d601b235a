/**
 * Following the hub's server-sent event stream (`GET /api/v1/events`, docs/api.md): frames
 * parsed as the EventSource standard reads them, and a loop that reconnects with capped,
 * jittered backoff, sending `Last-Event-ID`. The hub does not replay missed events, so a
 * caller that must not miss a change re-reads state after each (re)connect (`onOpen`).
 */
import { Backoff, isAbort, systemClock, type Clock } from '@driftless/common';
import type { HubClient } from './client.ts';
import { query } from './flags.ts';

/** One event of the stream. */
export interface StreamEvent {
  /** The SSE `id:`, '' when none. */
  id: string;
  /** The SSE `event:` name, e.g. `sync.recorded`. */
  type: string;
  /** The parsed `data:` JSON (the hub's HubEvent), or the text when it is not JSON. */
  data: unknown;
}

/** Options of {@link followEvents}. */
export interface FollowOptions {
  client: HubClient;
  /** Only this cluster's events (the hub filters); '' for all. */
  cluster?: string;
  /** Called for every event, in order. */
  onEvent: (event: StreamEvent) => void | Promise<void>;
  /** Called each time the stream is (re)opened, before its first event. */
  onOpen?: (reconnect: boolean) => void;
  /** Called when the stream broke and is retried after `delayMs`. */
  onRetry?: (error: unknown, delayMs: number) => void;
  /** Stops following. */
  signal: AbortSignal;
  clock?: Clock;
  /** Reconnect delays; defaults {@link FOLLOW_DEFAULTS}. */
  backoff?: { initialMs: number; maxMs: number };
  /**
   * A stream that brings nothing (not even the hub's keepalive, sent every 15 s) for this long
   * is taken as broken and reopened, ms: a connection dropped without a close never ends by
   * itself. Default {@link FOLLOW_DEFAULTS}.
   */
  idleMs?: number;
}

/** Defaults of {@link FollowOptions}. */
export const FOLLOW_DEFAULTS = { backoff: { initialMs: 500, maxMs: 15_000 }, idleMs: 45_000 };

/** Splits a stream of text into SSE frames and yields their events. */
export async function* parseEvents(chunks: AsyncIterable<string>): AsyncGenerator<StreamEvent> {
  let buffer = '';
  let id = '';
  let type = '';
  let data: string[] = [];
  for await (const chunk of chunks) {
    buffer += chunk;
    let nl: number;
    // A CR ending the chunk may be the first half of a CRLF: wait for the next chunk to tell.
    while ((nl = buffer.search(/\r\n|\n|\r(?!$)/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) {
          const text = data.join('\n');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: passed on as text.
          }
          yield { id, type: type || 'message', data: parsed };
        }
        type = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
    }
  }
}

/**
 * Follows the stream until `signal` aborts, reconnecting after every break; resolves then.
 * An answer of the hub that retrying cannot change (401, 403, 404) rejects at once.
 */
export async function followEvents(options: FollowOptions): Promise<void> {
  const clock = options.clock ?? systemClock;
  const backoff = new Backoff({ ...(options.backoff ?? FOLLOW_DEFAULTS.backoff) });
  const path = `/api/v1/events${query({ cluster: options.cluster ?? '' })}`;
  let lastId = '';
  let opened = false;
  const idleMs = options.idleMs ?? FOLLOW_DEFAULTS.idleMs;
  while (!options.signal.aborted) {
    const idle = new AbortController();
    let lastDataAt = clock.now();
    // Covers the wait for the answer's headers too.
    void watchIdle(clock, idle, idleMs, () => lastDataAt);
    try {
      const res = await options.client.stream(path, {
        headers: lastId ? { 'last-event-id': lastId } : {},
        signal: AbortSignal.any([options.signal, idle.signal]),
      });
      options.onOpen?.(opened);
      opened = true;
      backoff.reset();
      const seen = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          lastDataAt = clock.now();
          controller.enqueue(chunk);
        },
      });
      const text = (res.body ?? new ReadableStream<Uint8Array>())
        .pipeThrough(seen)
        .pipeThrough(new TextDecoderStream());
      for await (const event of parseEvents(text)) {
        if (event.id) lastId = event.id;
        await options.onEvent(event);
      }
      throw new Error('the hub ended the event stream');
    } catch (caught) {
      if (options.signal.aborted) return;
      const err: unknown = idle.signal.aborted ? idle.signal.reason : caught;
      if (!idle.signal.aborted && isAbort(err)) return;
      const status = (err as { status?: number }).status;
      if (status !== undefined && status !== 429 && status < 500) throw err;
      const delay = backoff.next();
      options.onRetry?.(err, delay);
      try {
        await clock.sleep(delay, options.signal);
      } catch {
        return;
      }
    } finally {
      idle.abort(new Error('stream closed'));
    }
  }
}

/** Aborts `idle` once no data came for `idleMs` (as `lastDataAt` tells); ends when it aborts. */
async function watchIdle(
  clock: Clock,
  idle: AbortController,
  idleMs: number,
  lastDataAt: () => number,
): Promise<void> {
  try {
    while (!idle.signal.aborted) {
      const quiet = clock.now() - lastDataAt();
      if (quiet >= idleMs) {
        idle.abort(new Error(`nothing from the hub for ${Math.round(idleMs / 1000)} s`));
        return;
      }
      await clock.sleep(idleMs - quiet, idle.signal);
    }
  } catch {
    // The stream closed: nothing to watch.
  }
}
