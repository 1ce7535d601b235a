import {
  Backoff,
  errorMessage,
  httpStatusOf,
  type BackoffOptions,
  type Clock,
  type Logger,
} from '@driftless/common';
import type { KubeObject } from '../model.ts';
import type { KubeClient, WatchEvent } from '../kube/index.ts';
import { WatchLoopError } from './errors.ts';

/** The part of the Kubernetes client a watch loop needs; fakes implement it in tests. */
export type WatchSource = Pick<KubeClient, 'list' | 'watch'>;

/** Options of {@link KindWatch}. */
export interface KindWatchOptions {
  source: WatchSource;
  apiVersion: string;
  kind: string;
  /** Restricts list and watch, e.g. `app.kubernetes.io/managed-by=driftless`. */
  labelSelector?: string;
  clock: Clock;
  logger: Logger;
  /** Spacing of restarts after errors. */
  backoff?: BackoffOptions;
  /** Asks the server to end each watch after this long; the loop resumes. Default 300. */
  timeoutSeconds?: number;
  /** Called with the full list after every (re-)list: the ground truth at that moment. */
  onList: (items: KubeObject[]) => void;
  /** Called for each ADDED, MODIFIED and DELETED event. */
  onEvent: (event: WatchEvent) => void;
  /** Called when the loop re-lists or restarts after an error, with why (for metrics). */
  onRestart?: (reason: string) => void;
}

/** A watch that ends this soon without an event counts as a failure (no hot loop). */
const MIN_HEALTHY_WATCH_MS = 1_000;

/**
 * One list+watch loop of one kind, cluster-wide, like an informer: list, then
 * watch from the list's resourceVersion; resume from the last seen
 * resourceVersion when the server ends the stream (timeoutSeconds); re-list on
 * 410 Gone or any ERROR event, since events may have been missed; on errors
 * wait a capped, jittered backoff and start over. Handlers are called
 * synchronously from the stream and must not throw (a throw is logged).
 */
export class KindWatch {
  readonly #o: KindWatchOptions;
  readonly #abort = new AbortController();
  readonly #backoff: Backoff;
  #done: Promise<void> | undefined;
  #heardAt: number | undefined;

  constructor(options: KindWatchOptions) {
    this.#o = options;
    this.#backoff = new Backoff({ initialMs: 500, maxMs: 30_000, ...options.backoff });
  }

  /** Starts the loop; it runs until {@link stop}. */
  start(): void {
    this.#done ??= this.#loop().catch((err: unknown) => {
      // #loop handles its own errors; this only guards against a bug escaping.
      this.#o.logger.error({ err: errorMessage(err) }, `watch ${this.#name} stopped on a bug`);
    });
  }

  /** Stops the loop and resolves once its requests have ended. */
  async stop(): Promise<void> {
    this.#abort.abort(new WatchLoopError(`watch ${this.#name}: stopped`));
    await this.#done;
  }

  /**
   * When the loop last heard from the server (a list, or any event of the current watch,
   * bookmarks included), on its clock; undefined before the first list and after a failure
   * until the next list.
   */
  get heardAt(): number | undefined {
    return this.#heardAt;
  }

  get #name(): string {
    return `${this.#o.kind} (${this.#o.apiVersion})`;
  }

  async #loop(): Promise<void> {
    const { source, apiVersion, kind, labelSelector, clock, logger } = this.#o;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const list = await source.list(apiVersion, kind, { labelSelector, signal });
        this.#deliver(() => this.#o.onList(list.items));
        this.#heardAt = clock.now();
        let resourceVersion = list.resourceVersion;
        for (;;) {
          const started = clock.now();
          const stream = new AbortController();
          const stopStream = () => stream.abort();
          signal.addEventListener('abort', stopStream, { once: true });
          let failure: WatchLoopError | undefined;
          let events = 0;
          try {
            await source.watch(
              apiVersion,
              kind,
              {
                labelSelector,
                resourceVersion,
                signal: stream.signal,
                timeoutSeconds: this.#o.timeoutSeconds ?? 300,
              },
              (event) => {
                if (failure) return;
                if (event.type === 'ERROR') {
                  failure = statusError(this.#name, event.object);
                  stream.abort(); // the stream is done for; re-list
                  return;
                }
                events++;
                this.#heardAt = clock.now();
                const rv = event.object.metadata['resourceVersion'];
                if (typeof rv === 'string' && rv) resourceVersion = rv;
                if (event.type !== 'BOOKMARK') this.#deliver(() => this.#o.onEvent(event));
              },
            );
          } finally {
            signal.removeEventListener('abort', stopStream);
          }
          if (signal.aborted) return;
          if (failure) throw failure;
          if (events === 0 && clock.now() - started < MIN_HEALTHY_WATCH_MS)
            throw new WatchLoopError(`watch ${this.#name}: stream ended at once`);
          this.#backoff.reset();
          // The server ended the stream (timeoutSeconds): resume where we were.
        }
      } catch (err) {
        this.#heardAt = undefined;
        if (signal.aborted) return;
        const gone = httpStatusOf(err) === 410 || (err as { gone?: boolean }).gone === true;
        this.#o.onRestart?.(gone ? 'gone' : 'error');
        // 410: our resourceVersion is too old; re-list at once, as informers do,
        // but only the first time in a row, so a server that keeps answering 410 is not hammered.
        const immediate = gone && this.#backoff.attempt === 0;
        const next = this.#backoff.next();
        const delay = immediate ? 0 : next;
        logger[gone ? 'debug' : 'warn'](
          { err: errorMessage(err), retryInMs: delay },
          `watch ${this.#name}: ${gone ? 're-listing' : 'restarting'}`,
        );
        try {
          await clock.sleep(delay, signal);
        } catch {
          return; // stopped while waiting
        }
      }
    }
  }

  /** Calls a handler; a throw is a bug in the handler, logged so the loop lives on. */
  #deliver(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#o.logger.error({ err: errorMessage(err) }, `watch ${this.#name}: handler failed`);
    }
  }
}

/** The error an ERROR event carries (a Status object); `gone` for 410. */
function statusError(name: string, status: unknown): WatchLoopError {
  const s = (status ?? {}) as { code?: number; reason?: string; message?: string };
  const err = new WatchLoopError(
    `watch ${name}: ${s.code ?? '?'} ${s.reason ?? ''}: ${s.message ?? 'error event'}`,
  );
  return Object.assign(err, { gone: s.code === 410 || s.reason === 'Expired' });
}
