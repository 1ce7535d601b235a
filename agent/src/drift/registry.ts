import { Backoff, canonicalJson, type BackoffOptions, type Logger } from '@driftless/common';
import {
  refKey,
  refOf,
  refString,
  type AppSpec,
  type KubeObject,
  type ObjectRef,
} from '../model.ts';
import type {
  DriftChangeSource,
  DriftClosure,
  DriftFight,
  DriftReport,
  FieldDrift,
} from '../report/index.ts';
import { FightGuard, type FightOptions } from './fight.ts';
import { RhythmDetector, type Fight, type RhythmOptions } from './rhythm.ts';

/** The sync that last wrote an app's objects; heals stamp the same marks. */
export interface SyncMarks {
  /** Git revision of the sync. */
  revision: string;
  /** Trace id of the sync; drift reports link back to it. */
  traceId: string;
  /** W3C traceparent of the sync's root span; heal spans link to it. '' when unknown. */
  traceparent?: string;
}

/** The open drift of one object, from detection until it is healed or back in line. */
export interface OpenDrift {
  driftId: string;
  type: DriftReport['type'];
  fields: FieldDrift[];
  changedBy: string;
  detectedAt: number;
  /** When the change most likely happened; see {@link DriftReport.changedAt}. */
  changedAt?: number | undefined;
  changedAtSource?: DriftChangeSource | undefined;
  message: string;
  lastSyncTraceId: string;
  /** Set while another manager fights over some of the fields. */
  fight?: DriftFight | undefined;
  /** What was last reported, to report again only when it changes. */
  reported: string;
}

/** One watched object. */
export interface Tracked {
  key: string;
  ref: ObjectRef;
  app: string;
  desired: KubeObject;
  desiredJson: string;
  /** Grows when `desired` changes, so a check that read the old one is dropped. */
  version: number;
  /** When the first event not yet compared arrived: the change time of last resort. */
  eventAt?: number | undefined;
  /** The newest state the watch delivered. */
  lastSeen?: KubeObject;
  /** The object was deleted or left our label selector: read it before comparing. */
  needsGet: boolean;
  /** resourceVersion last found in line with Git; events at it need no check. */
  verifiedRv?: string | undefined;
  drift?: OpenDrift | undefined;
  /** How an episode that closes without a heal was most likely closed ('sync' after a new desired state). */
  closeHint?: DriftClosure | undefined;
  guard: FightGuard;
  /** Finds another manager's steady re-writes of the same fields. */
  rhythm: RhythmDetector;
  /** The fight found by `rhythm`: those fields are no longer healed. */
  fight?: Fight | undefined;
  /** The episode whose re-write was last fed to `rhythm` (each episode counts once). */
  rewriteCounted?: string | undefined;
  retry: Backoff;
  retryPending: boolean;
  /** An event arrived while the app was paused: check on resume. */
  dirty: boolean;
  /** Aborted when the object is no longer tracked, ending its timers. */
  abort: AbortController;
}

/** What the watcher knows of one app. */
export interface AppState {
  spec?: AppSpec;
  sync: SyncMarks;
  keys: Set<string>;
  paused: boolean;
  /** Grows on each pause, so a check that overlapped a sync is dropped. */
  epoch: number;
  heals: Set<Promise<void>>;
}

/** Open drift that closed without a check, and how. */
export interface Closed {
  t: Tracked;
  by: DriftClosure;
}

/** Options of {@link Registry}. */
export interface RegistryOptions {
  fight: FightOptions;
  rhythm: RhythmOptions;
  backoff: BackoffOptions;
  logger: Logger;
}

/**
 * A {@link Tracked} whose fight guard, rhythm detector, retry backoff and abort controller are
 * made when first used: most objects never drift, and those four are most of what the watcher
 * would otherwise keep per object (about 0.7 KiB each).
 */
class TrackedObject implements Tracked {
  version = 0;
  eventAt?: number | undefined;
  lastSeen?: KubeObject;
  needsGet: boolean;
  drift?: OpenDrift | undefined;
  closeHint?: DriftClosure | undefined;
  fight?: Fight | undefined;
  rewriteCounted?: string | undefined;
  retryPending = false;
  dirty = false;
  readonly #o: RegistryOptions;
  #guard: FightGuard | undefined;
  #rhythm: RhythmDetector | undefined;
  #retry: Backoff | undefined;
  #abort: AbortController | undefined;

  key: string;
  ref: ObjectRef;
  app: string;
  desired: KubeObject;
  desiredJson: string;
  verifiedRv: string | undefined;

  constructor(
    key: string,
    ref: ObjectRef,
    app: string,
    desired: KubeObject,
    desiredJson: string,
    verifiedRv: string | undefined,
    options: RegistryOptions,
  ) {
    this.key = key;
    this.ref = ref;
    this.app = app;
    this.desired = desired;
    this.desiredJson = desiredJson;
    this.verifiedRv = verifiedRv;
    this.needsGet = verifiedRv === undefined;
    this.#o = options;
  }

  get guard(): FightGuard {
    return (this.#guard ??= new FightGuard(this.#o.fight));
  }

  get rhythm(): RhythmDetector {
    return (this.#rhythm ??= new RhythmDetector(this.#o.rhythm));
  }

  get retry(): Backoff {
    return (this.#retry ??= new Backoff(this.#o.backoff));
  }

  get abort(): AbortController {
    return (this.#abort ??= new AbortController());
  }
}

/** `apiVersion kind`: the key of one watch loop. */
export function kindKey(ref: ObjectRef): string {
  return `${ref.apiVersion} ${ref.kind}`;
}

/**
 * Which objects are watched, for which app, against which desired state. It
 * only keeps the books: deciding, scheduling and reporting live elsewhere.
 */
export class Registry {
  readonly #o: RegistryOptions;
  readonly #apps = new Map<string, AppState>();
  readonly #tracked = new Map<string, Tracked>();
  /** refKey → desired JSON of run-once objects Kubernetes deleted by design: not tracked again while unchanged. */
  readonly #finished = new Map<string, string>();

  constructor(options: RegistryOptions) {
    this.#o = options;
  }

  /** The tracked object under `key` (a refKey). */
  get(key: string): Tracked | undefined {
    return this.#tracked.get(key);
  }

  /** Whether `t` is still the tracked object under its key. */
  current(t: Tracked): boolean {
    return this.#tracked.get(t.key) === t;
  }

  /** Every tracked object. */
  all(): IterableIterator<Tracked> {
    return this.#tracked.values();
  }

  /** The state of app `name`, when it has any. */
  app(name: string): AppState | undefined {
    return this.#apps.get(name);
  }

  /** The state of app `name`, created empty when new. */
  appState(name: string): AppState {
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

  /** Tracked objects of app `name`. */
  ofApp(name: string): Tracked[] {
    const state = this.#apps.get(name);
    if (!state) return [];
    return [...state.keys].flatMap((key) => {
      const t = this.#tracked.get(key);
      return t?.app === name ? [t] : [];
    });
  }

  /**
   * Replaces the objects of `app` (see {@link DriftWatcher.track}); returns
   * the objects that need a check now, and the open drift that the sync
   * closed (it wrote Git's state) or that left Git with its object.
   */
  replace(
    app: AppSpec,
    objects: KubeObject[],
    sync: SyncMarks,
    applied?: ReadonlyMap<string, string>,
  ): { check: Tracked[]; closed: Closed[] } {
    const state = this.appState(app.name);
    state.spec = app;
    state.sync = { ...sync };
    const keys = new Set<string>();
    const check: Tracked[] = [];
    const closed: Closed[] = [];
    for (const obj of objects) {
      const ref = refOf(obj);
      const key = refKey(ref);
      const desiredJson = canonicalJson(obj);
      const finished = this.#finished.get(key);
      // Kubernetes deleted it by design and Git still says the same: it stays done.
      if (finished === desiredJson && !applied?.has(key)) continue;
      if (finished !== undefined) this.#finished.delete(key);
      keys.add(key);
      const existing = this.#tracked.get(key);
      const appliedRv = applied?.get(key);
      if (existing && existing.app === app.name) {
        const changed = existing.desiredJson !== desiredJson;
        if (changed) {
          existing.desired = obj;
          existing.desiredJson = desiredJson;
          existing.ref = ref;
          existing.version++;
          existing.verifiedRv = appliedRv;
          // Git changed: whatever was fought over is Git's to say again.
          existing.rhythm.reset();
          existing.fight = undefined;
          existing.closeHint = 'sync';
        } else if (appliedRv) {
          existing.verifiedRv = appliedRv;
        }
        if (existing.drift && appliedRv && !existing.fight) {
          // The sync wrote Git's state over the drift: it is closed by the sync.
          closed.push({ t: existing, by: 'sync' });
        } else if (changed && (!appliedRv || existing.drift)) {
          check.push(existing);
        } else if (existing.drift && appliedRv) {
          check.push(existing);
        }
        continue;
      }
      if (existing) {
        this.#o.logger.warn(
          { object: refString(ref), app: app.name, previousApp: existing.app },
          `${refString(ref)} is tracked by apps ${existing.app} and ${app.name}: watching it for ${app.name}`,
        );
        this.forget(existing);
      }
      const t = new TrackedObject(key, ref, app.name, obj, desiredJson, appliedRv, this.#o);
      this.#tracked.set(key, t);
      if (!appliedRv) check.push(t);
    }
    for (const t of this.ofApp(app.name)) {
      if (keys.has(t.key)) continue;
      if (t.drift) closed.push({ t, by: 'left-git' });
      this.forget(t);
    }
    state.keys = keys;
    return { check, closed };
  }

  /** Forgets app `name` and its objects; returns their open drift, which left Git with them. */
  remove(name: string): Closed[] | undefined {
    const state = this.#apps.get(name);
    if (!state) return undefined;
    const closed: Closed[] = [];
    for (const t of this.ofApp(name)) {
      if (t.drift) closed.push({ t, by: 'left-git' });
      this.forget(t);
    }
    this.#apps.delete(name);
    return closed;
  }

  /**
   * Kubernetes deleted `t` by design (a finished run-once object): stop
   * watching it, and do not watch it again while Git declares it unchanged.
   */
  finished(t: Tracked): void {
    this.#finished.set(t.key, t.desiredJson);
    this.forget(t);
  }

  /** Stops watching one object and ends its timers. */
  forget(t: Tracked): void {
    t.abort.abort();
    if (this.#tracked.get(t.key) === t) this.#tracked.delete(t.key);
    this.#apps.get(t.app)?.keys.delete(t.key);
  }

  /** Ends the timers of every object (stopping). */
  abortAll(): void {
    for (const t of this.#tracked.values()) t.abort.abort();
  }

  /** kindKey → a reference of that kind, for every kind in use. */
  kindsInUse(): Map<string, ObjectRef> {
    const wanted = new Map<string, ObjectRef>();
    for (const t of this.#tracked.values()) wanted.set(kindKey(t.ref), t.ref);
    return wanted;
  }

  /** Objects with open drift, of app `name` or of every app. */
  driftCount(name?: string): number {
    let n = 0;
    for (const t of this.#tracked.values()) if (t.drift && (!name || t.app === name)) n++;
    return n;
  }
}
