import { TerminalError, WaitingError } from '@driftless/common';
import {
  groupOf,
  Marks,
  refKey,
  refOf,
  refString,
  type KubeObject,
  type ObjectRef,
} from '../model.ts';
import { KubeApiError, objectError, UnknownKindError, type KubeClient } from '../kube/index.ts';
import { diffValues, digestOf, type FieldDiff } from './diff.ts';
import { mapLimit } from './limit.ts';
import { hookFor, isHook, type HookEvent, type HookSpec } from './hooks.ts';
import { replaceRefusal, syncOptionsOf } from './sync-options.ts';
import { adoptableManagers, withoutAdoptedFields } from './adopt.ts';
import { foreignObjectIn } from './namespaces.ts';

/** What a sync does to one object. */
export type Action = 'create' | 'update' | 'delete' | 'unchanged';

/** One object of a plan. */
export interface PlannedObject {
  ref: ObjectRef;
  action: Action;
  /** The object as it will be applied (absent for deletes). */
  desired?: KubeObject;
  /** The object as it is now (absent for creates). */
  live?: KubeObject;
  /** Field-level changes: live → what the server would make of `desired`. */
  diff: FieldDiff[];
  /** Apply order: phase (CRDs, Namespaces, pre-hooks, cluster-scoped, namespaced, post-hooks), then wave. */
  phase: number;
  wave: number;
  /**
   * Planned from its manifest, not by a server dry-run: its kind's CRD is
   * created or changed by this same sync. The dry-run runs once the CRD is
   * Established, right before the object is applied.
   */
  provisional?: boolean;
  /** Deleted and created again: a change to an immutable field, with the Replace option. */
  replace?: boolean;
  /** Field managers whose fields this sync takes over (adoption), e.g. `kubectl-client-side-apply`. */
  adopt?: string[];
  /** A Helm hook this sync runs (see hooks.ts). */
  hook?: HookSpec;
  /**
   * Not written and not expected in the cluster: a run-once object that ran
   * and that Kubernetes removed by design, with its manifest unchanged.
   */
  ranOnce?: boolean;
  /** Why an object is kept as it is although it differs (create-only). */
  note?: string;
}

/** The difference between Git and the cluster for one app at one revision. */
export interface Plan {
  revision: string;
  objects: PlannedObject[];
  /** Stable SHA-256 of every change; an approval is bound to it. */
  digest: string;
  counts: Record<Action, number>;
  /** Objects in the inventory that are gone from Git but kept (prune off, protected, or not ours). */
  kept: { ref: ObjectRef; reason: string }[];
}

/** Apply phases, in order. */
export const Phase = {
  crd: 0,
  namespace: 1,
  preHook: 2,
  cluster: 3,
  namespaced: 4,
  postHook: 5,
} as const;

/** The phase of an object: CRDs, then Namespaces, then other cluster-scoped, then namespaced. */
export function phaseOf(obj: KubeObject): number {
  if (obj.kind === 'CustomResourceDefinition' && obj.apiVersion.startsWith('apiextensions.k8s.io/'))
    return Phase.crd;
  if (obj.kind === 'Namespace' && obj.apiVersion === 'v1') return Phase.namespace;
  return obj.metadata.namespace ? Phase.namespaced : Phase.cluster;
}

/** The sync wave of an object from its annotation; a terminal error when not an integer. */
export function waveOf(obj: KubeObject): number {
  const raw = obj.metadata.annotations?.[Marks.syncWave];
  if (raw === undefined) return 0;
  if (!/^-?\d+$/.test(raw.trim())) {
    throw new TerminalError(
      `${refString(refOf(obj))}: annotation ${Marks.syncWave} must be an integer, got "${raw}"`,
    );
  }
  return Number(raw);
}

/** Orders planned objects for apply: phase, then wave, then kind and name for stable output. */
export function applyOrder(a: PlannedObject, b: PlannedObject): number {
  return a.phase - b.phase || a.wave - b.wave || refKey(a.ref).localeCompare(refKey(b.ref));
}

/**
 * Fields the server sets or that only record bookkeeping; they never make an
 * object differ from Git. Our revision and trace annotations are here too, so
 * an unchanged object is not rewritten just to refresh them.
 */
export function comparable(obj: KubeObject): Record<string, unknown> {
  const { status: _status, metadata, ...rest } = obj;
  const {
    managedFields: _mf,
    resourceVersion: _rv,
    generation: _gen,
    uid: _uid,
    creationTimestamp: _ct,
    selfLink: _sl,
    ...meta
  } = metadata;
  const annotations = { ...(metadata.annotations ?? {}) };
  delete annotations[Marks.revision];
  delete annotations[Marks.traceId];
  if (Object.keys(annotations).length > 0) meta.annotations = annotations;
  else delete meta.annotations;
  return { ...rest, metadata: meta };
}

/** Options of {@link planApp}. */
export interface PlanOptions {
  client: KubeClient;
  /** App name, for ownership checks of prune candidates. */
  app: string;
  revision: string;
  /** Guarded objects, ownership labels already set. */
  desired: KubeObject[];
  /** What the app owned after its last sync. */
  inventory: ObjectRef[];
  /** Whether objects gone from Git are deleted. */
  prune: boolean;
  /** Which Helm hooks this sync runs. Default `none`. */
  hookEvent?: HookEvent;
  /**
   * Run-once objects that ran: refKey → digest of the manifest applied
   * ({@link manifestDigest}). Such an object, gone from the cluster with its
   * manifest unchanged, is not created again.
   */
  ranOnce?: ReadonlyMap<string, string>;
  /** The app's `replace`: replace objects on immutable-field changes. Default false. */
  replace?: boolean;
  /** Parallel requests. Default 8. */
  concurrency?: number;
  signal?: AbortSignal;
}

/** Whether the object carries our ownership marks for `app`. */
export function ownedBy(obj: KubeObject, app: string): boolean {
  const labels = obj.metadata.labels ?? {};
  return labels[Marks.managedBy] === Marks.managedByValue && labels[Marks.app] === app;
}

/**
 * Objects Kubernetes deletes by design once they did their work: Jobs with
 * `ttlSecondsAfterFinished`. Applied once per manifest; their absence later
 * is neither drift nor a reason to create them again.
 */
export function isRunOnce(obj: KubeObject): boolean {
  if (obj.kind !== 'Job' || groupOf(obj.apiVersion) !== 'batch') return false;
  return (
    typeof (obj['spec'] as { ttlSecondsAfterFinished?: unknown } | undefined)
      ?.ttlSecondsAfterFinished === 'number'
  );
}

/** Digest of what Git declares for an object (our sync marks left out). */
export function manifestDigest(obj: KubeObject): string {
  return digestOf(comparable(obj));
}

/**
 * A change to fields that cannot change after creation, without the Replace
 * option. Terminal: the same commit can never apply.
 */
export class ImmutableFieldError extends TerminalError {
  override name = 'ImmutableFieldError';
  readonly ref: ObjectRef;
  readonly fields: string[];
  constructor(ref: ObjectRef, fields: string[], refusal: string | undefined, cause: unknown) {
    const what = `${refString(ref)}: ${fields.join(', ')} ${fields.length === 1 ? 'is' : 'are'} immutable`;
    super(
      refusal
        ? `${what}; it is never replaced (${refusal}): change it by hand or give it a new name`
        : `${what}; to have it deleted and created again, annotate it ${Marks.syncOptions}: Replace=true (or set replace: true on the app)`,
      { cause },
    );
    this.ref = ref;
    this.fields = fields;
  }
}

/**
 * Plans one app: a server-side apply dry-run of every desired object against
 * the live cluster, and deletes for inventory objects no longer in Git that
 * carry our marks. Nothing is written.
 *
 * Objects that cannot be dry-run yet are planned from their manifest: those
 * in a Namespace this plan creates, and those whose kind a CRD of this plan
 * creates or changes (`provisional`: the apply dry-runs them once the CRD is
 * Established). Helm hooks due on `hookEvent` are planned as creates (they
 * are replaced); other hooks are left out. An immutable-field change fails
 * with {@link ImmutableFieldError} unless the object may be replaced.
 */
export async function planApp(options: PlanOptions): Promise<Plan> {
  const { client, desired, signal } = options;
  const concurrency = options.concurrency ?? 8;
  const hookEvent = options.hookEvent ?? 'none';
  const ordinary = desired.filter((o) => !isHook(o));
  const hooks = desired.flatMap((o) => {
    const hook = hookFor(o, hookEvent);
    return hook ? [{ obj: o, hook }] : [];
  });
  const creatingNamespaces = new Set(
    ordinary.filter((o) => phaseOf(o) === Phase.namespace).map((o) => o.metadata.name),
  );
  await checkNamespaces(
    [...ordinary, ...hooks.map((h) => h.obj)],
    creatingNamespaces,
    client,
    signal,
  );
  const crdKinds = new Map(
    ordinary
      .filter((o) => phaseOf(o) === Phase.crd)
      .map((o) => {
        const spec = o['spec'] as { group?: string; names?: { kind?: string } } | undefined;
        return [`${spec?.group ?? ''}/${spec?.names?.kind ?? ''}`, refKey(refOf(o))] as const;
      }),
  );
  const context: ObjectContext = {
    client,
    signal,
    creatingNamespaces,
    crdKinds,
    changingCrds: new Set(),
    ranOnce: options.ranOnce ?? new Map(),
    replace: options.replace ?? false,
  };

  // CRDs first: whether they change decides how objects of their kinds are planned.
  const crds = await mapLimit(
    ordinary.filter((o) => phaseOf(o) === Phase.crd),
    concurrency,
    (o) => planObject(o, context),
  );
  for (const c of crds) if (c.action !== 'unchanged') context.changingCrds.add(refKey(c.ref));
  const rest = await mapLimit(
    ordinary.filter((o) => phaseOf(o) !== Phase.crd),
    concurrency,
    (o) => planObject(o, context),
  );
  const hookPlans = hooks.map(({ obj, hook }): PlannedObject => ({
    ref: refOf(obj),
    action: 'create',
    desired: obj,
    diff: diffValues(undefined, comparable(obj)),
    phase: hook.phase === 'pre' ? Phase.preHook : Phase.postHook,
    wave: hook.weight,
    hook,
  }));

  const { deletes, kept } = await planDeletes(options, concurrency);
  const objects = [...crds, ...rest, ...hookPlans, ...deletes].sort(applyOrder);
  const counts: Record<Action, number> = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const o of objects) counts[o.action]++;
  const digest = digestOf(
    objects
      .filter((o) => o.action !== 'unchanged')
      .map((o) => ({
        key: refKey(o.ref),
        action: o.action,
        desired: o.desired ? comparable(o.desired) : null,
        ...(o.replace ? { replace: true } : {}),
        ...(o.hook ? { hook: o.hook.phase } : {}),
      })),
  );
  return { revision: options.revision, objects, digest, counts, kept };
}

/**
 * Namespaces that objects of the app need and that neither the render nor
 * the cluster has. Waiting: another app, or a person, may still create them.
 */
export class MissingNamespaceError extends WaitingError {
  override name = 'MissingNamespaceError';
  readonly namespaces: string[];
  constructor(namespaces: string[], example: ObjectRef) {
    super(
      `namespace${namespaces.length === 1 ? '' : 's'} ${namespaces.join(', ')} ${namespaces.length === 1 ? 'does' : 'do'} not exist (needed by ${refString(example)} and others of this app): add a Namespace object to the app, set createNamespace: true on it, or create it first`,
    );
    this.namespaces = namespaces;
  }
}

async function checkNamespaces(
  objects: KubeObject[],
  creating: ReadonlySet<string>,
  client: KubeClient,
  signal: AbortSignal | undefined,
): Promise<void> {
  const needed = new Map<string, ObjectRef>();
  for (const o of objects) {
    const ns = o.metadata.namespace;
    if (ns && !creating.has(ns) && !needed.has(ns)) needed.set(ns, refOf(o));
  }
  const missing: string[] = [];
  await mapLimit([...needed.keys()], 4, async (name) => {
    const ref = { apiVersion: 'v1', kind: 'Namespace', namespace: '', name };
    const live = await client.get(ref, signal).catch((err: unknown) => {
      throw objectError('plan', ref, err);
    });
    if (!live) missing.push(name);
  });
  if (missing.length > 0) {
    missing.sort();
    throw new MissingNamespaceError(missing, needed.get(missing[0] ?? '') as ObjectRef);
  }
}

/** What planning one object needs to know about the rest of the plan. */
interface ObjectContext {
  client: KubeClient;
  signal: AbortSignal | undefined;
  creatingNamespaces: ReadonlySet<string>;
  /** `group/kind` → refKey of the CRD in this render that defines it. */
  crdKinds: ReadonlyMap<string, string>;
  /** refKeys of CRDs this plan creates or changes. */
  changingCrds: Set<string>;
  ranOnce: ReadonlyMap<string, string>;
  replace: boolean;
}

async function planObject(obj: KubeObject, c: ObjectContext): Promise<PlannedObject> {
  const ref = refOf(obj);
  const options = syncOptionsOf(obj);
  const base = { ref, desired: obj, phase: phaseOf(obj), wave: waveOf(obj) };
  const definedBy = c.crdKinds.get(`${groupOf(obj.apiVersion)}/${obj.kind}`);
  const fromManifest = (live: KubeObject | undefined): PlannedObject => ({
    ...base,
    ...(live ? { live } : {}),
    action: live ? 'update' : 'create',
    diff: live ? declaredDiff(live, obj) : diffValues(undefined, comparable(obj)),
    provisional: true,
  });

  const served = await c.client.resource(obj.apiVersion, obj.kind).catch((err: unknown) => {
    throw objectError('plan', ref, err);
  });
  if (!served) {
    if (definedBy) return fromManifest(undefined);
    throw objectError(
      'plan',
      ref,
      new TerminalError(
        `unknown kind ${obj.kind} (${obj.apiVersion}): the cluster does not serve it and no CRD of this app defines it`,
      ),
    );
  }

  // Both requests at once: the plan step is two round trips per object otherwise.
  const [got, tried] = await Promise.allSettled([
    c.client.get(ref, c.signal),
    c.client.apply(obj, { fieldManager: Marks.fieldManager, dryRun: true, signal: c.signal }),
  ]);
  if (got.status === 'rejected') throw objectError('plan', ref, got.reason);
  const live = got.value;

  if (!live && isRunOnce(obj) && c.ranOnce.get(refKey(ref)) === manifestDigest(obj)) {
    return { ...base, action: 'unchanged', diff: [], ranOnce: true };
  }
  if (live && options.createOnly) {
    return { ...base, live, action: 'unchanged', diff: [], note: 'create-only: never updated' };
  }
  if (tried.status === 'rejected') {
    const err: unknown = tried.reason;
    if (!live && c.creatingNamespaces.has(obj.metadata.namespace ?? '') && isNotFound(err)) {
      return { ...base, action: 'create', diff: diffValues(undefined, comparable(obj)) };
    }
    // The dry-run checked the object against the CRD's schema before this change.
    if (definedBy && c.changingCrds.has(definedBy)) return fromManifest(live);
    const immutable = err instanceof KubeApiError ? err.immutableFields : [];
    if (live && immutable.length > 0) {
      const refusal = replaceRefusal(obj);
      if (refusal || !(options.replace || c.replace))
        throw new ImmutableFieldError(ref, immutable, refusal, err);
      return {
        ...base,
        live,
        action: 'update',
        replace: true,
        diff: [
          ...declaredDiff(live, obj),
          { path: '.metadata.uid', before: live.metadata['uid'], after: '(replaced)' },
        ],
      };
    }
    throw objectError('plan', ref, err);
  }
  const dry = tried.value;
  if (!live) return { ...base, action: 'create', diff: diffValues(undefined, comparable(dry)) };
  const adopt = adoptableManagers(live);
  const after = adopt.length > 0 ? withoutAdoptedFields(dry, live, obj) : dry;
  const diff = diffValues(comparable(live), comparable(after));
  if (adopt.length > 0) {
    diff.push({ path: '.metadata.managedFields', before: adopt, after: [Marks.fieldManager] });
  }
  return {
    ...base,
    live,
    action: diff.length === 0 ? 'unchanged' : 'update',
    diff,
    ...(adopt.length > 0 ? { adopt } : {}),
  };
}

function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 404;
}

/**
 * Field differences limited to what Git declares: for objects that cannot
 * be dry-run, so server defaults in `live` do not show up as removals.
 */
export function declaredDiff(live: KubeObject, desired: KubeObject): FieldDiff[] {
  const want = comparable(desired);
  return diffValues(project(comparable(live), want), want);
}

function project(live: unknown, shape: unknown): unknown {
  if (!isRecord(live) || !isRecord(shape)) return live;
  return Object.fromEntries(
    Object.keys(shape)
      .filter((k) => k in live)
      .map((k) => [k, project(live[k], shape[k])]),
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Deletes for inventory objects no longer desired: only when prune is on,
 * the object carries our marks for the app, is not protected (`Prune=false`,
 * `helm.sh/resource-policy: keep`), and — for a Namespace — holds nothing
 * the app does not own.
 */
async function planDeletes(
  options: PlanOptions,
  concurrency: number,
): Promise<{ deletes: PlannedObject[]; kept: Plan['kept'] }> {
  const { client, signal } = options;
  const desiredKeys = new Set(options.desired.map((o) => refKey(refOf(o))));
  const gone = options.inventory.filter((ref) => !desiredKeys.has(refKey(ref)));
  const kept: Plan['kept'] = [];
  const deletes: PlannedObject[] = [];
  await mapLimit(gone, concurrency, async (ref) => {
    let live: KubeObject | undefined;
    try {
      live = await client.get(ref, signal);
    } catch (err) {
      // A kind the server no longer serves has nothing left to delete.
      if (err instanceof UnknownKindError) return;
      throw objectError('plan prune of', ref, err);
    }
    if (!live) return;
    if (!options.prune) return void kept.push({ ref, reason: 'prune is off for this app' });
    if (!ownedBy(live, options.app)) {
      return void kept.push({ ref, reason: `not marked as owned by app ${options.app}` });
    }
    const protection = syncOptionsOf(live).keep;
    if (protection) {
      return void kept.push({
        ref,
        reason: `protected (${Marks.syncOptions}: Prune=false or ${Marks.helmResourcePolicy}: keep)`,
      });
    }
    if (ref.kind === 'Namespace' && groupOf(ref.apiVersion) === '') {
      const foreign = await foreignObjectIn(client, ref.name, options.app, signal);
      if (foreign) {
        return void kept.push({
          ref,
          reason: `it holds ${foreign}, which app ${options.app} does not own`,
        });
      }
    }
    const phase = phaseOf({ ...live, metadata: { ...live.metadata, namespace: ref.namespace } });
    deletes.push({ ref, action: 'delete', live, diff: [], phase, wave: 0 });
  });
  return { deletes, kept };
}
