import type { BackoffOptions, Clock, Logger } from '@driftless/common';
import type { KubeObject, ObjectRef } from '../model.ts';
import type { WatchEvent } from '../kube/index.ts';
import { KindWatch, type WatchSource } from './kind-watch.ts';
import type { Tasks } from './tasks.ts';

/** Options of {@link KindWatches}. */
export interface KindWatchesOptions {
  source: WatchSource;
  labelSelector: string;
  clock: Clock;
  logger: Logger;
  backoff: BackoffOptions;
  watchTimeoutSeconds: number;
  tasks: Tasks;
  /** A (re-)list of the kind `kind` (a kindKey). */
  onList: (kind: string, items: KubeObject[]) => void;
  onEvent: (event: WatchEvent) => void;
  /** The watch of `kind` (a kindKey) broke: until its re-list, changes to its objects go unseen. */
  onRestart: (kind: string) => void;
}

/** One {@link KindWatch} loop per kind in use: started when a kind is first used, stopped when no longer. */
export class KindWatches {
  readonly #o: KindWatchesOptions;
  readonly #kinds = new Map<string, KindWatch>();

  constructor(options: KindWatchesOptions) {
    this.#o = options;
  }

  /** Kinds watched now. */
  get size(): number {
    return this.#kinds.size;
  }

  /** Starts loops of kinds in `wanted` (kindKey → a reference of the kind) and stops the others. */
  sync(wanted: ReadonlyMap<string, ObjectRef>): void {
    for (const [key, watch] of this.#kinds) {
      if (wanted.has(key)) continue;
      this.#kinds.delete(key);
      this.#o.tasks.spawn(watch.stop());
    }
    for (const [key, ref] of wanted) {
      if (this.#kinds.has(key)) continue;
      const watch = new KindWatch({
        source: this.#o.source,
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        labelSelector: this.#o.labelSelector,
        clock: this.#o.clock,
        logger: this.#o.logger,
        backoff: this.#o.backoff,
        timeoutSeconds: this.#o.watchTimeoutSeconds,
        onList: (items) => this.#o.onList(key, items),
        onEvent: (event) => this.#o.onEvent(event),
        onRestart: () => this.#o.onRestart(key),
      });
      this.#kinds.set(key, watch);
      watch.start();
    }
  }

  /** When the loop of `kind` (a kindKey) last heard from the server; see KindWatch.heardAt. */
  heardAt(kind: string): number | undefined {
    return this.#kinds.get(kind)?.heardAt;
  }

  /** Stops every loop (in the background tasks). */
  stopAll(): void {
    for (const watch of this.#kinds.values()) this.#o.tasks.spawn(watch.stop());
    this.#kinds.clear();
  }
}
