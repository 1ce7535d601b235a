import type { Tracer } from '@opentelemetry/api';
import {
  Backoff,
  errorMessage,
  jittered,
  systemClock,
  type Clock,
  type Logger,
} from '@driftless/common';
import { type AppSpec, type ClusterConfig, type IgnoreRule, type KubeObject } from '../model.ts';
import { clusterCapabilities, TenantClients, type KubeClient } from '../kube/index.ts';
import { Ownership } from '../guard/index.ts';
import { render } from '../render/index.ts';
import { CommitSignatureError } from '../source/index.ts';
import type { InventoryStore } from '../inventory/index.ts';
import type {
  AppStatusReport,
  ApprovalBook,
  DriftReport,
  HealthState,
  Reporter,
  SyncReport,
} from '../report/index.ts';
import { DEFAULT_CONCURRENCY } from '../plan/index.ts';
import { syncApp, type RenderSettings, type SyncOutcomeDetail } from './sync-app.ts';
import { decideOutcome, describeOutcome, type AppOutcome } from './outcome.ts';
import { ConfigLoader } from './config-loader.ts';
import { GoneApps } from './gone-apps.ts';

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

/** The defaults of {@link AgentOptions}, in one place; durations in ms. */
export const AGENT_DEFAULTS = {
  /** Time between polls of Git (and re-plans of every app that is done). */
  pollIntervalMs: 60_000,
  /** The poll interval is spread by ±10 %, so agents and apps do not move in lockstep. */
  pollJitter: 0.1,
  /** Parallel API requests per app. */
  concurrency: DEFAULT_CONCURRENCY,
  /** Health poll interval while a sync waits. */
  healthPollMs: 1000,
  /** Health timeout of apps whose driftless.yaml entry sets none. */
  defaultHealthTimeoutMs: 5 * 60_000,
  /** Upper bound of one Git sync (a hung server must not stall reconciling). */
  fetchTimeoutMs: 5 * 60_000,
  /** First delay of an app's (or Git's) retry after a transient failure. */
  retryInitialMs: 1000,
  /** Cap of that backoff. */
  retryMaxMs: 5 * 60_000,
  /** When an app waits on a condition (health, a dependency), it is looked at again after this. */
  requeueMs: 30_000,
} as const;

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
  /** Random source in [0, 1) for jitter, injectable for tests. Default Math.random. */
  random?: () => number;
  /** See {@link AGENT_DEFAULTS}. */
  pollIntervalMs?: number;
  pollJitter?: number;
  concurrency?: number;
  healthPollMs?: number;
  defaultHealthTimeoutMs?: number;
  fetchTimeoutMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  requeueMs?: number;
  /** Render limits and chart sources of every sync. Default the render defaults. */
  render?: RenderSettings;
  /** The identities apps act with (serviceAccountName). Default: made from `client`. */
  tenants?: TenantClients;
}

/** {@link AgentOptions} with every default applied. */
export type ResolvedAgentOptions = AgentOptions & {
  -readonly [K in keyof typeof AGENT_DEFAULTS]: number;
} & {
  clock: Clock;
  random: () => number;
};

/** Applies {@link AGENT_DEFAULTS} to `options`; the one place defaults are set. */
export function resolveReconcileOptions(options: AgentOptions): ResolvedAgentOptions {
  const out = { ...AGENT_DEFAULTS, ...options } as ResolvedAgentOptions;
  for (const k of Object.keys(AGENT_DEFAULTS) as (keyof typeof AGENT_DEFAULTS)[])
    if (options[k] === undefined) out[k] = AGENT_DEFAULTS[k];
  out.clock = options.clock ?? systemClock;
  out.random = options.random ?? Math.random;
  return out;
}

/** What the agent knows about one app between syncs. */
interface AppState {
  spec: AppSpec;
  status?: AppStatusReport;
  /** Key of the last reported sync, to report each distinct outcome once. */
  lastReportKey?: string;
  /** The app's own backoff for transient failures. */
  backoff: Backoff;
  /** How its last sync ended and what comes next. */
  outcome?: AppOutcome;
  /** When it is due again (clock ms); undefined while it waits for a change. */
  dueAt?: number;
  /** Revision and spec of its last sync: a change of either makes it due at once. */
  attemptKey?: string;
  /** Health after its last successful sync, for apps that depend on it. */
  health: HealthState;
  /** Revision of its last successful sync. */
  syncedRevision?: string;
}

/** Lifecycle of the agent. */
export type AgentState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Reconciles one cluster from Git. Each pass syncs the checkout, reads
 * `driftless.yaml` (a broken one is reported and keeps every app at the last
 * good config and revision) and syncs every app that is due — apps whose
 * dependencies are not Healthy wait. Every app has its own outcome (see
 * {@link AppOutcome}) and its own schedule: one app's failure never holds up
 * another. Apps that left Git are released or pruned, each on its own.
 */
export class Agent {
  readonly #o: ResolvedAgentOptions;
  readonly #clock: Clock;
  readonly #apps = new Map<string, AppState>();
  readonly #sourceBackoff: Backoff;
  readonly #config: ConfigLoader;
  readonly #gone: GoneApps;
  #state: AgentState = 'idle';
  #wake: (() => void) | undefined;
  #pendingWake = false;
  #forceNext = true;
  #nextPollAt = 0;
  #appsRunnable = false;
  #loop: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #ticks = 0;
  readonly #tickListeners = new Set<() => void>();
  readonly #tenants: TenantClients;
  readonly #ownership: Ownership;

  constructor(options: AgentOptions) {
    this.#o = resolveReconcileOptions(options);
    this.#clock = this.#o.clock;
    this.#tenants =
      options.tenants ?? new TenantClients(options.client, options.inventory.namespace);
    this.#ownership = new Ownership({ inventory: options.inventory, scopes: options.client });
    this.#sourceBackoff = this.#newBackoff();
    this.#config = new ConfigLoader({
      clusterPath: this.#o.clusterPath,
      defaultHealthTimeoutMs: this.#o.defaultHealthTimeoutMs,
      reporter: this.#o.reporter,
      logger: this.#o.logger,
      clock: this.#clock,
      heldApps: () => this.#o.inventory.apps(),
    });
    this.#gone = new GoneApps({
      inventory: this.#o.inventory,
      logger: this.#o.logger,
      clock: this.#clock,
      newBackoff: () => this.#newBackoff(),
      prunable: (name, objects) => this.#ownership.prunable(name, objects),
      release: (name) => {
        this.#o.drift?.untrack(name);
        this.#apps.delete(name);
        return this.#tenants.forget(name);
      },
    });
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

  /** What comes next for `app` after its last sync (for tests, metrics and people). */
  outcomeOf(app: string): AppOutcome | undefined {
    return this.#apps.get(app)?.outcome;
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

  /** Asks for a pass of every app now (new commit hint, approval, sync-now). */
  refresh(): void {
    this.#forceNext = true;
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

  /**
   * Stops after the current step; in-flight requests are aborted. Interrupted
   * syncs are reported as interrupted (never as failed) and resume on start.
   */
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
      const force = this.#forceNext;
      this.#forceNext = false;
      let delay: number;
      try {
        await this.#pass(force);
        delay = Math.max(0, this.#nextDueAt() - this.#clock.now());
      } catch (err) {
        if (this.#state !== 'running') break;
        // Only the Git fetch can fail a pass (apps fail on their own): retry it with backoff.
        delay = this.#sourceBackoff.next();
        this.#forceNext = true;
        this.#o.logger.error(
          { err: errorMessage(err), retryInMs: delay },
          `reconcile pass failed: ${errorMessage(err)}`,
        );
      }
      this.#ticks++;
      for (const l of [...this.#tickListeners]) l();
      if (this.#state !== 'running') break;
      await this.#sleep(delay);
    }
  }

  /** The earliest of the next poll, an app's retry or requeue, and a gone app's retry. */
  #nextDueAt(): number {
    let at = this.#nextPollAt;
    // While driftless.yaml is broken no app runs, so only the next poll counts.
    if (!this.#appsRunnable) return at;
    for (const s of this.#apps.values()) if (s.dueAt !== undefined) at = Math.min(at, s.dueAt);
    const gone = this.#gone.nextDueAt();
    return gone === undefined ? at : Math.min(at, gone);
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
   * One pass over every app, due or not (what a sync-now does). Returns false
   * when Git was unreachable or some app failed with an error worth retrying.
   */
  async reconcileOnce(): Promise<boolean> {
    return this.#pass(true);
  }

  async #pass(force: boolean): Promise<boolean> {
    const { logger } = this.#o;
    const now = this.#clock.now();
    const polled = force || now >= this.#nextPollAt;
    const fetchStart = this.#clock.now();
    const checkout = await this.#o.source.sync(
      AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.fetchTimeoutMs)]),
    );
    const fetch = {
      startedAt: fetchStart,
      finishedAt: this.#clock.now(),
      fromCache: checkout.fromCache,
    };
    if (polled)
      this.#nextPollAt =
        this.#clock.now() + jittered(this.#o.pollIntervalMs, this.#o.pollJitter, this.#o.random);
    // A refused (unsigned) head is terminal: only a new commit changes it, so no sooner retry.
    let healthy = !checkout.fromCache || checkout.error instanceof CommitSignatureError;
    if (checkout.fromCache) {
      const delay = this.#sourceBackoff.next();
      this.#nextPollAt = Math.min(this.#nextPollAt, this.#clock.now() + delay);
      logger.warn(
        { revision: checkout.revision, err: errorMessage(checkout.error), retryInMs: delay },
        `${sourceProblem(checkout)}; reconciling the last good checkout ${checkout.revision.slice(0, 7)}`,
      );
    } else this.#sourceBackoff.reset();

    const config = await this.#config.load(checkout);
    this.#appsRunnable = !config.invalid && config.current !== undefined;
    if (config.invalid) {
      // Nothing runs at a commit whose config is broken: every app stays where it is.
      this.#noteStaleConfig(config.invalid);
      return false;
    }
    if (!config.current) return false;

    for (const app of config.current.config.apps) this.#o.drift?.configure?.(app);
    // Ownership: what every app declares and holds, so no two apps fight over an object.
    const signal = this.#abort.signal;
    await this.#ownership.begin(config.current.config.apps, checkout.revision, (app) =>
      render({
        root: checkout.dir,
        app,
        signal,
        ...this.#o.render,
        cluster: () => clusterCapabilities(this.#o.client, { signal }),
      }),
    );
    // Apps that left Git: prune them if they asked for it, else let go — each on its own.
    const gone = await this.#gone.remove(
      new Set(config.current.config.apps.map((a) => a.name)),
      this.#abort.signal,
      force,
    );
    if (!gone) healthy = false;
    const synced = await this.#syncApps(config.current.config, checkout, fetch, force);
    return healthy && synced;
  }

  /** Syncs every due app; an app starts once all it depends on is Healthy. */
  async #syncApps(
    config: ClusterConfig,
    checkout: Checkout,
    fetch: { startedAt: number; finishedAt: number; fromCache: boolean },
    force: boolean,
  ): Promise<boolean> {
    let healthy = true;
    const due = config.apps.filter(
      (app) => force || this.#isDue(this.#state_(app), checkout.revision),
    );
    // Every due app's result, made before any starts, so a dependency listed later is awaited.
    const results = new Map(due.map((app) => [app.name, Promise.withResolvers<HealthState>()]));
    const run = async (app: AppSpec): Promise<HealthState> => {
      const state = this.#state_(app);
      for (const dep of app.dependsOn) {
        const h = await (results.get(dep)?.promise ?? this.#apps.get(dep)?.health ?? 'Unknown');
        if (h !== 'Healthy') {
          this.#setStatus(app, {
            syncStatus: 'OutOfSync',
            health: state.status?.health ?? 'Unknown',
            message: `waiting for app ${dep} to be Healthy (it is ${h})`,
            revision: checkout.revision,
          });
          state.attemptKey = attemptKey(app, checkout.revision);
          this.#schedule(state, {
            kind: 'requeue',
            afterMs: jittered(this.#o.requeueMs, this.#o.pollJitter, this.#o.random),
          });
          healthy = false;
          return 'Unknown';
        }
      }
      const detail = await this.#syncOne(app, checkout, fetch);
      if (detail.report.outcome === 'failed' && detail.errorClass !== 'terminal') healthy = false;
      return state.health;
    };
    await Promise.all(
      due.map((app) =>
        run(app).then(
          (h) => results.get(app.name)?.resolve(h),
          (err: unknown) => {
            // A bug in one app's sync must not stop the others.
            results.get(app.name)?.resolve('Unknown');
            healthy = false;
            this.#o.logger.error(
              { app: app.name, err: errorMessage(err) },
              `app ${app.name}: ${errorMessage(err)}`,
            );
          },
        ),
      ),
    );
    return healthy;
  }

  /** Due: never synced, a new revision or spec, or its retry / requeue / poll time came. */
  #isDue(state: AppState, revision: string): boolean {
    if (state.attemptKey !== attemptKey(state.spec, revision)) return true;
    return state.dueAt !== undefined && this.#clock.now() >= state.dueAt;
  }

  #schedule(state: AppState, outcome: AppOutcome): void {
    state.outcome = outcome;
    state.dueAt =
      outcome.kind === 'done' || outcome.kind === 'retry' || outcome.kind === 'requeue'
        ? this.#clock.now() + outcome.afterMs
        : undefined;
  }

  async #syncOne(
    app: AppSpec,
    checkout: Checkout,
    fetch: { startedAt: number; finishedAt: number; fromCache: boolean },
  ): Promise<SyncOutcomeDetail> {
    const { drift } = this.#o;
    const state = this.#state_(app);
    const before = state.status;
    // A new commit, a new spec or a failed app shows Syncing from its first step; a routine
    // re-check of a synced app only once it has something to write.
    const isNew =
      state.syncedRevision !== checkout.revision ||
      state.attemptKey !== attemptKey(app, checkout.revision) ||
      before?.syncStatus !== 'Synced';
    let progressShown = false;
    const onStep = (step: string) => {
      if (!isNew && step !== 'apply' && step !== 'prune' && !progressShown) return;
      progressShown = true;
      this.#setStatus(app, {
        syncStatus: 'Syncing',
        health:
          step === 'apply' || step === 'health' ? 'Progressing' : (before?.health ?? 'Unknown'),
        revision: checkout.revision,
        message: `syncing ${checkout.revision.slice(0, 7)}: ${step}`,
      });
    };
    state.attemptKey = attemptKey(app, checkout.revision);
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
          onStep,
          onApplied: (a, desired, revision, traceId, applied) =>
            drift?.track(a, desired, { revision, traceId }, applied),
        },
        app,
        checkout,
      );
    } finally {
      drift?.resume(app.name);
    }
    const outcome = decideOutcome(
      {
        outcome: detail.report.outcome,
        errorClass: detail.errorClass,
        interrupted: detail.interrupted || this.#abort.signal.aborted,
      },
      {
        backoff: state.backoff,
        pollIntervalMs: this.#o.pollIntervalMs,
        pollJitter: this.#o.pollJitter,
        requeueMs: this.#o.requeueMs,
        random: this.#o.random,
      },
    );
    this.#schedule(state, outcome);
    if (outcome.kind === 'interrupted') {
      // Stopping is not failing: say nothing of the sync, and undo the Syncing shown.
      state.attemptKey = undefined;
      if (progressShown && before)
        this.#setStatus(app, {
          ...before,
          syncStatus: before.revision === checkout.revision ? before.syncStatus : 'OutOfSync',
          message: `sync of ${checkout.revision.slice(0, 7)} interrupted: the agent stopped; it resumes when the agent starts`,
        });
      return detail;
    }
    const r = detail.report;
    if (r.outcome === 'succeeded') {
      state.health = r.health;
      state.syncedRevision = r.revision;
    } else if (r.outcome === 'failed') state.health = 'Unknown';
    this.#reportSync(app, r);
    const pending =
      r.outcome === 'planned' || r.outcome === 'waiting-approval' || r.outcome === 'approval-stale';
    const changes = r.objects.filter((o) => o.action !== 'unchanged').length;
    const next = describeOutcome(outcome);
    const notes = [
      r.outcome === 'waiting-approval' &&
        `waiting for approval of plan ${r.planDigest.slice(0, 12)} (${changes} change(s)) at ${r.revision.slice(0, 7)}`,
      r.outcome === 'planned' &&
        `dry-run: ${changes} change(s) planned at ${r.revision.slice(0, 7)}`,
      r.error && (next ? `${r.error}; ${next}` : r.error),
      checkout.fromCache && sourceProblem(checkout),
    ].filter(Boolean);
    this.#setStatus(app, {
      revision: r.revision,
      syncStatus: r.outcome === 'succeeded' ? 'Synced' : pending ? 'OutOfSync' : 'Failed',
      health: r.outcome === 'succeeded' ? r.health : (before?.health ?? 'Unknown'),
      planDigest: r.planDigest,
      pendingPlan: pending ? r.objects.filter((o) => o.action !== 'unchanged') : [],
      message: notes.join('; '),
      lastSyncAt: r.outcome === 'succeeded' ? r.finishedAt : undefined,
    });
    return detail;
  }

  /** Every app keeps its state and says which config it runs while driftless.yaml is broken. */
  #noteStaleConfig(invalid: { revision: string; message: string; appliedRevision: string }): void {
    for (const state of this.#apps.values()) {
      if (!state.status) continue;
      this.#setStatus(state.spec, {
        ...state.status,
        message: `running the driftless.yaml of ${invalid.appliedRevision.slice(0, 7)}: the one at ${invalid.revision.slice(0, 7)} is invalid: ${invalid.message}`,
      });
    }
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
      s = { spec: app, backoff: this.#newBackoff(), health: 'Unknown' };
      this.#apps.set(app.name, s);
    }
    s.spec = app;
    return s;
  }

  #newBackoff(): Backoff {
    return new Backoff({
      initialMs: this.#o.retryInitialMs,
      maxMs: this.#o.retryMaxMs,
      random: this.#o.random,
    });
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
}

/** An app's revision and spec: a change of either is worth a new sync even after a terminal failure. */
function attemptKey(app: AppSpec, revision: string): string {
  return `${revision}|${JSON.stringify(app)}`;
}

/** Why the last good checkout is in force: Git unreachable, or a head refused (unsigned). */
function sourceProblem(checkout: Checkout): string {
  const message = errorMessage(checkout.error);
  return checkout.error instanceof CommitSignatureError ? message : `Git unreachable: ${message}`;
}
