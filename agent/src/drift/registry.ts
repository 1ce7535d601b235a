import { Backoff, type BackoffOptions, type Logger } from '@driftless/common';
import {
  refKey,
  refOf,
  refString,
  type AppSpec,
  type KubeObject,
  type ObjectRef,
} from '../model.ts';
import { canonicalJson } from '../plan/index.ts';
import type { DriftReport, FieldDrift } from '../report/index.ts';
import { FightGuard, type FightOptions } from './fight.ts';

/** The sync that last wrote an app's objects; heals stamp the same marks. */
export interface SyncMarks {
  /** Git revision of the sync. */
  revision: string;
  /** Trace id of the sync; drift reports link back to it. */
  traceId: string;
}

/** The open drift of one object, from detection until it is healed or back in line. */
export interface OpenDrift {
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
export interface Tracked {
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
  verifiedRv?: string | undefined;
  drift?: OpenDrift | undefined;
  guard: FightGuard;
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

/** Options of {@link Registry}. */
export interface RegistryOptions {
  fight: FightOptions;
  backoff: BackoffOptions;
  logger: Logger;
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
   * the objects that need a check now.
   */
  replace(
    app: AppSpec,
    objects: KubeObject[],
    sync: SyncMarks,
    applied?: ReadonlyMap<string, string>,
  ): Tracked[] {
    const state = this.appState(app.name);
    state.spec = app;
    state.sync = { ...sync };
    const keys = new Set<string>();
    const toCheck: Tracked[] = [];
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
        if (!appliedRv || existing.drift) toCheck.push(existing);
        continue;
      }
      if (existing) {
        this.#o.logger.warn(
          { object: refString(ref), app: app.name, previousApp: existing.app },
          `${refString(ref)} is tracked by apps ${existing.app} and ${app.name}: watching it for ${app.name}`,
        );
        this.forget(existing);
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
        guard: new FightGuard(this.#o.fight),
        retry: new Backoff(this.#o.backoff),
        retryPending: false,
        dirty: false,
        abort: new AbortController(),
      };
      this.#tracked.set(key, t);
      if (!appliedRv) toCheck.push(t);
    }
    for (const key of state.keys) {
      const t = this.#tracked.get(key);
      if (!keys.has(key) && t?.app === app.name) this.forget(t);
    }
    state.keys = keys;
    return toCheck;
  }

  /** Forgets app `name` and its objects; false when it was not known. */
  remove(name: string): boolean {
    const state = this.#apps.get(name);
    if (!state) return false;
    for (const t of this.ofApp(name)) this.forget(t);
    this.#apps.delete(name);
    return true;
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
