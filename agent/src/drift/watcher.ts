import { errorMessage, isRetryable, type Logger } from '@driftless/common';
import { describeSuspension, type Suspension } from '../suspend/index.ts';
import {
  Marks,
  refKey,
  refOf,
  refString,
  type AppSpec,
  type IgnoreRule,
  type KubeObject,
  type ObjectRef,
} from '../model.ts';
import { objectError, type WatchEvent } from '../kube/index.ts';
import { deletedByDesign } from './by-design.ts';
import { compareWithGit, fightRules, type Verdict } from './compare.ts';
import { Episodes, HELD_PREFIX } from './episodes.ts';
import { DriftWatcherError } from './errors.ts';
import { Healer } from './healer.ts';
import { KindWatches } from './kinds.ts';
import { newCounters, type DriftMetrics } from './metrics.ts';
import {
  resolveDriftOptions,
  type DriftWatcherOptions,
  type ResolvedDriftOptions,
} from './options.ts';
import {
  kindKey,
  Registry,
  type AppState,
  type Closed,
  type SyncMarks,
  type Tracked,
} from './registry.ts';
import { DriftSender } from './reporting.ts';
import { CheckScheduler } from './scheduler.ts';
import { Tasks } from './tasks.ts';

/** Lifecycle of a watcher: it only moves forward. */
export type DriftWatcherState = 'running' | 'stopping' | 'stopped';

/**
 * Objects we watch carry this label; see {@link DriftWatcher} for why we watch
 * with it and how objects that lose it are still caught.
 */
export const MANAGED_SELECTOR = `${Marks.managedBy}=${Marks.managedByValue}`;

/**
 * Watches what the agent applied and reports drift: a change to a field Git
 * declares, or the deletion of a managed object. Per drifted field it reports
 * the path, the desired and the live value, and the manager that changed it
 * (from `metadata.managedFields`); with `selfHeal` it heals at once by
 * applying the desired object again, and stops healing for a while when
 * another controller keeps reverting the same object.
 *
 * How changes are seen: one list+watch loop per kind in use (not per
 * object), cluster-wide, restricted to objects labelled
 * `app.kubernetes.io/managed-by=driftless`. A selector keeps the agent's
 * memory and traffic in proportion to what it manages rather than to the
 * cluster (watching every ConfigMap or Secret of a big cluster is costly).
 * An object whose label someone removes leaves the selector; the API server
 * then sends a DELETED event, and every DELETED event of a tracked object is
 * answered with a read, which tells deletion from a removed label (drift on
 * `.metadata.labels`). A re-list also reads every tracked object missing
 * from it. While such an object lacks the label, further changes to it are
 * seen only on the next re-list or when the label returns.
 *
 * How drift is decided: a server-side apply dry-run of the desired object
 * (what the object would be after our apply) against the live object. Fields
 * Git does not declare, such as `spec.replicas` left to an autoscaler, keep
 * their live value in the dry-run, so they are never drift; our own writes
 * (syncs and heals) leave nothing to differ.
 *
 * Kubernetes does not record who deleted an object: deletions have an empty
 * `changedBy`.
 */
export class DriftWatcher {
  readonly #o: ResolvedDriftOptions;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #counters = newCounters();
  readonly #tasks: Tasks;
  readonly #registry: Registry;
  readonly #kinds: KindWatches;
  readonly #scheduler: CheckScheduler;
  readonly #episodes: Episodes;
  readonly #healer: Healer;
  #state: DriftWatcherState = 'running';
  #stopping: Promise<void> | undefined;

  constructor(options: DriftWatcherOptions) {
    const o = (this.#o = resolveDriftOptions(options));
    this.#log = o.logger;
    this.#tasks = new Tasks(o.logger);
    this.#registry = new Registry({
      fight: o.fight,
      rhythm: o.rhythm,
      backoff: o.backoff,
      logger: o.logger,
    });
    this.#kinds = new KindWatches({
      source: o.client,
      labelSelector: MANAGED_SELECTOR,
      clock: o.clock,
      logger: o.logger,
      backoff: o.backoff,
      watchTimeoutSeconds: o.watchTimeoutSeconds,
      tasks: this.#tasks,
      onList: (kind, items) => this.#onList(kind, items),
      onEvent: (event) => this.#onEvent(event),
      onRestart: (kind) => this.#onRestart(kind),
    });
    this.#scheduler = new CheckScheduler({
      clock: o.clock,
      debounceMs: o.debounceMs,
      concurrency: o.concurrency,
      registry: this.#registry,
      tasks: this.#tasks,
      signal: this.#abort.signal,
      check: (key) => this.#check(key),
    });
    const sender = new DriftSender(o.reporter, o.logger);
    this.#episodes = new Episodes({ newId: o.newId, sender, counters: this.#counters });
    this.#healer = new Healer({
      client: o.client,
      clock: o.clock,
      logger: o.logger,
      sender,
      episodes: this.#episodes,
      counters: this.#counters,
      scheduler: this.#scheduler,
    });
  }

  /**
   * The newest copy of a tracked object its watch delivered; null when it is
   * tracked and nothing changed it since it was tracked; undefined when it is
   * not tracked or must be read again (deleted, watch re-listing). Health
   * waits read it instead of asking the API server (reconcile/health-wait.ts).
   */
  observed(ref: ObjectRef): KubeObject | null | undefined {
    const t = this.#registry.get(refKey(ref));
    if (!t || t.needsGet) return undefined;
    return t.lastSeen ?? null;
  }

  /**
   * When the watch of a tracked object's kind last delivered anything (its list, an event of
   * any object of the kind, a bookmark); undefined when the object is not tracked, must be read
   * again, or its watch has not listed yet. One watch delivers in order, so {@link observed}'s
   * copy was the newest as of then: health waits read it without asking the API server.
   */
  heardAt(ref: ObjectRef): number | undefined {
    const t = this.#registry.get(refKey(ref));
    if (!t || t.needsGet) return undefined;
    return this.#kinds.heardAt(kindKey(t.ref));
  }

  /** Where the watcher is in its life. */
  get state(): DriftWatcherState {
    return this.#state;
  }

  /** A snapshot of the counters, for metrics. */
  get metrics(): DriftMetrics {
    return {
      ...this.#counters,
      watchedKinds: this.#kinds.size,
      drifted: this.#registry.driftCount(),
    };
  }

  /**
   * Sets the objects of `app` to watch after a successful sync, replacing the
   * previous set: `objects` as applied (ownership labels set, without the
   * revision and trace annotations), `sync` the revision and trace id that
   * heals stamp on them. Objects new or changed since the last call are
   * checked once; open drift of unchanged objects stays open. `applied` maps
   * refKey → the resourceVersion the sync's own apply returned: those objects
   * are known to match Git at that version, so they need no check until
   * something else changes them.
   */
  track(
    app: AppSpec,
    objects: KubeObject[],
    sync: SyncMarks,
    applied?: ReadonlyMap<string, string>,
  ): void {
    this.#assertRunning('track');
    const { check, closed } = this.#registry.replace(app, objects, sync, applied);
    this.#closeAll(closed);
    for (const t of check) this.#scheduler.request(t);
    this.#kinds.sync(this.#registry.kindsInUse());
  }

  /**
   * Takes an app's settings from `driftless.yaml` at once, without waiting
   * for its next successful sync: mode (`dry-run` never heals), `selfHeal`
   * and ignore rules. Objects with open drift are checked again, so drift
   * that may now be healed is, and drift on fields now ignored closes.
   */
  configure(app: AppSpec): void {
    const state = this.#registry.app(app.name);
    if (!state?.spec) return;
    const before = state.spec;
    state.spec = app;
    const rulesChanged =
      JSON.stringify(before.ignoreDifferences) !== JSON.stringify(app.ignoreDifferences);
    if (healAllowed(before) === healAllowed(app) && !rulesChanged) return;
    for (const t of this.#registry.ofApp(app.name)) {
      if (rulesChanged) {
        t.verifiedRv = undefined;
        t.closeHint = 'sync';
      } else if (!t.drift) continue;
      this.#scheduler.request(t);
    }
  }

  /**
   * Fields of `app`'s objects that another controller fights over, as ignore
   * rules: a sync leaves them out of its plan, or it would fight too.
   */
  ignoreRules(app: AppSpec | string): IgnoreRule[] {
    return this.#registry
      .ofApp(typeof app === 'string' ? app : app.name)
      .flatMap((t) => fightRules(t));
  }

  /** Whether drift of `app` is healed under its current settings (for metrics). */
  heals(app: string): boolean {
    const spec = this.#registry.app(app)?.spec;
    return spec ? healAllowed(spec) : false;
  }

  /** Stops watching every object of `app` (the app was removed from the cluster's config). */
  untrack(app: AppSpec | string): void {
    const name = typeof app === 'string' ? app : app.name;
    const closed = this.#registry.remove(name);
    if (!closed) return;
    this.#closeAll(closed);
    if (this.#state === 'running') this.#kinds.sync(this.#registry.kindsInUse());
  }

  /**
   * Stops checking and healing `app` while the reconciler applies it, so the
   * watcher never fights our own sync; events that arrive meanwhile are
   * checked on {@link resume}. Resolves once heals of the app already in
   * flight have finished: await it before applying, or a heal to the previous
   * revision could land after the sync's apply.
   */
  async pause(app: AppSpec | string): Promise<void> {
    const state = this.#registry.appState(typeof app === 'string' ? app : app.name);
    state.paused = true;
    state.epoch++;
    await Promise.all([...state.heals]);
  }

  /** Checks and heals `app` again, starting with objects that changed while it was paused. */
  resume(app: AppSpec | string): void {
    const name = typeof app === 'string' ? app : app.name;
    const state = this.#registry.app(name);
    if (!state?.paused) return;
    state.paused = false;
    this.#scheduler.resumeApp(name);
  }

  /**
   * Checks the open drift of `app` again: a pause began or ended, so it is now held (and says
   * so) or healed.
   */
  recheck(app: string): void {
    for (const t of this.#registry.ofApp(app)) if (t.drift) this.#scheduler.request(t);
  }

  /** Objects of `app` drifted from Git now and not healed (yet). */
  driftCount(app: AppSpec | string): number {
    return this.#registry.driftCount(typeof app === 'string' ? app : app.name);
  }

  /**
   * Objects of `app` the watch saw change (or must read again) whose check has not started
   * yet (waiting out the debounce, or held by a pause): until it has compared them with Git,
   * nothing says they are still in line. Open drift is not counted.
   */
  unchecked(app: string): number {
    let n = 0;
    for (const t of this.#registry.ofApp(app))
      if (!t.drift && (t.needsGet || t.dirty || t.eventAt !== undefined)) n++;
    return n;
  }

  /** Stops every watch, timer and check; resolves once all have ended. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#state = 'stopping';
    this.#abort.abort(new DriftWatcherError('drift watcher stopped'));
    this.#registry.abortAll();
    this.#kinds.stopAll();
    for (;;) {
      await this.#scheduler.idle();
      if (this.#tasks.size === 0) break;
      await this.#tasks.settled();
    }
    this.#state = 'stopped';
  }

  /** Closes drift that closed without a check (a sync wrote it, or it left Git). */
  #closeAll(closed: Closed[]): void {
    const now = this.#o.clock.now();
    for (const { t, by } of closed)
      if (by !== '' && by !== 'heal') this.#episodes.close(t, by, now);
  }

  #assertRunning(what: string): void {
    if (this.#state !== 'running')
      throw new DriftWatcherError(`${what}: the drift watcher is ${this.#state}`);
  }

  /**
   * The watch of a kind broke: its objects may change unseen until the re-list, so none has a
   * copy to vouch for ({@link observed} says read it again; the re-list's events clear that).
   */
  #onRestart(kind: string): void {
    this.#counters.watchRestarts++;
    for (const t of this.#registry.all()) if (kindKey(t.ref) === kind) t.needsGet = true;
  }

  /** A (re-)list of a kind: check what changed, and read what is missing from it. */
  #onList(kind: string, items: KubeObject[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(refKey(refOf(item)));
      this.#onEvent({ type: 'MODIFIED', object: item });
    }
    for (const t of this.#registry.all()) {
      if (kindKey(t.ref) !== kind || seen.has(t.key)) continue;
      // Deleted, or its label was removed while we were not watching.
      t.needsGet = true;
      this.#scheduler.request(t);
    }
  }

  #onEvent(event: WatchEvent): void {
    const t = this.#registry.get(refKey(refOf(event.object)));
    // The same object served under another API version of its group would be
    // compared with the wrong schema; the watch of the tracked version has it too.
    if (!t || event.object.apiVersion !== t.ref.apiVersion) return;
    if (event.type === 'DELETED') {
      t.needsGet = true; // deleted, or only left our label selector
    } else {
      t.needsGet = false;
      if (event.object.metadata['resourceVersion'] === t.verifiedRv && !t.drift) return;
    }
    t.lastSeen = event.object;
    t.eventAt ??= this.#o.clock.now();
    this.#scheduler.request(t);
  }

  /** One check of one object: compare with Git, report, heal. Never rejects. */
  async #check(key: string): Promise<void> {
    const t = this.#registry.get(key);
    const app = t && this.#registry.app(t.app);
    if (!t || !app?.spec) return;
    if (app.paused) return void (t.dirty = true);
    if (!t.needsGet && t.lastSeen && t.lastSeen.metadata['resourceVersion'] === t.verifiedRv)
      return void (t.eventAt = undefined); // the event of our own heal, seen before the heal's answer came back
    const { epoch, spec } = app;
    const version = t.version;
    await this.#scheduler.inSlot(async () => {
      // What this comparison sees includes every event so far; later ones start afresh.
      const eventAt = t.eventAt;
      t.eventAt = undefined;
      const verdict = await this.#compare(t, app);
      if (!verdict || !this.#registry.current(t)) return;
      if (app.paused || app.epoch !== epoch) return void (t.dirty = true);
      if (t.version !== version) return this.#scheduler.request(t);
      // The heal runs inside the check, so one object never has two heals in flight.
      await this.#conclude(t, app, spec, verdict, eventAt);
    });
  }

  /** Compares `t` with Git; on failure logs, schedules a retry and returns undefined. */
  async #compare(t: Tracked, app: AppState): Promise<Verdict | undefined> {
    try {
      this.#counters.checks++;
      const verdict = await compareWithGit(
        this.#o.client,
        t,
        app.sync,
        app.spec?.ignoreDifferences ?? [],
      );
      t.retry.reset();
      return verdict;
    } catch (err) {
      if (this.#abort.signal.aborted || t.abort.signal.aborted) return undefined;
      this.#counters.checkFailures++;
      const error = objectError('check drift of', t.ref, err);
      // Retried even when terminal: until a check passes, drift of this object
      // goes unseen, and a retry at the capped backoff costs one request.
      const delay = t.retry.next();
      this.#log[isRetryable(error) ? 'warn' : 'error'](
        { app: t.app, object: refString(t.ref), err: errorMessage(error), retryInMs: delay },
        `drift check of ${refString(t.ref)} failed`,
      );
      this.#scheduler.requestLater(t, delay);
      return undefined;
    }
  }

  /** Acts on a verdict: close, open or update the drift, and heal when the app asks for it. */
  async #conclude(
    t: Tracked,
    app: AppState,
    spec: AppSpec,
    verdict: Verdict,
    eventAt: number | undefined,
  ): Promise<void> {
    const now = this.#o.clock.now();
    if (verdict.kind === 'in-line') return this.#episodes.inLine(t, verdict.resourceVersion, now);
    if (verdict.kind === 'deleted' && (await deletedByDesign(this.#o.client, t, verdict.last))) {
      this.#episodes.close(t, 'deleted-by-kubernetes', now);
      this.#log.info(
        { app: t.app, object: refString(t.ref) },
        `${refString(t.ref)} was deleted by Kubernetes by design; it is not drift and is not re-created`,
      );
      this.#registry.finished(t);
      this.#kinds.sync(this.#registry.kindsInUse());
      return;
    }
    // Paused apps report drift with the pause that holds the heal back.
    const pause = healAllowed(app.spec ?? spec) ? this.#o.suspended(t.app) : undefined;
    const drift = this.#episodes.outOfLine(
      t,
      verdict,
      now,
      app.sync.traceId,
      eventAt,
      pause && heldMessage(pause),
    );
    if (verdict.kind === 'modified' && this.#healer.findFight(t, drift, verdict, now)) return;
    // Read the app's settings as they are now: configure() may have changed them meanwhile.
    const current = app.spec ?? spec;
    if (!healAllowed(current) || pause) return;
    await this.#healer.healOrWait(t, app, drift, verdict, current.ignoreDifferences);
  }
}

/** The message of drift a pause holds back from healing. */
function heldMessage(s: Suspension): string {
  return `${HELD_PREFIX}${describeSuspension(s)}`;
}

/** Whether drift of an app with these settings is healed: `selfHeal`, and never in `dry-run`. */
export function healAllowed(spec: AppSpec): boolean {
  return spec.selfHeal && spec.sync !== 'dry-run';
}
