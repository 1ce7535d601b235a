import { randomUUID } from 'node:crypto';
import {
  Backoff,
  errorMessage,
  formatDuration,
  isRetryable,
  systemClock,
  type BackoffOptions,
  type Clock,
  type Logger,
} from '@driftless/common';
import {
  Marks,
  refKey,
  refOf,
  refString,
  type AppSpec,
  type KubeObject,
  type ObjectRef,
} from '../model.ts';
import { objectError, type KubeClient, type WatchEvent } from '../kube/index.ts';
import { canonicalJson, comparable, diffValues, valueAt } from '../plan/index.ts';
import { withSyncMarks } from '../apply/index.ts';
import type { DriftReport, FieldDrift, Reporter } from '../report/index.ts';
import { KeyedDebouncer } from './debounce.ts';
import { DriftWatcherError } from './errors.ts';
import { FightGuard, type FightOptions } from './fight.ts';
import { KindWatch } from './kind-watch.ts';
import { changedByOf } from './managed-fields.ts';
import { Slots } from './slots.ts';

/** The Kubernetes calls the watcher makes; {@link KubeClient} has them, fakes implement them in tests. */
export type DriftClient = Pick<KubeClient, 'list' | 'watch' | 'get' | 'apply'>;

/** The sync that last wrote an app's objects; heals stamp the same marks. */
export interface SyncMarks {
  /** Git revision of the sync. */
  revision: string;
  /** Trace id of the sync; drift reports link back to it. */
  traceId: string;
}

/** Options of {@link DriftWatcher}. */
export interface DriftWatcherOptions {
  /** Lists and watches kinds, reads objects, and applies (dry-run to compare, for real to heal). */
  client: DriftClient;
  /** Where drift reports go. Its calls must not throw (see {@link Reporter}). */
  reporter: Reporter;
  logger: Logger;
  /** Time and sleeping; tests pass a fake. Default the system clock. */
  clock?: Clock;
  /** How long events of one object are gathered into one check. Default 50 ms. */
  debounceMs?: number;
  /** When healing one object counts as a fight with another controller. See {@link FightOptions}. */
  fight?: FightOptions;
  /** Spacing of watch restarts and of retries of failed checks and heals. Default 500 ms doubling up to 30 s. */
  backoff?: BackoffOptions;
  /** Checks and heals in flight at once, across all objects. Default 8. */
  concurrency?: number;
  /** Server-side end of each watch request; the loop resumes after it. Default 300. */
  watchTimeoutSeconds?: number;
  /** Makes drift ids. Default random UUIDs. */
  newId?: () => string;
}

/** Counters for metrics; they only grow, except `watchedKinds` and `drifted`. */
export interface DriftMetrics {
  /** Drift episodes found (an object out of line with Git, until it is back in line). */
  driftsDetected: number;
  /** Episodes closed by our heal. */
  driftsHealed: number;
  /** Episodes closed without a heal: reverted by someone, or fixed by a sync. */
  driftsResolved: number;
  /** Times healing of an object was paused because another manager kept reverting it. */
  fights: number;
  /** Heals that failed. */
  healFailures: number;
  /** Comparisons of an object with Git (one dry-run each). */
  checks: number;
  /** Comparisons that failed (and were retried when worth it). */
  checkFailures: number;
  /** Re-lists and restarts of watch loops. */
  watchRestarts: number;
  /** Kinds watched now. */
  watchedKinds: number;
  /** Objects drifted and not healed now, across apps. */
  drifted: number;
}

/** Lifecycle of a watcher: it only moves forward. */
export type DriftWatcherState = 'running' | 'stopping' | 'stopped';

/**
 * Objects we watch carry this label; see {@link DriftWatcher} for why we watch
 * with it and how objects that lose it are still caught.
 */
export const MANAGED_SELECTOR = `${Marks.managedBy}=${Marks.managedByValue}`;

/** The open drift of one object, from detection until it is healed or back in line. */
interface OpenDrift {
  driftId: string;
  type: DriftReport['type'];
  fields: FieldDrift[];
  changedBy: string;
  detectedAt: number;
  message: string;
  lastSyncTraceId: string;
  /** What was last reported, to report again only when it changes. */
  reported: string;
}

/** One watched object. */
interface Tracked {
  key: string;
  ref: ObjectRef;
  app: string;
  desired: KubeObject;
  desiredJson: string;
  /** Grows when `desired` changes, so a check that read the old one is dropped. */
  version: number;
  /** The newest state the watch delivered. */
  lastSeen?: KubeObject;
  /** The object was deleted or left our label selector: read it before comparing. */
  needsGet: boolean;
  /** resourceVersion last found in line with Git; events at it need no check. */
  verifiedRv?: string;
  drift?: OpenDrift;
  guard: FightGuard;
  retry: Backoff;
  retryPending: boolean;
  /** An event arrived while the app was paused: check on resume. */
  dirty: boolean;
  /** Aborted when the object is no longer tracked, ending its timers. */
  abort: AbortController;
}

interface AppState {
  spec?: AppSpec;
  sync: SyncMarks;
  keys: Set<string>;
  paused: boolean;
  /** Grows on each pause, so a check that overlapped a sync is dropped. */
  epoch: number;
  heals: Set<Promise<void>>;
}

type Verdict =
  | { kind: 'in-line'; resourceVersion?: string }
  | { kind: 'deleted'; last?: KubeObject }
  | { kind: 'modified'; live: KubeObject; fields: FieldDrift[]; changedBy: string };

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
  readonly #client: DriftClient;
  readonly #reporter: Reporter;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #fight: FightOptions;
  readonly #backoff: BackoffOptions;
  readonly #watchTimeoutSeconds: number;
  readonly #newId: () => string;
  readonly #abort = new AbortController();
  readonly #debouncer: KeyedDebouncer<string>;
  readonly #slots: Slots;
  readonly #apps = new Map<string, AppState>();
  readonly #tracked = new Map<string, Tracked>();
  /** `apiVersion kind` → its watch loop. */
  readonly #kinds = new Map<string, KindWatch>();
  /** Background work (timers, stopping loops) that stop() waits for. */
  readonly #tasks = new Set<Promise<void>>();
  readonly #metrics = {
    driftsDetected: 0,
    driftsHealed: 0,
    driftsResolved: 0,
    fights: 0,
    healFailures: 0,
    checks: 0,
    checkFailures: 0,
    watchRestarts: 0,
  };
  #state: DriftWatcherState = 'running';
  #stopping: Promise<void> | undefined;

  constructor(options: DriftWatcherOptions) {
    this.#client = options.client;
    this.#reporter = options.reporter;
    this.#log = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#fight = options.fight ?? {};
    this.#backoff = { initialMs: 500, maxMs: 30_000, ...options.backoff };
    this.#watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.#newId = options.newId ?? randomUUID;
    this.#slots = new Slots(options.concurrency ?? 8);
    this.#debouncer = new KeyedDebouncer({
      clock: this.#clock,
      delayMs: options.debounceMs ?? 50,
      signal: this.#abort.signal,
      run: (key) => this.#check(key),
    });
  }

  /** Where the watcher is in its life. */
  get state(): DriftWatcherState {
    return this.#state;
  }

  /** A snapshot of the counters, for metrics. */
  get metrics(): DriftMetrics {
    let drifted = 0;
    for (const t of this.#tracked.values()) if (t.drift) drifted++;
    return { ...this.#metrics, watchedKinds: this.#kinds.size, drifted };
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
    const state = this.#appState(app.name);
    state.spec = app;
    state.sync = { ...sync };
    const keys = new Set<string>();
    for (const obj of objects) {
      const ref = refOf(obj);
      const key = refKey(ref);
      keys.add(key);
      const desiredJson = canonicalJson(obj);
      const existing = this.#tracked.get(key);
      const appliedRv = applied?.get(key);
      if (existing && existing.app === app.name) {
        if (existing.desiredJson === desiredJson) {
          if (appliedRv) existing.verifiedRv = appliedRv;
          continue;
        }
        existing.desired = obj;
        existing.desiredJson = desiredJson;
        existing.ref = ref;
        existing.version++;
        existing.verifiedRv = appliedRv;
        // Open drift still needs a check to be closed; a fresh apply needs none.
        if (!appliedRv || existing.drift) this.#request(existing);
        continue;
      }
      if (existing) {
        this.#log.warn(
          { object: refString(ref), app: app.name, previousApp: existing.app },
          `${refString(ref)} is tracked by apps ${existing.app} and ${app.name}: watching it for ${app.name}`,
        );
        this.#forget(existing);
      }
      const t: Tracked = {
        key,
        ref,
        app: app.name,
        desired: obj,
        desiredJson,
        version: 0,
        needsGet: appliedRv === undefined,
        verifiedRv: appliedRv,
        guard: new FightGuard(this.#fight),
        retry: new Backoff(this.#backoff),
        retryPending: false,
        dirty: false,
        abort: new AbortController(),
      };
      this.#tracked.set(key, t);
      if (!appliedRv) this.#request(t);
    }
    for (const key of state.keys) {
      const t = this.#tracked.get(key);
      if (!keys.has(key) && t?.app === app.name) this.#forget(t);
    }
    state.keys = keys;
    this.#syncKinds();
  }

  /** Stops watching every object of `app` (the app was removed from the cluster's config). */
  untrack(app: AppSpec | string): void {
    const name = typeof app === 'string' ? app : app.name;
    const state = this.#apps.get(name);
    if (!state) return;
    for (const key of state.keys) {
      const t = this.#tracked.get(key);
      if (t?.app === name) this.#forget(t);
    }
    this.#apps.delete(name);
    if (this.#state === 'running') this.#syncKinds();
  }

  /**
   * Stops checking and healing `app` while the reconciler applies it, so the
   * watcher never fights our own sync; events that arrive meanwhile are
   * checked on {@link resume}. Resolves once heals of the app already in
   * flight have finished: await it before applying, or a heal to the previous
   * revision could land after the sync's apply.
   */
  async pause(app: AppSpec | string): Promise<void> {
    const state = this.#appState(typeof app === 'string' ? app : app.name);
    state.paused = true;
    state.epoch++;
    await Promise.all([...state.heals]);
  }

  /** Checks and heals `app` again, starting with objects that changed while it was paused. */
  resume(app: AppSpec | string): void {
    const name = typeof app === 'string' ? app : app.name;
    const state = this.#apps.get(name);
    if (!state?.paused) return;
    state.paused = false;
    for (const key of state.keys) {
      const t = this.#tracked.get(key);
      if (t?.app === name && t.dirty) {
        t.dirty = false;
        this.#request(t);
      }
    }
  }

  /** Objects of `app` drifted from Git now and not healed (yet). */
  driftCount(app: AppSpec | string): number {
    const name = typeof app === 'string' ? app : app.name;
    let n = 0;
    for (const t of this.#tracked.values()) if (t.app === name && t.drift) n++;
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
    for (const t of this.#tracked.values()) t.abort.abort();
    for (const kind of this.#kinds.values()) this.#spawn(kind.stop());
    this.#kinds.clear();
    await this.#idle();
    this.#state = 'stopped';
  }

  async #idle(): Promise<void> {
    for (;;) {
      await this.#debouncer.idle();
      if (this.#tasks.size === 0) return;
      await Promise.all([...this.#tasks]);
    }
  }

  #assertRunning(what: string): void {
    if (this.#state !== 'running')
      throw new DriftWatcherError(`${what}: the drift watcher is ${this.#state}`);
  }

  #appState(name: string): AppState {
    let state = this.#apps.get(name);
    if (!state) {
      state = {
        sync: { revision: '', traceId: '' },
        keys: new Set(),
        paused: false,
        epoch: 0,
        heals: new Set(),
      };
      this.#apps.set(name, state);
    }
    return state;
  }

  #forget(t: Tracked): void {
    t.abort.abort();
    if (this.#tracked.get(t.key) === t) this.#tracked.delete(t.key);
    this.#apps.get(t.app)?.keys.delete(t.key);
  }

  /** Runs background work that stop() waits for; it must not reject. */
  #spawn(work: Promise<void>): void {
    const task = work
      .catch((err: unknown) => {
        this.#log.error({ err: errorMessage(err) }, 'drift watcher: background work failed');
      })
      .finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  /** Starts watches of kinds now in use and stops those no app uses any more. */
  #syncKinds(): void {
    const wanted = new Map<string, ObjectRef>();
    for (const t of this.#tracked.values()) wanted.set(kindKey(t.ref), t.ref);
    for (const [key, watch] of this.#kinds) {
      if (wanted.has(key)) continue;
      this.#kinds.delete(key);
      this.#spawn(watch.stop());
    }
    for (const [key, ref] of wanted) {
      if (this.#kinds.has(key)) continue;
      const watch = new KindWatch({
        source: this.#client,
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        labelSelector: MANAGED_SELECTOR,
        clock: this.#clock,
        logger: this.#log,
        backoff: this.#backoff,
        timeoutSeconds: this.#watchTimeoutSeconds,
        onList: (items) => this.#onList(key, items),
        onEvent: (event) => this.#onEvent(event),
        onRestart: () => void this.#metrics.watchRestarts++,
      });
      this.#kinds.set(key, watch);
      watch.start();
    }
  }

  /** A (re-)list of a kind: check what changed, and read what is missing from it. */
  #onList(kind: string, items: KubeObject[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(refKey(refOf(item)));
      this.#onEvent({ type: 'MODIFIED', object: item });
    }
    for (const t of this.#tracked.values()) {
      if (kindKey(t.ref) !== kind || seen.has(t.key)) continue;
      // Deleted, or its label was removed while we were not watching.
      t.needsGet = true;
      this.#request(t);
    }
  }

  #onEvent(event: WatchEvent): void {
    const t = this.#tracked.get(refKey(refOf(event.object)));
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
    this.#request(t);
  }

  /** Asks for a check of `t`, now (debounced) or on resume when its app is paused. */
  #request(t: Tracked): void {
    if (this.#state !== 'running') return;
    if (this.#apps.get(t.app)?.paused) t.dirty = true;
    else this.#debouncer.trigger(t.key);
  }

  /** Asks for a check of `t` after `ms` (a failed heal or check, a paused fight). */
  #requestLater(t: Tracked, ms: number): void {
    if (t.retryPending || this.#state !== 'running') return;
    t.retryPending = true;
    this.#spawn(
      this.#clock.sleep(ms, t.abort.signal).then(
        () => {
          t.retryPending = false;
          if (this.#tracked.get(t.key) === t) this.#request(t);
        },
        () => undefined, // untracked or stopped while waiting
      ),
    );
  }

  /** One check of one object: compare with Git, report, heal. Never rejects. */
  async #check(key: string): Promise<void> {
    const t = this.#tracked.get(key);
    const app = t && this.#apps.get(t.app);
    if (!t || !app?.spec) return;
    if (app.paused) return void (t.dirty = true);
    if (!t.needsGet && t.lastSeen && t.lastSeen.metadata['resourceVersion'] === t.verifiedRv)
      return; // the event of our own heal, seen before the heal's answer came back
    const { epoch, spec } = app;
    const version = t.version;
    try {
      await this.#slots.acquire(this.#abort.signal);
    } catch {
      return; // stopping
    }
    try {
      let verdict: Verdict;
      try {
        this.#metrics.checks++;
        verdict = await this.#compare(t);
        t.retry.reset();
      } catch (err) {
        if (this.#abort.signal.aborted || t.abort.signal.aborted) return;
        this.#metrics.checkFailures++;
        const error = objectError('check drift of', t.ref, err);
        // Retried even when terminal: until a check passes, drift of this object
        // goes unseen, and a retry at the capped backoff costs one request.
        const delay = t.retry.next();
        this.#log[isRetryable(error) ? 'warn' : 'error'](
          { app: t.app, object: refString(t.ref), err: errorMessage(error), retryInMs: delay },
          `drift check of ${refString(t.ref)} failed`,
        );
        this.#requestLater(t, delay);
        return;
      }
      if (this.#tracked.get(key) !== t) return;
      if (app.paused || app.epoch !== epoch) return void (t.dirty = true);
      if (t.version !== version) return this.#request(t);
      // The heal runs inside the check, so one object never has two heals in flight.
      await this.#conclude(t, app, spec, verdict);
    } finally {
      this.#slots.release();
    }
  }

  /**
   * Compares the live object with what our apply would make of it. When the
   * dry-run answered for another resourceVersion than the one compared (the
   * object changed meanwhile), reads it again, so live and desired are always
   * from the same moment.
   */
  async #compare(t: Tracked): Promise<Verdict> {
    const signal = t.abort.signal;
    const sync = this.#apps.get(t.app)?.sync ?? { revision: '', traceId: '' };
    let live = t.needsGet || !t.lastSeen ? await this.#client.get(t.ref, signal) : t.lastSeen;
    for (let attempt = 1; ; attempt++) {
      if (!live) return { kind: 'deleted', ...(t.lastSeen ? { last: t.lastSeen } : {}) };
      t.needsGet = false;
      t.lastSeen = live;
      const dry = await this.#client.apply(withSyncMarks(t.desired, sync.revision, sync.traceId), {
        fieldManager: Marks.fieldManager,
        dryRun: true,
        force: true,
        signal,
      });
      const liveRv = live.metadata['resourceVersion'] as string | undefined;
      if (dry.metadata['resourceVersion'] === liveRv || attempt >= 3) {
        const liveView = comparable(live);
        const desiredView = comparable(dry);
        const diff = diffValues(liveView, desiredView);
        if (diff.length === 0)
          return { kind: 'in-line', ...(liveRv === undefined ? {} : { resourceVersion: liveRv }) };
        const fields = diff.map((d) => ({
          path: d.path,
          desired: valueAt(desiredView, d.path),
          live: valueAt(liveView, d.path),
        }));
        const changedBy = changedByOf(
          live,
          fields.map((f) => f.path),
        );
        return { kind: 'modified', live, fields, changedBy };
      }
      live = await this.#client.get(t.ref, signal);
    }
  }

  /** Acts on a verdict: close, open or update the drift, and heal when the app asks for it. */
  async #conclude(t: Tracked, app: AppState, spec: AppSpec, verdict: Verdict): Promise<void> {
    const now = this.#clock.now();
    if (verdict.kind === 'in-line') {
      t.verifiedRv = verdict.resourceVersion;
      if (t.drift) {
        this.#metrics.driftsResolved++;
        this.#send(t, t.drift, { healed: true, healedAt: now, message: 'back in line with Git' });
        t.drift = undefined;
      }
      return;
    }
    t.verifiedRv = undefined;
    const type = verdict.kind;
    const fields = verdict.kind === 'modified' ? verdict.fields : [];
    const changedBy = verdict.kind === 'modified' ? verdict.changedBy : '';
    const annotated = verdict.kind === 'modified' ? verdict.live : verdict.last;
    const lastSyncTraceId =
      annotated?.metadata.annotations?.[Marks.traceId] ?? app.sync.traceId ?? '';
    if (!t.drift || t.drift.type !== type) {
      if (t.drift) this.#metrics.driftsResolved++; // e.g. modified, then deleted: a new episode
      this.#metrics.driftsDetected++;
      t.drift = {
        driftId: this.#newId(),
        type,
        fields,
        changedBy,
        detectedAt: now,
        message: '',
        lastSyncTraceId,
        reported: '',
      };
    } else {
      t.drift.fields = fields;
      if (changedBy) t.drift.changedBy = changedBy;
      t.drift.lastSyncTraceId = lastSyncTraceId;
    }
    const drift = t.drift;
    const shape = canonicalJson({ type, fields });
    if (drift.reported !== shape) {
      drift.reported = shape;
      this.#send(t, drift, { healed: false, healedAt: 0 });
    }
    if (!spec.selfHeal) return;

    const decision = t.guard.decide(now);
    if (!decision.heal) {
      if (decision.newFight) {
        this.#metrics.fights++;
        const who = drift.changedBy ? `manager ${drift.changedBy}` : 'an unknown manager';
        const over = fields.length > 0 ? fields.map((f) => f.path).join(', ') : 'the object';
        drift.message = `fighting with ${who} over ${over}; healing paused for ${formatDuration(decision.pauseMs)}`;
        this.#log.warn({ app: t.app, object: refString(t.ref) }, drift.message);
        this.#send(t, drift, { healed: false, healedAt: 0 });
      }
      this.#requestLater(t, Math.max(0, decision.until - now));
      return;
    }
    const heal = this.#heal(t, app, drift).finally(() => app.heals.delete(heal));
    app.heals.add(heal);
    await heal;
  }

  /** Applies the desired object again (re-creating it when deleted) and reports the drift healed. */
  async #heal(t: Tracked, app: AppState, drift: OpenDrift): Promise<void> {
    const started = this.#clock.now();
    try {
      const healed = await this.#client.apply(
        withSyncMarks(t.desired, app.sync.revision, app.sync.traceId),
        { fieldManager: Marks.fieldManager, force: true, signal: t.abort.signal },
      );
      const now = this.#clock.now();
      t.guard.recordHeal(now);
      t.verifiedRv = healed.metadata['resourceVersion'] as string | undefined;
      this.#metrics.driftsHealed++;
      if (t.drift === drift) t.drift = undefined;
      this.#send(t, drift, { healed: true, healedAt: now });
      this.#log.info(
        {
          app: t.app,
          object: refString(t.ref),
          driftId: drift.driftId,
          healMs: now - started,
          sinceDetectedMs: now - drift.detectedAt,
        },
        `healed drift of ${refString(t.ref)}`,
      );
    } catch (err) {
      if (t.abort.signal.aborted) return;
      this.#metrics.healFailures++;
      const error = objectError('heal', t.ref, err);
      const retry = isRetryable(error);
      const delay = retry ? t.retry.next() : 0;
      drift.message = `heal failed: ${errorMessage(error)}${retry ? `; retrying in ${formatDuration(delay)}` : ''}`;
      this.#log.warn(
        { app: t.app, object: refString(t.ref), err: errorMessage(error) },
        drift.message,
      );
      this.#send(t, drift, { healed: false, healedAt: 0 });
      if (retry) this.#requestLater(t, delay);
    }
  }

  #send(
    t: Tracked,
    drift: OpenDrift,
    outcome: { healed: boolean; healedAt: number; message?: string },
  ): void {
    const report: DriftReport = {
      driftId: drift.driftId,
      app: t.app,
      ref: t.ref,
      type: drift.type,
      fields: drift.fields,
      changedBy: drift.changedBy,
      detectedAt: drift.detectedAt,
      healed: outcome.healed,
      healedAt: outcome.healedAt,
      message: outcome.message ?? drift.message,
      lastSyncTraceId: drift.lastSyncTraceId,
    };
    try {
      this.#reporter.drift(report);
    } catch (err) {
      // Reporters must not throw; if one does, the watcher keeps going.
      this.#log.error({ err: errorMessage(err) }, `reporting drift of ${refString(t.ref)} failed`);
    }
  }
}

function kindKey(ref: ObjectRef): string {
  return `${ref.apiVersion} ${ref.kind}`;
}
