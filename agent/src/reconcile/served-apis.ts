import { errorMessage, type Clock, type Logger } from '@driftless/common';
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
  /**
   * What discovery serves now (`group/version` and `group/version/Kind` entries, as
   * {@link servedApiVersions} answers), uncached. When given, a change that adds an API moves
   * the generation only once discovery serves it: the API server marks a CRD Established (or
   * an APIService Available) before its discovery documents list it, so a render woken by the
   * event could read discovery without the new API and, nothing moving after, never render
   * again. Without it the generation moves at once.
   */
  discovered?: (signal: AbortSignal) => Promise<ReadonlySet<string>>;
  /**
   * Waits between looks at discovery while it lags, ms; after the last the generation moves
   * anyway (and a warning names what discovery lacks). Default {@link SETTLE_DELAYS_MS}.
   */
  settleDelaysMs?: readonly number[];
}

/** Waits between looks at discovery while it lags behind the watches: about 10 s in all. */
export const SETTLE_DELAYS_MS: readonly number[] = [50, 100, 200, 400, 800, 1600, 3200, 3200];

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
  readonly #served = new Map<string, Map<string, Served>>();
  readonly #abort = new AbortController();
  #generation = 0;
  /** A change waits for discovery to serve it; `again`: another change came meanwhile. */
  #settling: { again: boolean; done: Promise<void> } | undefined;
  readonly #listed = Promise.withResolvers<void>();

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

  /**
   * The API versions the watches say are served now: `group/version` of every APIService that
   * is Available, and `group/version` and `group/version/Kind` of every served version of an
   * Established CRD that is not being deleted; sorted.
   */
  get expectedApiVersions(): string[] {
    const all = new Set<string>();
    for (const byUid of this.#served.values())
      for (const s of byUid.values()) for (const gv of s.apiVersions) all.add(gv);
    return [...all].sort();
  }

  /** Resolves once every kind has had its first list: changes from then on move the generation. */
  whenListed(): Promise<void> {
    return this.#listed.promise;
  }

  start(): void {
    for (const w of this.#watches) w.start();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#watches.map((w) => w.stop()));
    await this.#settling?.done;
  }

  #list(kind: string, items: KubeObject[]): void {
    const next = new Map(items.map((o) => [uidOf(o), servedBy(kind, o)]));
    const before = this.#served.get(kind);
    this.#served.set(kind, next);
    if (KINDS.every((k) => this.#served.has(k.kind))) this.#listed.resolve();
    // The first list is the starting point; a re-list that differs means events were missed.
    if (before && !sameMap(before, next)) this.#changed();
  }

  #event(kind: string, type: string, obj: KubeObject): void {
    const served = this.#served.get(kind) ?? new Map<string, Served>();
    this.#served.set(kind, served);
    const uid = uidOf(obj);
    const before = served.get(uid)?.key;
    if (type === 'DELETED') served.delete(uid);
    else served.set(uid, servedBy(kind, obj));
    if (served.get(uid)?.key !== before) this.#changed();
  }

  #changed(): void {
    if (!this.#o.discovered) {
      this.#generation++;
      this.#o.onChange();
      return;
    }
    if (this.#settling) {
      this.#settling.again = true;
      return;
    }
    const settling = { again: false, done: Promise.resolve() };
    this.#settling = settling;
    settling.done = this.#settle(settling).finally(() => {
      if (this.#settling === settling) this.#settling = undefined;
    });
  }

  /** Moves the generation once discovery serves what the watches say (or it stops waiting). */
  async #settle(settling: { again: boolean }): Promise<void> {
    const { clock, logger } = this.#o;
    const delays = this.#o.settleDelaysMs ?? SETTLE_DELAYS_MS;
    const signal = this.#abort.signal;
    for (;;) {
      settling.again = false;
      let missing: string[] = [];
      for (let attempt = 0; ; attempt++) {
        try {
          const served = await this.#o.discovered!(signal);
          missing = this.expectedApiVersions.filter((gv) => !served.has(gv));
        } catch (err) {
          if (signal.aborted) return;
          // Discovery failing is the render's to report; the change moves the generation.
          logger.debug({ err: errorMessage(err) }, 'served APIs: discovery failed');
          missing = [];
        }
        if (missing.length === 0 || attempt >= delays.length) break;
        try {
          await clock.sleep(delays[attempt]!, signal);
        } catch {
          return; // stopped
        }
      }
      if (missing.length > 0)
        logger.warn(
          { missing: missing.slice(0, 20) },
          `served APIs: discovery still lacks ${missing.length} API version(s) the cluster's CRDs and APIServices serve (${missing.slice(0, 3).join(', ')}); rendering with what discovery serves`,
        );
      this.#generation++;
      this.#o.onChange();
      if (!settling.again) return;
    }
  }
}

/** What one CRD or APIService serves: a key to compare, and the API versions it serves. */
interface Served {
  key: string;
  apiVersions: string[];
}

function uidOf(o: KubeObject): string {
  const uid = o.metadata['uid'];
  return typeof uid === 'string' ? uid : String(o.metadata.name);
}

/**
 * The part of a CRD or APIService that decides what is served, as a key to compare, and the
 * API versions it serves (as Helm's `.Capabilities.APIVersions` lists them).
 */
function servedBy(kind: string, o: KubeObject): Served {
  const spec = (o['spec'] ?? {}) as Record<string, unknown>;
  const status = (o['status'] ?? {}) as { conditions?: Array<{ type?: string; status?: string }> };
  const condition = (type: string) => status.conditions?.find((c) => c.type === type)?.status;
  const deleting = Boolean(o.metadata['deletionTimestamp']);
  if (kind === 'APIService') {
    const group = typeof spec['group'] === 'string' ? spec['group'] : '';
    const version = typeof spec['version'] === 'string' ? spec['version'] : '';
    const available = condition('Available') === 'True' && !deleting && version !== '';
    return {
      key: JSON.stringify([spec['group'], spec['version'], condition('Available'), deleting]),
      apiVersions: available ? [group ? `${group}/${version}` : version] : [],
    };
  }
  const names = (spec['names'] ?? {}) as Record<string, unknown>;
  const list = Array.isArray(spec['versions'])
    ? (spec['versions'] as Array<{ name?: string; served?: boolean }>)
    : [];
  const versions = list.map((v) => [v.name, v.served]);
  const group = typeof spec['group'] === 'string' ? spec['group'] : '';
  const kindName = typeof names['kind'] === 'string' ? names['kind'] : '';
  const established = condition('Established') === 'True' && !deleting && group !== '';
  const apiVersions = established
    ? list
        .filter((v) => v.served && typeof v.name === 'string' && v.name)
        .flatMap((v) => [
          `${group}/${v.name}`,
          ...(kindName ? [`${group}/${v.name}/${kindName}`] : []),
        ])
    : [];
  return {
    key: JSON.stringify([
      spec['group'],
      names['plural'],
      kindName,
      versions,
      condition('Established'),
      deleting,
    ]),
    apiVersions,
  };
}

function sameMap(a: Map<string, Served>, b: Map<string, Served>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k)?.key !== v.key) return false;
  return true;
}
