// The fleet as the dashboard holds it: every cluster and its apps, loaded once and then
// kept current from the hub's event stream by re-reading only the clusters that changed.
import type { App, Cluster, ClusterDetail, HubApi } from './api.ts';
import { openEventStream, type HubEvent, type StreamState } from './events.ts';

/** Above this many changed clusters in one batch, one full re-read is cheaper. */
const FULL_RELOAD_AT = 40;
/** Events are gathered for this long, so a burst becomes one batch of reads. */
const BATCH_MS = 250;
/**
 * Apps per read of the full load. The first page is on screen while the rest arrive, so a
 * fleet of 10,000 clusters × 20 apps paints after one page, not after 200,000 apps. The
 * first page is small (the first ~50 clusters fill the screen) and read alongside the
 * clusters list; later pages are larger, so the whole fleet takes few reads.
 */
const FIRST_APP_PAGE = 1000;
const APP_PAGE = 5000;

const appsPath = (limit: number, after: string | undefined) =>
  `/api/v1/apps?limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ''}`;

type Listener = () => void;

/** Clusters and apps, live. Views subscribe and read; `version` changes on every update. */
export class Fleet {
  readonly #api: HubApi;
  readonly #listeners = new Set<Listener>();
  readonly #eventListeners = new Set<(e: HubEvent) => void>();
  #clusters = new Map<string, Cluster>();
  #apps = new Map<string, App[]>();
  #appNames: string[] = [];
  #dirty = new Set<string>();
  #full = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stop: (() => void) | undefined;

  version = 0;
  loaded = false;
  /** False while a full load is still reading pages of apps (totals are partial until then). */
  complete = false;
  #generation = 0;
  /** The apps read so far by a full load in progress. */
  #pages: Map<string, App[]> | undefined;
  error: string | undefined;
  stream: StreamState = 'connecting';

  constructor(api: HubApi) {
    this.#api = api;
  }

  /** Loads everything and opens the event stream. */
  start(onUnauthenticated: () => void): void {
    void this.#loadAll();
    this.#stop = openEventStream({
      authorization: this.#api.authorization,
      onEvent: (e) => this.#onEvent(e),
      onState: (s) => {
        this.stream = s;
        this.#changed();
      },
      onResync: () => {
        this.#full = true;
        this.#schedule();
      },
      onUnauthenticated,
    });
  }

  stop(): void {
    this.#stop?.();
    clearTimeout(this.#timer);
  }

  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Every hub event, for pages that keep their own lists (drift, history, tokens). */
  onHubEvent(fn: (e: HubEvent) => void): () => void {
    this.#eventListeners.add(fn);
    return () => this.#eventListeners.delete(fn);
  }

  get clusters(): Cluster[] {
    return [...this.#clusters.values()];
  }

  cluster(name: string): Cluster | undefined {
    return this.#clusters.get(name);
  }

  /** The apps of a cluster (apps its driftless.yaml no longer lists included, marked gone). */
  appsOf(cluster: string): App[] {
    return this.#apps.get(cluster) ?? [];
  }

  /** Every app name in the fleet, sorted: the matrix columns. */
  get appNames(): string[] {
    return this.#appNames;
  }

  /** Re-reads everything now (the refresh button, after an action). */
  reload(): Promise<void> {
    return this.#loadAll();
  }

  /** Re-reads one cluster now (after an action on it). */
  async reloadCluster(name: string): Promise<void> {
    this.#dirty.add(name);
    await this.#flush();
  }

  #changed(): void {
    this.version++;
    for (const fn of this.#listeners) fn();
  }

  #onEvent(e: HubEvent): void {
    for (const fn of this.#eventListeners) fn(e);
    if (!e.cluster) return;
    if (e.type.startsWith('cluster.') || e.type === 'app.updated' || e.type === 'drift.updated')
      this.#dirty.add(e.cluster);
    if (e.type === 'sync.recorded' || e.type === 'config.updated') this.#dirty.add(e.cluster);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer === undefined)
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#flush();
      }, BATCH_MS);
  }

  async #flush(): Promise<void> {
    if (this.#full || this.#dirty.size > FULL_RELOAD_AT) {
      this.#full = false;
      this.#dirty.clear();
      return this.#loadAll();
    }
    const names = [...this.#dirty];
    this.#dirty.clear();
    await Promise.all(
      names.map(async (name) => {
        try {
          const d = await this.#api.get<ClusterDetail>(
            `/api/v1/clusters/${encodeURIComponent(name)}`,
          );
          const { apps, ...cluster } = d;
          this.#clusters.set(name, cluster);
          this.#apps.set(name, apps);
          this.#pages?.set(name, apps);
        } catch {
          // Gone or unreachable: the next full load settles it.
        }
      }),
    );
    this.#index();
    this.#changed();
  }

  async #loadAll(): Promise<void> {
    // A newer full load (refresh, resync) supersedes this one between pages.
    const generation = ++this.#generation;
    try {
      type Page = { items: App[]; next?: string };
      // The clusters and the first page of apps are read at once; nothing paints before both.
      const [clusters, first] = await Promise.all([
        this.#api.list<Cluster>('/api/v1/clusters'),
        this.#api.get<Page>(appsPath(FIRST_APP_PAGE, undefined)),
      ]);
      if (generation !== this.#generation) return;
      this.#clusters = new Map(clusters.map((c) => [c.name, c]));
      const previous = this.#apps;
      const pages = new Map<string, App[]>();
      this.#pages = pages;
      let after: string | undefined;
      let next: Page | undefined = first;
      do {
        const page: Page = next ?? (await this.#api.get<Page>(appsPath(APP_PAGE, after)));
        next = undefined;
        if (generation !== this.#generation) return;
        for (const a of page.items) {
          const list = pages.get(a.cluster);
          // A cluster re-read from an event while pages load already has its newer apps.
          if (!list) pages.set(a.cluster, [a]);
          else if (!list.some((x) => x.app === a.app)) list.push(a);
        }
        after = page.next;
        this.complete = after === undefined;
        // Clusters no page has reached yet keep what the previous load showed.
        this.#apps = this.complete ? pages : new Map([...previous, ...pages]);
        this.error = undefined;
        this.loaded = true;
        this.#index();
        this.#changed();
      } while (after !== undefined);
      this.#pages = undefined;
      return;
    } catch (err) {
      this.error = (err as Error).message;
    }
    this.#changed();
  }

  #index(): void {
    const names = new Set<string>();
    for (const list of this.#apps.values()) for (const a of list) if (!a.gone) names.add(a.app);
    this.#appNames = [...names].sort();
  }
}
