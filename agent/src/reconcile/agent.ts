// Over 400 lines on purpose: the loop, the pass and the per-app sync share the agent's lifecycle and abort signal; options, app state and status live beside it.
/** The reconcile loop of one cluster: passes over Git, config and every app (see {@link Agent}). */
import { Backoff, errorMessage, jittered, type Clock } from '@driftless/common';
import type { AppSpec, ClusterConfig } from '../model.ts';
import { clusterCapabilities, TenantClients } from '../kube/index.ts';
import { Ownership } from '../guard/index.ts';
import { render, RenderInputs, type RenderOptions } from '../render/index.ts';
import type { RenderedObject } from '../model.ts';
import { CommitSignatureError } from '../source/index.ts';
import type {
  AppStatusReport,
  ConfigStatusReport,
  DriftReport,
  HealthState,
  Reporter,
} from '../report/index.ts';
import { syncApp, type SyncOutcomeDetail } from './sync-app.ts';
import { decideOutcome, type AppOutcome } from './outcome.ts';
import { ConfigLoader } from './config-loader.ts';
import { GoneApps } from './gone-apps.ts';
import {
  resolveReconcileOptions,
  type AgentOptions,
  type Checkout,
  type ResolvedAgentOptions,
} from './agent-options.ts';
import { AppBook } from './app-book.ts';
import { attemptKey, sourceProblem, statusAfterSync, type AppState } from './app-state.ts';
import { carriedReport, carriedStatus, carryBasis, carryRefusal } from './carry.ts';
import { SyncSlots } from './sync-slots.ts';

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
  readonly #apps: AppBook;
  readonly #sourceBackoff: Backoff;
  readonly #config: ConfigLoader;
  readonly #gone: GoneApps;
  readonly #slots: SyncSlots;
  #state: AgentState = 'idle';
  #wake: (() => void) | undefined;
  #pendingWake = false;
  #forceNext = true;
  /** The next pass plans every app (a sync-now, an approval, the first pass): none is carried. */
  #planAllNext = true;
  /** The commit the last refresh hint named, for the next pass's fetch (a hint only). */
  #hint: string | undefined;
  #nextPollAt = 0;
  #appsRunnable = false;
  /** What the last full pass planned at: a pass where none of it moved and no app is due is skipped. */
  #planned: { revision: string; apis: number } | undefined;
  #loop: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #ticks = 0;
  readonly #tickListeners = new Set<() => void>();
  readonly #tenants: TenantClients;
  readonly #ownership: Ownership;
  /** What each app's last render read, so an app a commit did not touch is not rendered again. */
  readonly #inputs = new RenderInputs();
  /** Each app's render-inputs key at this pass's checkout (undefined: none), for carrying. */
  readonly #passKeys = new Map<string, string | undefined>();
  /**
   * Renders the declare step made during this pass, each taken by the app's sync (once) so it
   * does not render the same commit again; emptied when the pass ends.
   */
  readonly #passRenders = new Map<string, { root: string; spec: string; out: RenderedObject[] }>();
  /** The last config status reported, re-sent with the pauses whenever they change. */
  #lastConfigStatus: ConfigStatusReport | undefined;

  constructor(options: AgentOptions) {
    this.#o = resolveReconcileOptions(options);
    this.#clock = this.#o.clock;
    this.#tenants =
      options.tenants ?? new TenantClients(options.client, options.inventory.namespace);
    this.#ownership = new Ownership({ inventory: options.inventory, scopes: options.client });
    this.#sourceBackoff = this.#newBackoff();
    this.#slots = new SyncSlots(this.#o.appConcurrency);
    this.#apps = new AppBook({
      reporter: this.#o.reporter,
      clock: this.#clock,
      newBackoff: () => this.#newBackoff(),
      driftCount: (app) => this.#o.drift?.driftCount(app) ?? 0,
      suspension: (app) => this.#o.suspensions?.forApp(app),
    });
    this.#config = new ConfigLoader({
      clusterPath: this.#o.clusterPath,
      defaultHealthTimeoutMs: this.#o.defaultHealthTimeoutMs,
      reporter: this.#configReporter(),
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
      undeclared: (name) => this.#ownership.undeclared(name),
      release: (name) => {
        this.#o.drift?.untrack(name);
        this.#apps.delete(name);
        this.#inputs.forget(name);
        return this.#tenants.forget(name);
      },
    });
    options.approvals.onApproval(() => this.refresh());
    options.suspensions?.onChange(() => this.#suspensionsChanged());
  }

  /** The reporter of config statuses: each carries the pauses in force and is kept to re-send. */
  #configReporter(): Reporter {
    const reporter = this.#o.reporter;
    return {
      appStatus: (r) => reporter.appStatus(r),
      syncResult: (r) => reporter.syncResult(r),
      drift: (r) => reporter.drift(r),
      configStatus: (r) => {
        this.#lastConfigStatus = r;
        reporter.configStatus?.({ ...r, suspensions: this.#o.suspensions?.all() ?? [] });
      },
    };
  }

  /**
   * A pause began or ended: say so in every app's status and the config status, look at open
   * drift again (held, or healed now), and run a pass (what the pause held back is applied).
   */
  #suspensionsChanged(): void {
    const last = this.#lastConfigStatus;
    if (last)
      this.#o.reporter.configStatus?.({
        ...last,
        suspensions: this.#o.suspensions?.all() ?? [],
      });
    for (const state of this.#apps.values()) {
      if (state.status) this.#apps.setStatus(state.spec, state.status);
      this.#o.drift?.recheck?.(state.spec.name);
    }
    this.refresh();
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

  /** The spec of `app` as the cluster's driftless.yaml last listed it; undefined when it does not. */
  appSpec(app: string): AppSpec | undefined {
    return this.#apps.get(app)?.spec;
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
    if (state?.status) this.#apps.setStatus(state.spec, state.status);
  }

  /** Starts the reconcile loop. */
  start(): void {
    if (this.#state !== 'idle') throw new Error(`agent cannot start: it is ${this.#state}`);
    this.#state = 'running';
    this.#loop = this.#run();
  }

  /**
   * Asks for a pass now. Without `revision` (approval, sync-now) every app is planned again;
   * with it (a hub's refresh hint of a new commit) the fetch starts early, Git still decides
   * what the head is, and apps whose sources the commit left alone are carried (carry.ts).
   */
  refresh(options: { revision?: string } = {}): void {
    if (options.revision) this.#hint = options.revision;
    else this.#planAllNext = true;
    this.#forceNext = true;
    this.#pendingWake = true;
    this.#wake?.();
  }

  /**
   * Wakes the loop for a pass that re-plans only if something moved (the
   * cluster's served APIs changed); unlike {@link refresh}, forces nothing.
   */
  nudge(): void {
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
      const planAll = this.#planAllNext;
      this.#forceNext = false;
      this.#planAllNext = false;
      let delay: number;
      try {
        await this.#pass(force, planAll);
        delay = Math.max(0, this.#nextDueAt() - this.#clock.now());
      } catch (err) {
        if (this.#state !== 'running') break;
        // Only the Git fetch can fail a pass (apps fail on their own): retry it with backoff.
        delay = this.#sourceBackoff.next();
        this.#forceNext = true;
        this.#planAllNext ||= planAll;
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
    return this.#pass(true, true);
  }

  /** `force`: look at every app even if nothing moved; `planAll`: and carry none forward. */
  async #pass(force: boolean, planAll: boolean): Promise<boolean> {
    const { logger } = this.#o;
    const now = this.#clock.now();
    const polled = force || now >= this.#nextPollAt;
    const fetchStart = this.#clock.now();
    const hint = this.#hint;
    this.#hint = undefined;
    const checkout = await this.#o.source.sync(
      AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.fetchTimeoutMs)]),
      hint ? { hint } : {},
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
    const configAt = this.#clock.now();
    this.#appsRunnable = !config.invalid && config.current !== undefined;
    if (config.invalid) {
      // Nothing runs at a commit whose config is broken: every app stays where it is.
      this.#apps.noteStaleConfig(config.invalid);
      return false;
    }
    if (!config.current) return false;

    this.#o.suspensions?.setGit(config.current.config.apps, this.#config.file);
    for (const app of config.current.config.apps) this.#o.drift?.configure?.(app);
    // Nothing moved — same commit, same served APIs, no app or gone app due: no render, no request.
    const apis = this.#o.servedApis?.generation ?? 0;
    const apisMoved = this.#planned !== undefined && this.#planned.apis !== apis;
    if (
      !force &&
      !apisMoved &&
      this.#planned?.revision === checkout.revision &&
      !this.#anythingDue(config.current.config, checkout.revision)
    ) {
      return healthy;
    }
    // A CRD or APIService came or went: every app renders again against what is served now.
    if (apisMoved) {
      force = true;
      planAll = true;
    }
    this.#planned = { revision: checkout.revision, apis };
    // Ownership: what every app declares and holds, so no two apps fight over an object.
    const signal = this.#abort.signal;
    this.#passRenders.clear();
    this.#passKeys.clear();
    await this.#ownership.begin(
      config.current.config.apps,
      checkout.revision,
      async (app) => {
        const out = await this.#render({
          root: checkout.dir,
          app,
          signal,
          ...this.#o.render,
          cluster: () =>
            clusterCapabilities(this.#o.client, {
              signal,
              generation: this.#o.servedApis?.generation,
            }),
        });
        // Only a render of files alone: a chart's may change once a dependency adds a CRD.
        if (this.#inputs.filesOnly(app))
          this.#passRenders.set(app.name, { root: checkout.dir, spec: JSON.stringify(app), out });
        return out;
      },
      async (app) => {
        const key = await this.#inputs.key(app, checkout.dir);
        this.#passKeys.set(app.name, key);
        return key;
      },
    );
    const ownershipAt = this.#clock.now();
    // Apps that left Git: prune them if they asked for it, else let go — each on its own.
    // A pause of the whole cluster holds that back too, and a pause of an app keeps it.
    if (!this.#o.suspensions?.forApp('')) {
      const kept = config.current.config.apps.map((a) => a.name);
      for (const s of this.#o.suspensions?.all() ?? []) kept.push(s.app);
      const gone = await this.#gone.remove(new Set(kept), this.#abort.signal, force);
      if (!gone) healthy = false;
    }
    logger.debug(
      {
        revision: checkout.revision,
        fetchStartedAt: fetch.startedAt,
        fetchedAt: fetch.finishedAt,
        configAt,
        ownershipAt,
        goneAt: this.#clock.now(),
      },
      'reconcile pass: apps start',
    );
    try {
      const synced = await this.#syncApps(config.current.config, checkout, fetch, planAll);
      return healthy && synced;
    } finally {
      this.#passRenders.clear();
    }
  }

  /** The sync's render: the declare step's of this pass when it made one, else a new one. */
  #syncRender = async (options: RenderOptions): Promise<RenderedObject[]> => {
    const made = this.#passRenders.get(options.app.name);
    this.#passRenders.delete(options.app.name);
    if (made && made.root === options.root && made.spec === JSON.stringify(options.app))
      return made.out;
    return this.#render(options);
  };

  /** Renders, and remembers what the render read (see render/inputs.ts). */
  #render = async (options: RenderOptions): Promise<RenderedObject[]> => {
    let inputs: string[] | undefined;
    const out = await render({ ...options, onInputs: (paths) => (inputs = paths) });
    this.#inputs.note(options.app, inputs);
    return out;
  };

  #anythingDue(config: ClusterConfig, revision: string): boolean {
    if (config.apps.some((app) => this.#apps.isDue(this.#apps.entry(app), revision))) return true;
    const gone = this.#gone.nextDueAt();
    return gone !== undefined && gone <= this.#clock.now();
  }

  /**
   * Syncs every due app; an app starts once all it depends on is Healthy. Apps the commit
   * left alone are carried forward (carry.ts); apps due because Git or their spec moved are
   * planned first, and the rest (retries, resyncs) start once those are past their plan.
   */
  async #syncApps(
    config: ClusterConfig,
    checkout: Checkout,
    fetch: { startedAt: number; finishedAt: number; fromCache: boolean },
    planAll: boolean,
  ): Promise<boolean> {
    let healthy = true;
    const due = config.apps.filter(
      (app) => planAll || this.#apps.isDue(this.#apps.entry(app), checkout.revision),
    );
    // Every due app's result, made before any starts, so a dependency listed later is awaited.
    const results = new Map(due.map((app) => [app.name, Promise.withResolvers<HealthState>()]));
    const toSync: AppSpec[] = [];
    const carried: (() => void)[] = [];
    for (const app of due) {
      const report = this.#carry(app, checkout.revision, planAll);
      if (report) {
        carried.push(report);
        results.get(app.name)?.resolve(this.#apps.entry(app).health);
      } else toSync.push(app);
    }
    // Apps whose inputs moved (or are not known) first; the others (a retry, a resync) wait
    // until every moved app is past its plan.
    const moved = new Set(
      toSync
        .filter((app) => {
          const key = this.#passKeys.get(app.name);
          return key === undefined || key !== this.#apps.entry(app).inputsKey;
        })
        .map((app) => app.name),
    );
    const unplanned = new Set(moved);
    const movedPlanned = Promise.withResolvers<void>();
    const planned = (name: string) => {
      if (unplanned.delete(name) && unplanned.size === 0) movedPlanned.resolve();
    };
    if (unplanned.size === 0) movedPlanned.resolve();
    const run = async (app: AppSpec): Promise<HealthState> => {
      const state = this.#apps.entry(app);
      if (!moved.has(app.name)) await movedPlanned.promise;
      // Waiting on a dependency must not hold up the apps that may be that dependency.
      else if (app.dependsOn.length > 0) planned(app.name);
      for (const dep of app.dependsOn) {
        const h = await (results.get(dep)?.promise ?? this.#apps.get(dep)?.health ?? 'Unknown');
        if (h !== 'Healthy') {
          this.#apps.setStatus(app, {
            syncStatus: 'OutOfSync',
            health: state.status?.health ?? 'Unknown',
            message: `waiting for app ${dep} to be Healthy (it is ${h})`,
            revision: checkout.revision,
          });
          state.attemptKey = attemptKey(app, checkout.revision);
          this.#apps.schedule(state, {
            kind: 'requeue',
            afterMs: jittered(this.#o.requeueMs, this.#o.pollJitter, this.#o.random),
          });
          healthy = false;
          return 'Unknown';
        }
      }
      const detail = await this.#syncOne(app, checkout, fetch, () => planned(app.name));
      if (detail.report.outcome === 'failed' && detail.errorClass !== 'terminal') healthy = false;
      return state.health;
    };
    // Carried apps report once the moved ones are past their plan: reports are not on its path.
    const reported = movedPlanned.promise.then(() => {
      for (const report of carried) report();
    });
    await Promise.all([
      reported,
      ...toSync.map((app) =>
        run(app).then(
          (h) => {
            planned(app.name);
            results.get(app.name)?.resolve(h);
          },
          (err: unknown) => {
            planned(app.name);
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
    ]);
    return healthy;
  }

  /**
   * Carries `app` to `revision` when the commit left its sources alone and it is in sync (see
   * carry.ts): its status and history say the new revision, unchanged since the one applied;
   * nothing is planned or written, and its resync stays when it was. Returns what reports it
   * (to call once the moved apps are past their plan); undefined: sync it.
   */
  #carry(app: AppSpec, revision: string, planAll: boolean): (() => void) | undefined {
    const state: AppState = this.#apps.entry(app);
    const { drift } = this.#o;
    const started = this.#clock.now();
    const refusal = carryRefusal(app, state, {
      revision,
      inputsKey: this.#passKeys.get(app.name),
      forced: planAll,
      now: started,
      driftCount: drift?.driftCount(app.name) ?? 0,
      unchecked: drift?.unchecked?.(app.name) ?? 0,
      fighting: (drift?.ignoreRules?.(app.name) ?? []).length > 0,
      suspended: this.#o.suspensions?.forApp(app.name) !== undefined,
      ownership: this.#ownership,
      ...(drift?.observed ? { observed: (ref) => drift.observed?.(ref) } : {}),
    });
    const basis = state.carry;
    const before = state.status;
    if (refusal !== undefined || !basis || !before) {
      if (state.carry)
        this.#o.logger.debug({ app: app.name, revision }, `carry ${app.name}: no: ${refusal}`);
      return undefined;
    }
    state.attemptKey = attemptKey(app, revision);
    state.syncedRevision = revision;
    const decided = this.#clock.now();
    return () => {
      this.#apps.reportSync(
        app,
        carriedReport(app, basis, revision, state.health, started, decided),
      );
      this.#apps.setStatus(app, carriedStatus(state.status ?? before, basis, revision));
    };
  }

  /** Syncs one app; `pastPlan` is called once it has planned (it applies, or stops). */
  async #syncOne(
    app: AppSpec,
    checkout: Checkout,
    fetch: { startedAt: number; finishedAt: number; fromCache: boolean },
    pastPlan: () => void,
  ): Promise<SyncOutcomeDetail> {
    const { drift } = this.#o;
    const state = this.#apps.entry(app);
    const before = state.status;
    // A new commit, a new spec or a failed app shows Syncing from its first step; a routine
    // re-check of a synced app, or of one that waits on an approval of this same attempt, only
    // once it has something to write (a waiting app must not flicker, nor lose its pending plan).
    const sameAttempt = state.attemptKey === attemptKey(app, checkout.revision);
    const isNew =
      !sameAttempt ||
      (before?.syncStatus !== 'OutOfSync' &&
        (state.syncedRevision !== checkout.revision || before?.syncStatus !== 'Synced'));
    let progressShown = false;
    const onStep = (step: string) => {
      if (step === 'apply' || step === 'prune' || step === 'health') pastPlan();
      if (!isNew && step !== 'apply' && step !== 'prune' && !progressShown) return;
      progressShown = true;
      this.#apps.setStatus(app, {
        syncStatus: 'Syncing',
        health:
          step === 'apply' || step === 'health' ? 'Progressing' : (before?.health ?? 'Unknown'),
        revision: checkout.revision,
        message: `syncing ${checkout.revision.slice(0, 7)}: ${step}`,
      });
    };
    state.attemptKey = attemptKey(app, checkout.revision);
    state.carry = undefined;
    const pauseAt = this.#clock.now();
    await drift?.pause(app.name);
    const syncAt = this.#clock.now();
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
          apisGeneration: () => this.#o.servedApis?.generation,
          observed: (ref) => drift?.observed?.(ref),
          heardAt: (ref) => drift?.heardAt?.(ref),
          slots: this.#slots,
          ...(this.#o.render ? { render: this.#o.render } : {}),
          renderer: this.#syncRender,
          fetch,
          signal: this.#abort.signal,
          ignoreRules: (name) => drift?.ignoreRules?.(name) ?? [],
          suspension: (name) => this.#o.suspensions?.forApp(name),
          onStep,
          onApplied: (a, desired, revision, traceId, applied, traceparent = '') =>
            drift?.track(a, desired, { revision, traceId, traceparent }, applied),
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
        // Without selfHeal, drift is reported and left alone (as Argo CD's automated sync without
        // self-heal): a periodic resync would put it back behind the person's back.
        resyncIntervalMs:
          app.sync === 'auto' && !app.selfHeal
            ? Number.POSITIVE_INFINITY
            : this.#o.resyncIntervalMs,
        pollJitter: this.#o.pollJitter,
        requeueMs: this.#o.requeueMs,
        random: this.#o.random,
      },
    );
    this.#apps.schedule(state, outcome);
    if (outcome.kind === 'interrupted') {
      // Stopping is not failing: say nothing of the sync, and undo the Syncing shown.
      state.attemptKey = undefined;
      if (progressShown && before)
        this.#apps.setStatus(app, {
          ...before,
          syncStatus: before.revision === checkout.revision ? before.syncStatus : 'OutOfSync',
          message: `sync of ${checkout.revision.slice(0, 7)} interrupted: the agent stopped; it resumes when the agent starts`,
        });
      return detail;
    }
    const r = detail.report;
    this.#o.logger.debug(
      { app: app.name, revision: r.revision, outcome: r.outcome, pauseAt, syncAt, steps: r.steps },
      `sync ${app.name}: ${r.outcome}`,
    );
    if (r.outcome === 'succeeded') {
      state.health = r.health;
      state.syncedRevision = r.revision;
    } else if (r.outcome === 'failed') state.health = 'Unknown';
    this.#apps.reportSync(app, r);
    this.#apps.setStatus(app, statusAfterSync(r, outcome, before, checkout));
    state.inputsKey = await this.#inputs.key(app, checkout.dir);
    if (r.outcome === 'succeeded')
      state.carry = carryBasis(r.revision, state.inputsKey, detail.carry);
    return detail;
  }

  #newBackoff(): Backoff {
    return new Backoff({
      initialMs: this.#o.retryInitialMs,
      maxMs: this.#o.retryMaxMs,
      random: this.#o.random,
    });
  }
}
