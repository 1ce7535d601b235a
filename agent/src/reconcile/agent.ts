import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Tracer } from '@opentelemetry/api';
import { Backoff, errorMessage, systemClock, type Clock, type Logger } from '@driftless/common';
import { type AppSpec, type ClusterConfig, type IgnoreRule, type KubeObject } from '../model.ts';
import { clusterCapabilities, TenantClients, type KubeClient } from '../kube/index.ts';
import { Ownership } from '../guard/index.ts';
import { render } from '../render/index.ts';
import { parseClusterConfig } from '../config/index.ts';
import { CommitSignatureError, resolveInCheckout } from '../source/index.ts';
import { planApp } from '../plan/index.ts';
import { pruneObjects } from '../apply/index.ts';
import type { InventoryStore } from '../inventory/index.ts';
import type {
  AppStatusReport,
  ApprovalBook,
  DriftReport,
  HealthState,
  Reporter,
  SyncReport,
} from '../report/index.ts';
import { syncApp, type RenderSettings, type SyncOutcomeDetail } from './sync-app.ts';

/** A checkout of the cluster's repository at one revision. */
export interface Checkout {
  revision: string;
  /** Root folder of the checked-out tree. */
  dir: string;
  /** True when Git could not be reached and this is the last good checkout. */
  fromCache: boolean;
  /** Why Git could not be reached, when `fromCache`. */
  error?: unknown;
}

/** Where checkouts come from (GitSource in production; a folder in tests). */
export interface CheckoutSource {
  sync(signal?: AbortSignal): Promise<Checkout>;
}

/** Drift watching as the reconciler drives it (see drift/). */
export interface DriftTracker {
  track(
    app: AppSpec,
    objects: KubeObject[],
    sync: { revision: string; traceId: string },
    applied?: ReadonlyMap<string, string>,
  ): void;
  untrack(app: string): void;
  /** Resolves once heals in flight have finished, so they cannot land after the sync's apply. */
  pause(app: string): Promise<void> | void;
  resume(app: string): void;
  driftCount(app: string): number;
  /** Takes an app's settings (mode, selfHeal, ignore rules) at once, before its next sync. */
  configure?(app: AppSpec): void;
  /** Fields another controller fights over: the plan leaves them out too. */
  ignoreRules?(app: string): IgnoreRule[];
}

/** Options of {@link Agent}. */
export interface AgentOptions {
  /** This cluster's name, as enrolled. */
  cluster: string;
  client: KubeClient;
  source: CheckoutSource;
  /** Folder of the repository holding `driftless.yaml`, e.g. `clusters/dev`. */
  clusterPath: string;
  inventory: InventoryStore;
  reporter: Reporter;
  approvals: ApprovalBook;
  drift?: DriftTracker;
  tracer: Tracer;
  logger: Logger;
  clock?: Clock;
  /** Time between polls of Git (and re-plans of every app). Default 60 s. */
  pollIntervalMs?: number;
  /** Parallel API requests per app. Default 8. */
  concurrency?: number;
  /** Health poll interval while a sync waits. Default 1 s. */
  healthPollMs?: number;
  /** Health timeout of apps whose driftless.yaml entry sets none. Default 5 minutes. */
  defaultHealthTimeoutMs?: number;
  /** Upper bound of one Git sync (a hung server must not stall reconciling). Default 5 minutes. */
  fetchTimeoutMs?: number;
  /** Render limits and chart sources of every sync. Default the render defaults. */
  render?: RenderSettings;
  /** The identities apps act with (serviceAccountName). Default: made from `client`. */
  tenants?: TenantClients;
}

/** What the agent knows about one app between syncs. */
interface AppState {
  spec: AppSpec;
  status?: AppStatusReport;
  /** Key of the last reported sync, to report each distinct outcome once. */
  lastReportKey?: string;
}

/** Lifecycle of the agent. */
export type AgentState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Reconciles one cluster from Git: on every poll (or refresh) it syncs the
 * checkout, reads `driftless.yaml` (keeping the last good one when it is
 * broken), syncs each app — apps whose dependencies are not Healthy wait —
 * and releases or prunes apps that left Git. Failures retry with backoff;
 * an unreachable Git keeps reconciling the last good checkout.
 */
export class Agent {
  readonly #o: AgentOptions;
  readonly #clock: Clock;
  readonly #apps = new Map<string, AppState>();
  readonly #backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  #config: { config: ClusterConfig; revision: string } | undefined;
  #state: AgentState = 'idle';
  #wake: (() => void) | undefined;
  #pendingWake = false;
  #loop: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #ticks = 0;
  readonly #tickListeners = new Set<() => void>();
  readonly #tenants: TenantClients;
  readonly #ownership: Ownership;

  constructor(options: AgentOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#tenants =
      options.tenants ?? new TenantClients(options.client, options.inventory.namespace);
    this.#ownership = new Ownership({ inventory: options.inventory, scopes: options.client });
    options.approvals.onApproval(() => this.refresh());
  }

  /** Current lifecycle state. */
  get state(): AgentState {
    return this.#state;
  }

  /** Number of completed reconcile passes (for tests and metrics). */
  get ticks(): number {
    return this.#ticks;
  }

  /** The last reported status of every app. */
  statuses(): AppStatusReport[] {
    return [...this.#apps.values()].flatMap((a) => (a.status ? [a.status] : []));
  }

  /**
   * Forwards a drift report and refreshes the app's status, whose drift count
   * it changes. Give the drift watcher a reporter that calls this.
   */
  noteDrift(report: DriftReport): void {
    this.#o.reporter.drift(report);
    const state = this.#apps.get(report.app);
    if (state?.status) this.#setStatus(state.spec, state.status);
  }

  /** Starts the reconcile loop. */
  start(): void {
    if (this.#state !== 'idle') throw new Error(`agent cannot start: it is ${this.#state}`);
    this.#state = 'running';
    this.#loop = this.#run();
  }

  /** Asks for a pass now (new commit hint, approval, sync-now). */
  refresh(): void {
    this.#pendingWake = true;
    this.#wake?.();
  }

  /** Resolves after the next complete pass. */
  nextTick(): Promise<void> {
    return new Promise((resolve) => {
      const l = () => {
        this.#tickListeners.delete(l);
        resolve();
      };
      this.#tickListeners.add(l);
    });
  }

  /** Stops after the current step; in-flight requests are aborted. */
  async stop(): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    this.#abort.abort(new Error('agent stopping'));
    this.#wake?.();
    await this.#loop;
    this.#state = 'stopped';
  }

  async #run(): Promise<void> {
    while (this.#state === 'running') {
      let delay = this.#o.pollIntervalMs ?? 60_000;
      try {
        const ok = await this.reconcileOnce();
        if (ok) this.#backoff.reset();
        else delay = Math.min(delay, this.#backoff.next());
      } catch (err) {
        if (this.#state !== 'running') break;
        delay = Math.min(delay, this.#backoff.next());
        this.#o.logger.error(
          { err: errorMessage(err) },
          `reconcile pass failed: ${errorMessage(err)}`,
        );
      }
      this.#ticks++;
      for (const l of [...this.#tickListeners]) l();
      if (this.#state !== 'running') break;
      await this.#sleep(delay);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#pendingWake) {
      this.#pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = new AbortController();
      this.#wake = () => timer.abort();
      this.#clock
        .sleep(ms, timer.signal)
        .catch(() => undefined)
        .finally(() => {
          this.#wake = undefined;
          this.#pendingWake = false;
          resolve();
        });
    });
  }

  /**
   * One pass over the cluster. Returns false when something failed that is
   * worth retrying sooner than the poll interval.
   */
  async reconcileOnce(): Promise<boolean> {
    const { logger } = this.#o;
    const signal = this.#abort.signal;
    const fetchStart = this.#clock.now();
    const checkout = await this.#o.source.sync(
      AbortSignal.any([signal, AbortSignal.timeout(this.#o.fetchTimeoutMs ?? 300_000)]),
    );
    const fetch = {
      startedAt: fetchStart,
      finishedAt: this.#clock.now(),
      fromCache: checkout.fromCache,
    };
    // A refused (unsigned) head is terminal: only a new commit changes it, so no sooner retry.
    let healthy = !checkout.fromCache || checkout.error instanceof CommitSignatureError;
    if (checkout.fromCache) {
      logger.warn(
        { revision: checkout.revision, err: errorMessage(checkout.error) },
        `${sourceProblem(checkout)}; reconciling the last good checkout ${checkout.revision.slice(0, 7)}`,
      );
    }

    const configError = await this.#loadConfig(checkout);
    if (!this.#config) throw new Error(`no usable driftless.yaml: ${configError}`);
    const config = this.#config.config;
    for (const app of config.apps) this.#o.drift?.configure?.(app);

    // Ownership: what every app declares and holds, so no two apps fight over an object.
    await this.#ownership.begin(config.apps, checkout.revision, (app) =>
      render({
        root: checkout.dir,
        app,
        signal,
        ...this.#o.render,
        cluster: () => clusterCapabilities(this.#o.client, { signal }),
      }),
    );
    // Apps that left Git: prune them if they asked for it, else let go.
    await this.#removeGoneApps(new Set(config.apps.map((a) => a.name)));

    // Sync every app; an app starts once all it depends on finished Healthy.
    const done = new Map<string, Promise<HealthState>>();
    for (const app of config.apps) {
      done.set(
        app.name,
        (async (): Promise<HealthState> => {
          for (const dep of app.dependsOn) {
            const h = await done.get(dep);
            if (h !== 'Healthy') {
              this.#setStatus(app, {
                syncStatus: 'OutOfSync',
                health: 'Unknown',
                message: `waiting for app ${dep} to be Healthy (it is ${h ?? 'unknown'})`,
                revision: checkout.revision,
              });
              healthy = false;
              return 'Unknown';
            }
          }
          const detail = await this.#syncOne(app, checkout, fetch, configError);
          if (detail.report.outcome === 'failed' && detail.errorClass !== 'terminal')
            healthy = false;
          return detail.report.outcome === 'succeeded' ? detail.report.health : 'Unknown';
        })(),
      );
    }
    await Promise.all(done.values());
    return healthy;
  }

  async #loadConfig(checkout: Checkout): Promise<string> {
    if (this.#config?.revision === checkout.revision) return '';
    const file = path.posix.join(this.#o.clusterPath, 'driftless.yaml');
    try {
      const text = await readFile(await resolveInCheckout(checkout, file), 'utf8').catch(
        (err: unknown) => {
          throw new Error(
            `cannot read ${file} at ${checkout.revision.slice(0, 7)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)}`,
          );
        },
      );
      this.#config = {
        config: parseClusterConfig(text, file, {
          defaultHealthTimeoutMs: this.#o.defaultHealthTimeoutMs,
        }),
        revision: checkout.revision,
      };
      return '';
    } catch (err) {
      const message = errorMessage(err);
      this.#o.logger.error(
        { revision: checkout.revision, err: message },
        `${message}; keeping the last good config${this.#config ? ` from ${this.#config.revision.slice(0, 7)}` : ''}`,
      );
      return message;
    }
  }

  async #syncOne(
    app: AppSpec,
    checkout: Checkout,
    fetch: { startedAt: number; finishedAt: number; fromCache: boolean },
    configError: string,
  ): Promise<SyncOutcomeDetail> {
    const { drift } = this.#o;
    await drift?.pause(app.name);
    let detail: SyncOutcomeDetail;
    try {
      detail = await syncApp(
        {
          client: this.#tenants.for(app),
          ownership: this.#ownership,
          inventory: this.#o.inventory,
          approvals: this.#o.approvals,
          tracer: this.#o.tracer,
          logger: this.#o.logger,
          clock: this.#clock,
          cluster: this.#o.cluster,
          concurrency: this.#o.concurrency,
          healthPollMs: this.#o.healthPollMs,
          ...(this.#o.render ? { render: this.#o.render } : {}),
          fetch,
          signal: this.#abort.signal,
          ignoreRules: (name) => drift?.ignoreRules?.(name) ?? [],
          onApplied: (a, desired, revision, traceId, applied) =>
            drift?.track(a, desired, { revision, traceId }, applied),
        },
        app,
        checkout,
      );
    } finally {
      drift?.resume(app.name);
    }
    const r = detail.report;
    this.#reportSync(app, r);
    const pending =
      r.outcome === 'planned' || r.outcome === 'waiting-approval' || r.outcome === 'approval-stale';
    const changes = r.objects.filter((o) => o.action !== 'unchanged').length;
    const notes = [
      configError && `driftless.yaml: ${configError}`,
      r.outcome === 'waiting-approval' &&
        `waiting for approval of plan ${r.planDigest.slice(0, 12)} (${changes} change(s)) at ${r.revision.slice(0, 7)}`,
      r.outcome === 'planned' &&
        `dry-run: ${changes} change(s) planned at ${r.revision.slice(0, 7)}`,
      r.error,
      checkout.fromCache && sourceProblem(checkout),
    ].filter(Boolean);
    this.#setStatus(app, {
      revision: r.revision,
      syncStatus: r.outcome === 'succeeded' ? 'Synced' : pending ? 'OutOfSync' : 'Failed',
      health:
        r.outcome === 'succeeded'
          ? r.health
          : (this.#apps.get(app.name)?.status?.health ?? 'Unknown'),
      planDigest: r.planDigest,
      pendingPlan: pending ? r.objects.filter((o) => o.action !== 'unchanged') : [],
      message: notes.join('; '),
      lastSyncAt: r.outcome === 'succeeded' ? r.finishedAt : undefined,
    });
    return detail;
  }

  /**
   * Reports a sync once per distinct result: every sync that wrote something,
   * and otherwise only a change of outcome, revision, plan or error — an
   * unchanged pass says nothing.
   */
  #reportSync(app: AppSpec, r: SyncReport): void {
    const state = this.#state_(app);
    const wrote = r.outcome === 'succeeded' && r.objects.some((o) => o.action !== 'unchanged');
    const key =
      r.outcome === 'succeeded'
        ? `succeeded|${r.revision}`
        : `${r.outcome}|${r.revision}|${r.planDigest}|${r.error}`;
    if (!wrote && key === state.lastReportKey) return;
    state.lastReportKey = key;
    this.#o.reporter.syncResult(r);
  }

  #state_(app: AppSpec): AppState {
    let s = this.#apps.get(app.name);
    if (!s) {
      s = { spec: app };
      this.#apps.set(app.name, s);
    }
    s.spec = app;
    return s;
  }

  #setStatus(
    app: AppSpec,
    patch: Partial<AppStatusReport> & Pick<AppStatusReport, 'syncStatus' | 'health' | 'revision'>,
  ): void {
    const state = this.#state_(app);
    const prev = state.status;
    const next: AppStatusReport = {
      app: app.name,
      mode: app.sync,
      healthMessage: patch.healthMessage ?? '',
      driftCount: this.#o.drift?.driftCount(app.name) ?? 0,
      planDigest: patch.planDigest ?? prev?.planDigest ?? '',
      pendingPlan: patch.pendingPlan ?? [],
      message: patch.message ?? '',
      lastSyncAt: patch.lastSyncAt ?? prev?.lastSyncAt ?? 0,
      revision: patch.revision,
      syncStatus: patch.syncStatus,
      health: patch.health,
    };
    state.status = next;
    if (prev && JSON.stringify(prev) === JSON.stringify(next)) return;
    this.#o.reporter.appStatus(next);
  }

  async #removeGoneApps(current: Set<string>): Promise<void> {
    const { inventory, logger } = this.#o;
    for (const name of await inventory.apps()) {
      if (current.has(name)) continue;
      const record = await inventory.load(name);
      if (!record) continue;
      this.#o.drift?.untrack(name);
      const actor = this.#tenants.forget(name);
      this.#apps.delete(name);
      if (record.prune) {
        const plan = await planApp({
          client: actor,
          app: name,
          revision: record.revision,
          desired: [],
          inventory: this.#ownership.prunable(name, record.objects),
          prune: true,
          signal: this.#abort.signal,
        });
        const pruned = await pruneObjects(actor, plan, { signal: this.#abort.signal });
        logger.info(
          { app: name, pruned: pruned.length },
          `app ${name} left Git: pruned ${pruned.length} objects`,
        );
      } else {
        logger.info(
          { app: name, objects: record.objects.length },
          `app ${name} left Git: its ${record.objects.length} objects stay (prune is off)`,
        );
      }
      await inventory.remove(name);
    }
  }
}

/** Why the last good checkout is in force: Git unreachable, or a head refused (unsigned). */
function sourceProblem(checkout: Checkout): string {
  const message = errorMessage(checkout.error);
  return checkout.error instanceof CommitSignatureError ? message : `Git unreachable: ${message}`;
}
