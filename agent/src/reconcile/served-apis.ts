import type { Clock, Logger } from '@driftless/common';
import { KindWatch, type WatchSource } from '../drift/index.ts';
import type { KubeObject } from '../model.ts';

/** What the reconcile loop reads of {@link ServedApiWatch}. */
export interface ServedApis {
  /** Grows by one each time the set of APIs the cluster serves changes. */
  readonly generation: number;
}

/** Options of {@link ServedApiWatch}. */
export interface ServedApiWatchOptions {
  source: WatchSource;
  clock: Clock;
  logger: Logger;
  /** Called after each change, e.g. to wake the reconcile loop. */
  onChange: () => void;
}

/** The kinds that decide which APIs a cluster serves. */
const KINDS = [
  { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' },
  { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService' },
] as const;

/**
 * Notices when the cluster starts or stops serving an API, from a list+watch
 * of CustomResourceDefinitions and APIServices, so renders that read
 * `.Capabilities.APIVersions` are redone when a CRD appears, without asking
 * discovery on every poll. A change is a new or deleted object, or one whose
 * served group versions or availability changed; status-only noise is not.
 */
export class ServedApiWatch implements ServedApis {
  readonly #o: ServedApiWatchOptions;
  readonly #watches: KindWatch[];
  /** Per kind: uid → what the object serves; undefined before the first list. */
  readonly #served = new Map<string, Map<string, string>>();
  #generation = 0;

  constructor(options: ServedApiWatchOptions) {
    this.#o = options;
    this.#watches = KINDS.map(
      ({ apiVersion, kind }) =>
        new KindWatch({
          source: options.source,
          apiVersion,
          kind,
          clock: options.clock,
          logger: options.logger,
          onList: (items) => this.#list(kind, items),
          onEvent: (event) => this.#event(kind, event.type, event.object),
        }),
    );
  }

  get generation(): number {
    return this.#generation;
  }

  start(): void {
    for (const w of this.#watches) w.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#watches.map((w) => w.stop()));
  }

  #list(kind: string, items: KubeObject[]): void {
    const next = new Map(items.map((o) => [uidOf(o), servedBy(kind, o)]));
    const before = this.#served.get(kind);
    this.#served.set(kind, next);
    // The first list is the starting point; a re-list that differs means events were missed.
    if (before && !sameMap(before, next)) this.#changed();
  }

  #event(kind: string, type: string, obj: KubeObject): void {
    const served = this.#served.get(kind) ?? new Map<string, string>();
    this.#served.set(kind, served);
    const uid = uidOf(obj);
    const before = served.get(uid);
    if (type === 'DELETED') served.delete(uid);
    else served.set(uid, servedBy(kind, obj));
    if (served.get(uid) !== before) this.#changed();
  }

  #changed(): void {
    this.#generation++;
    this.#o.onChange();
  }
}

function uidOf(o: KubeObject): string {
  const uid = o.metadata['uid'];
  return typeof uid === 'string' ? uid : String(o.metadata.name);
}

/** The part of a CRD or APIService that decides what is served, as a string to compare. */
function servedBy(kind: string, o: KubeObject): string {
  const spec = (o['spec'] ?? {}) as Record<string, unknown>;
  const status = (o['status'] ?? {}) as { conditions?: Array<{ type?: string; status?: string }> };
  const condition = (type: string) => status.conditions?.find((c) => c.type === type)?.status;
  if (kind === 'APIService') {
    return JSON.stringify([spec['group'], spec['version'], condition('Available')]);
  }
  const names = (spec['names'] ?? {}) as Record<string, unknown>;
  const versions = Array.isArray(spec['versions'])
    ? (spec['versions'] as Array<{ name?: string; served?: boolean }>).map((v) => [
        v.name,
        v.served,
      ])
    : [];
  return JSON.stringify([spec['group'], names['plural'], versions, condition('Established')]);
}

function sameMap(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
