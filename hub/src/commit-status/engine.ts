import {
  clockTimeout,
  errorMessage,
  systemClock,
  type Clock,
  type Logger,
} from '@driftless/common';
import type { EventBus, HubEvent } from '../events.ts';
import type { ClusterRecord, Store } from '../store/index.ts';
import { evaluateScope, type Decision } from './evaluate.ts';
import { matchHost } from './remote.ts';

/** Options of {@link CommitStatusEngine}; see {@link ENGINE_DEFAULTS}. */
export interface CommitStatusEngineOptions {
  store: Store;
  events: EventBus;
  log: Logger;
  clock?: Clock;
  /** Called when a status changed, so it is posted soon. */
  onDecided?: () => void;
  /**
   * A cluster label key (e.g. `env`): clusters with the same value of it share one context,
   * `driftless/<key>:<value>`. '' (default): one context per cluster, `driftless/<cluster>`.
   */
  labelKey?: string;
  /** The dashboard's public base URL, for each status's link; '' posts no link. */
  dashboardUrl?: string;
  /** Every cluster is looked at again this often, ms (hosts added, another replica's reports). */
  resyncMs?: number;
  /** A commit status nothing changed for this long is forgotten (not removed from the host), ms. */
  keepMs?: number;
}

/** The engine's defaults, set once. */
export const ENGINE_DEFAULTS = {
  labelKey: '',
  dashboardUrl: '',
  resyncMs: 60_000,
  keepMs: 90 * 24 * 3_600_000,
};

type ResolvedEngineOptions = Required<Omit<CommitStatusEngineOptions, 'onDecided'>> &
  Pick<CommitStatusEngineOptions, 'onDecided'>;

/** Hub events after which a cluster's commit statuses may have changed. */
const RELEVANT = new Set<HubEvent['type']>([
  'app.updated',
  'sync.recorded',
  'config.updated',
  'cluster.connected',
  'cluster.enrolled',
]);

/** One scope: a context, the repository its clusters follow, and those clusters. */
export interface Scope {
  context: string;
  repoUrl: string;
  clusters: ClusterRecord[];
  targetUrl: string;
}

/**
 * Turns what agents report into the status each commit should have on its Git host: on every
 * report of a cluster it reads the cluster's scope from the store, runs {@link evaluateScope}
 * and stores the decisions (guarded by the state machine's transitions, so two replicas
 * deciding at once agree). The {@link StatusPoster} posts them. One scope is worked on at a
 * time, in the order reports came.
 */
export class CommitStatusEngine {
  readonly #o: ResolvedEngineOptions;
  readonly #dirty = new Set<string>();
  #draining: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #cancelResync: (() => void) | undefined;
  #stopped = false;

  constructor(options: CommitStatusEngineOptions) {
    this.#o = {
      ...ENGINE_DEFAULTS,
      clock: systemClock,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as ResolvedEngineOptions;
    this.#o.dashboardUrl = this.#o.dashboardUrl.replace(/\/+$/, '');
  }

  /** Listens to the hub's events and looks at every cluster once now. */
  start(): void {
    this.#unsubscribe = this.#o.events.subscribe((e) => {
      if (e.cluster && RELEVANT.has(e.type)) this.#mark(e.cluster);
    });
    this.#resync();
  }

  /** Stops listening and waits for the scope being worked on. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#cancelResync?.();
    await this.#draining;
  }

  /** Resolves once every cluster marked so far has been looked at (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  #resync(): void {
    if (this.#stopped) return;
    const { store, clock, keepMs, log } = this.#o;
    const now = clock.now();
    void store
      .pruneCommitStatuses(now - keepMs, now)
      .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'commit statuses: prune'));
    void store.listClusters().then(
      (all) => {
        for (const c of all) this.#mark(c.name);
      },
      (err: unknown) => this.#o.log.warn({ err: errorMessage(err) }, 'commit statuses: resync'),
    );
    this.#cancelResync = clockTimeout(this.#o.clock, this.#o.resyncMs, () => this.#resync());
  }

  #mark(cluster: string): void {
    if (this.#stopped) return;
    this.#dirty.add(cluster);
    this.#draining ??= this.#drain().finally(() => (this.#draining = undefined));
  }

  async #drain(): Promise<void> {
    for (const cluster of this.#dirty) {
      this.#dirty.delete(cluster);
      if (this.#stopped) return;
      try {
        await this.evaluateCluster(cluster);
      } catch (err) {
        this.#o.log.warn(
          { cluster, err: errorMessage(err) },
          `commit statuses of cluster ${cluster}: ${errorMessage(err)}`,
        );
      }
    }
  }

  /** The scope `cluster` belongs to, or undefined when it follows no repository. */
  async scopeOf(cluster: string): Promise<Scope | undefined> {
    const { store, labelKey, dashboardUrl } = this.#o;
    const c = await store.getCluster(cluster);
    if (!c || !c.repoUrl || c.revokedMs > 0) return undefined;
    const value = labelKey ? c.labels[labelKey] : undefined;
    if (value === undefined)
      return {
        context: `driftless/${c.name}`,
        repoUrl: c.repoUrl,
        clusters: [c],
        targetUrl: dashboardUrl && `${dashboardUrl}/#/clusters/${encodeURIComponent(c.name)}`,
      };
    const peers = await store.listClusters([{ key: labelKey, op: '=', value }]);
    return {
      context: `driftless/${labelKey}:${value}`,
      repoUrl: c.repoUrl,
      clusters: peers.filter((p) => p.repoUrl === c.repoUrl && p.revokedMs === 0),
      targetUrl:
        dashboardUrl && `${dashboardUrl}/#/?selector=${encodeURIComponent(`${labelKey}=${value}`)}`,
    };
  }

  /** Decides the statuses of the scope of `cluster` and stores them; returns what changed. */
  async evaluateCluster(cluster: string): Promise<Decision[]> {
    const { store, clock } = this.#o;
    // Step 1: the scope, and the host that takes statuses for its repository.
    const hosts = await store.listStatusHosts();
    if (hosts.length === 0) return [];
    const scope = await this.scopeOf(cluster);
    if (!scope) return [];
    const match = matchHost(scope.repoUrl, hosts);
    if (!match) return [];
    // Step 2: what its agents report, and the commits still pending there.
    const names = new Set(scope.clusters.map((c) => c.name));
    const apps = (
      await Promise.all(scope.clusters.map((c) => store.listApps({ cluster: c.name })))
    ).flat();
    const single = scope.clusters.length === 1 ? { cluster: scope.clusters[0]!.name } : {};
    const configs = (await store.listConfigStates(single)).filter((c) => names.has(c.cluster));
    const pending = await store.listCommitStatuses({
      context: scope.context,
      repoUrl: scope.repoUrl,
      states: ['pending'],
    });
    // Step 3: decide, and store what changed (the transitions guard each write).
    const decisions = evaluateScope({
      clusters: [...names],
      apps,
      configs,
      pending: pending.map((p) => p.sha),
    });
    const changed: Decision[] = [];
    for (const d of decisions) {
      const wrote = await store.setDesiredStatus(
        { repoUrl: scope.repoUrl, sha: d.sha, context: scope.context },
        {
          state: d.state,
          description: d.description,
          targetUrl: scope.targetUrl,
          host: match.host.name,
          repoPath: match.repoPath,
          supersededBy: d.supersededBy,
        },
        d.from,
        clock.now(),
      );
      if (wrote) changed.push(d);
    }
    if (changed.length) this.#o.onDecided?.();
    return changed;
  }
}
