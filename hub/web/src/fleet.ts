// The fleet as the dashboard holds it: every cluster and its apps, loaded once (page by
// page, painting after the first) and then kept current from the hub's event stream by re-reading only the clusters that changed.
import type { App, Cluster, ClusterDetail, HubApi } from './api.ts';
import { openEventStream, type HubEvent, type StreamState } from './events.ts';

/** Above this many changed clusters in one batch, one full re-read is cheaper. */
const FULL_RELOAD_AT = 40;
/** Events are gathered for this long, so a burst becomes one batch of reads. */
const BATCH_MS = 250;
/** First and longest wait before re-reading a cluster whose re-read failed, ms. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/**
 * Clusters and apps per read of the full load. The first pages are on screen while the rest
 * arrive, so a fleet of 10,000 clusters × 20 apps paints after one page of each, not after
 * every cluster and 200,000 apps. The first pages are small (the first ~50 clusters fill the
 * screen) and read together; later pages are larger, so the whole fleet takes few reads.
 */
const FIRST_CLUSTER_PAGE = 200;
const CLUSTER_PAGE = 5000;
const FIRST_APP_PAGE = 1000;
const APP_PAGE = 5000;

const pagePath = (path: string, limit: number, after: string | undefined) =>
  `${path}?limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ''}`;

/** One page of a paged list: `next` is the `after` of the following page, absent on the last. */
type Page<T> = { items: T[]; next?: string };

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
  /** The wait before re-reading clusters whose last re-read failed; 0 when none failed. */
  #retryMs = 0;
  /** Whether `error` says that changed clusters could not be re-read. */
  #staleError = false;
  #stop: (() => void) | undefined;

  version = 0;
  loaded = false;
  /** False while a full load is still reading pages of clusters or apps (totals are partial). */
  complete = false;
  #generation = 0;
  /** The clusters and apps read so far by a full load in progress. */
  #pages: { clusters: Map<string, Cluster>; apps: Map<string, App[]> } | undefined;
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

  #schedule(delayMs = BATCH_MS): void {
    if (this.#timer === undefined)
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#flush();
      }, delayMs);
  }

  async #flush(): Promise<void> {
    if (this.#full || this.#dirty.size > FULL_RELOAD_AT) {
      this.#full = false;
      this.#dirty.clear();
      return this.#loadAll();
    }
    const names = [...this.#dirty];
    this.#dirty.clear();
    const failed: { name: string; err: unknown }[] = [];
    await Promise.all(
      names.map(async (name) => {
        try {
          const d = await this.#api.get<ClusterDetail>(
            `/api/v1/clusters/${encodeURIComponent(name)}`,
          );
          const { apps, ...cluster } = d;
          this.#clusters.set(name, cluster);
          this.#apps.set(name, apps);
          this.#pages?.clusters.set(name, cluster);
          this.#pages?.apps.set(name, apps);
        } catch (err) {
          failed.push({ name, err });
        }
      }),
    );
    this.#retryFailed(failed);
    this.#index();
    this.#changed();
  }

  /**
   * A cluster that changed but could not be re-read (the hub restarting, its database away)
   * would otherwise show its older state as current, silently: the page says so, and it is
   * read again with a capped backoff until it can be.
   */
  #retryFailed(failed: { name: string; err: unknown }[]): void {
    if (failed.length === 0) {
      this.#retryMs = 0;
      if (this.#staleError) this.error = undefined;
      this.#staleError = false;
      return;
    }
    for (const f of failed) this.#dirty.add(f.name);
    const which = failed.length === 1 ? `cluster ${failed[0]!.name}` : `${failed.length} clusters`;
    this.error = `${which} changed, but reading it again failed (${(failed[0]!.err as Error).message}); the page may show an older state. Trying again.`;
    this.#staleError = true;
    this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs ? this.#retryMs * 2 : RETRY_FIRST_MS);
    this.#schedule(this.#retryMs);
  }

  async #loadAll(): Promise<void> {
    // A newer full load (refresh, resync) supersedes this one between pages.
    const generation = ++this.#generation;
    try {
      const previous = { clusters: this.#clusters, apps: this.#apps };
      const pages = { clusters: new Map<string, Cluster>(), apps: new Map<string, App[]>() };
      this.#pages = pages;
      // The first page of clusters and of apps are read at once; nothing paints before both.
      let clusterPage: Promise<Page<Cluster>> | undefined = this.#api.get<Page<Cluster>>(
        pagePath('/api/v1/clusters', FIRST_CLUSTER_PAGE, undefined),
      );
      let appPage: Promise<Page<App>> | undefined = this.#api.get<Page<App>>(
        pagePath('/api/v1/apps', FIRST_APP_PAGE, undefined),
      );
      while (clusterPage || appPage) {
        const [clusters, apps]: [Page<Cluster> | undefined, Page<App> | undefined] =
          await Promise.all([clusterPage, appPage]);
        if (generation !== this.#generation) return;
        // The following pages are asked for before this one is indexed.
        clusterPage =
          clusters?.next === undefined
            ? undefined
            : this.#api.get<Page<Cluster>>(
                pagePath('/api/v1/clusters', CLUSTER_PAGE, clusters.next),
              );
        appPage =
          apps?.next === undefined
            ? undefined
            : this.#api.get<Page<App>>(pagePath('/api/v1/apps', APP_PAGE, apps.next));
        // A cluster re-read from an event while pages load already holds its newer state.
        for (const c of clusters?.items ?? [])
          if (!pages.clusters.has(c.name)) pages.clusters.set(c.name, c);
        for (const a of apps?.items ?? []) {
          const list = pages.apps.get(a.cluster);
          if (!list) pages.apps.set(a.cluster, [a]);
          else if (!list.some((x) => x.app === a.app)) list.push(a);
        }
        this.complete = !clusterPage && !appPage;
        // What no page has reached yet keeps what the previous load showed.
        this.#clusters = this.complete
          ? pages.clusters
          : new Map([...previous.clusters, ...pages.clusters]);
        this.#apps = this.complete ? pages.apps : new Map([...previous.apps, ...pages.apps]);
        this.error = undefined;
        this.loaded = true;
        this.#index();
        this.#changed();
      }
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
