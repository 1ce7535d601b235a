// The hub's change stream (GET /api/v1/events, server-sent events). EventSource cannot
// send an Authorization header and the hub takes the token nowhere else, so the stream
// is read with fetch() and parsed here; the token never goes into a URL.

/** One change announced by the hub. */
export interface HubEvent {
  id: number;
  type: string;
  atMs: number;
  cluster?: string;
  app?: string;
  data?: Record<string, unknown>;
}

/** Connection state of the stream, shown in the header. */
export type StreamState = 'connecting' | 'live' | 'reconnecting';

/**
 * Splits an event-stream into events. Feed it text as it arrives; it returns
 * the complete events' `data` fields (comments and keepalives are dropped).
 */
export class EventStreamParser {
  #buffer = '';

  push(chunk: string): string[] {
    this.#buffer += chunk.replace(/\r\n?/g, '\n');
    const out: string[] = [];
    let end: number;
    while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      if (data.length) out.push(data.join('\n'));
    }
    return out;
  }
}

/** Options of {@link openEventStream}. */
export interface EventStreamOptions {
  authorization: string;
  onEvent(e: HubEvent): void;
  onState(s: StreamState): void;
  /** Called after a reconnect: events may have been missed, so lists should be re-read. */
  onResync(): void;
  /** Called when the hub refuses the token (401): the stream stops. */
  onUnauthenticated(): void;
  /** Delay before the n-th reconnect attempt (1-based). Default 1 s doubling up to 15 s. */
  delayMs?: (attempt: number) => number;
}

/** Streams hub events until the returned function is called; reconnects with backoff. */
export function openEventStream(o: EventStreamOptions): () => void {
  const controller = new AbortController();
  const delayMs = o.delayMs ?? ((n: number) => Math.min(15_000, 1000 * 2 ** (n - 1)));
  let attempt = 0;

  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        o.onState(attempt === 0 ? 'connecting' : 'reconnecting');
        const res = await fetch('/api/v1/events', {
          headers: { authorization: o.authorization, accept: 'text/event-stream' },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (res.status === 401) {
          o.onUnauthenticated();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        o.onState('live');
        if (attempt > 0) o.onResync();
        attempt = 0;
        const parser = new EventStreamParser();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const data of parser.push(value)) {
            try {
              o.onEvent(JSON.parse(data) as HubEvent);
            } catch {
              // A malformed event is skipped; the next list refresh catches up.
            }
          }
        }
      } catch {
        if (controller.signal.aborted) return;
      }
      attempt++;
      o.onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delayMs(attempt)));
    }
  };
  void run();
  return () => controller.abort();
}
