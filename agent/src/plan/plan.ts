import { TerminalError } from '@driftless/common';
import {
  BUILT_IN_GROUPS,
  groupOf,
  Marks,
  refKey,
  refOf,
  refString,
  type IgnoreRule,
  type KubeObject,
  type ObjectRef,
} from '../model.ts';
import { respectIgnored } from '../fields/index.ts';
import {
  judgeCustomResource,
  judgeServedSchema,
  KubeApiError,
  objectError,
  servedCrd,
  type KubeClient,
  type Refusal,
  type Verdict,
} from '../kube/index.ts';
import { diffValues, digestOf } from './diff.ts';
import { DEFAULT_CONCURRENCY, mapLimit } from './limit.ts';
import { liveSnapshot } from './live-snapshot.ts';
import { hookFor, isHook, type HookEvent } from './hooks.ts';
import { replaceRefusal, syncOptionsOf } from './sync-options.ts';
import { adoptableManagers, withoutAdoptedFields } from './adopt.ts';
import { checkNamespaces, scopeKey, writableScopes } from './namespaces.ts';
import { planDeletes } from './deletes.ts';
import {
  applyOrder,
  comparable,
  declaredDiff,
  isRunOnce,
  manifestDigest,
  Phase,
  phaseOf,
  waveOf,
  type Action,
  type Plan,
  type PlannedObject,
} from './objects.ts';

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
  /**
   * Set when prune must wait: why. Objects gone from Git are then kept (in `kept`, with this
   * reason, so they stay in the inventory) rather than deleted. Default: none.
   */
  holdPrune?: string;
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
  /** Fields left out of the diff and of what is applied to existing objects (see fields/). Default []. */
  ignore?: IgnoreRule[];
}

/**
 * A change to fields that cannot change after creation, without the Replace
 * option. Terminal: the same commit can never apply.
 */
export class ImmutableFieldError extends TerminalError {
  override name = 'ImmutableFieldError';
  readonly ref: ObjectRef;
  readonly fields: string[];
  constructor(ref: ObjectRef, fields: string[], refusal: string | undefined, cause: KubeApiError) {
    // The server's short answer is part of the message, so it is said once, not again as the cause.
    super(
      `${refString(ref)}: ${cause.message}; ${
        refusal
          ? `it is never replaced (${refusal}): change it by hand or give it a new name`
          : `to have it deleted and created again, annotate it ${Marks.syncOptions}: Replace=true (or set replace: true on the app)`
      }`,
      { cause },
    );
    this.ref = ref;
    this.fields = fields;
  }
}

/**
 * An object the API server's validation certainly refuses, found client-side
 * where the server cannot be asked before anything is written (see
 * {@link planApp}): the field and the rule it breaks. Terminal: the same
 * commit can never apply.
 */
export class InvalidObjectError extends TerminalError {
  override name = 'InvalidObjectError';
  /** The field, as `spec.template.spec.containers[0].name`. */
  readonly path: string;
  /** The rule it breaks, in words. */
  readonly rule: string;
  constructor(refusal: Refusal) {
    super(`${refusal.path}: ${refusal.rule}`);
    this.path = refusal.path;
    this.rule = refusal.rule;
  }
}

/**
 * Plans one app: a server-side apply dry-run of every desired object against
 * the live cluster, and deletes for inventory objects no longer in Git that
 * carry our marks. Nothing is written.
 *
 * Namespaces are planned first; objects in one that does not exist yet are
 * planned as creates from their manifest without being read, and checked
 * before anything is written. The server would refuse their dry-run for the
 * missing Namespace before its validation proper, so what that validation
 * certainly refuses is checked here (kube/openapi.ts: metadata, the rules of
 * common kinds, the served schema's types, enums and the required fields
 * validation enforces; a custom kind against its CRD), failing the plan with
 * {@link InvalidObjectError}. What passes is created without a request when
 * access reviews say the identity may create any object of the kind there and
 * the served schema certainly passes it; otherwise a dry-run, which the
 * server authorizes and checks against the schema before it refuses it for
 * the missing Namespace, judges it too. Objects whose kind a CRD of this plan
 * creates or changes are checked against that CRD's schema and planned from
 * their manifest (`provisional`: the apply dry-runs them once the CRD is
 * Established). Helm hooks due on `hookEvent` are planned as creates (they
 * are replaced); other hooks are left out. An immutable-field change fails
 * with {@link ImmutableFieldError} unless the object may be replaced.
 */
export async function planApp(options: PlanOptions): Promise<Plan> {
  const { client, desired, signal } = options;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
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
  const crdObjects = new Map(
    ordinary
      .filter((o) => phaseOf(o) === Phase.crd)
      .map((o) => {
        const spec = o['spec'] as { group?: string; names?: { kind?: string } } | undefined;
        return [`${spec?.group ?? ''}/${spec?.names?.kind ?? ''}`, o] as const;
      }),
  );
  const crdKinds = new Map([...crdObjects].map(([k, o]) => [k, refKey(refOf(o))] as const));
  const live = new Map<string, KubeObject | null>();
  const context: ObjectContext = {
    client,
    signal,
    live,
    creatingNamespaces,
    unborn: new Set(),
    mayApply: new Set(),
    crdKinds,
    crds: crdObjects,
    servedCrds: new Map(),
    changingCrds: new Set(),
    ranOnce: options.ranOnce ?? new Map(),
    replace: options.replace ?? false,
    ignore: options.ignore ?? [],
  };
  const snapshot = async (objects: KubeObject[]) => {
    // One LIST per kind and namespace holding several of the app's objects, not a GET each.
    for (const [k, v] of await liveSnapshot(client, objects, { concurrency, signal }))
      live.set(k, v);
  };
  const inCreating = (o: KubeObject) => creatingNamespaces.has(o.metadata.namespace ?? '');
  const namespaces = ordinary.filter((o) => phaseOf(o) === Phase.namespace);
  const others = ordinary.filter((o) => phaseOf(o) !== Phase.namespace);

  // Namespaces first (and, meanwhile, what lives elsewhere): objects in a Namespace that does
  // not exist yet can be neither read nor dry-run, so they cost no request at all.
  const [namespacePlans] = await Promise.all([
    (async () => {
      await snapshot(namespaces);
      return mapLimit(namespaces, concurrency, (o) => planObject(o, context));
    })(),
    snapshot(others.filter((o) => !inCreating(o))),
  ]);
  for (const p of namespacePlans) if (p.action === 'create') context.unborn.add(p.ref.name);
  const inUnborn = others.filter((o) => context.unborn.has(o.metadata.namespace ?? ''));
  context.mayApply = await writableScopes(client, inUnborn, concurrency, signal);
  await snapshot(
    others.filter((o) => inCreating(o) && !context.unborn.has(o.metadata.namespace ?? '')),
  );

  // CRDs next: whether they change decides how objects of their kinds are planned.
  const crds = await mapLimit(
    others.filter((o) => phaseOf(o) === Phase.crd),
    concurrency,
    (o) => planObject(o, context),
  );
  for (const c of crds) if (c.action !== 'unchanged') context.changingCrds.add(refKey(c.ref));
  const rest = [
    ...namespacePlans,
    ...(await mapLimit(
      others.filter((o) => phaseOf(o) !== Phase.crd),
      concurrency,
      (o) => planObject(o, context),
    )),
  ];
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
        desired: o.desired ? comparable(o.declared ?? o.desired) : null,
        ...(o.replace ? { replace: true } : {}),
        ...(o.hook ? { hook: o.hook.phase } : {}),
      })),
  );
  return { revision: options.revision, objects, digest, counts, kept };
}

/** What planning one object needs to know about the rest of the plan. */
interface ObjectContext {
  client: KubeClient;
  signal: AbortSignal | undefined;
  /** Live objects read ahead (see liveSnapshot); null: known not to exist. */
  live: Map<string, KubeObject | null>;
  creatingNamespaces: ReadonlySet<string>;
  /** Namespaces of this plan that do not exist yet: nothing in them can be read or dry-run. */
  unborn: Set<string>;
  /** Kinds in `unborn` Namespaces that the identity may create under any name ({@link scopeKey}). */
  mayApply: Set<string>;
  /** `group/kind` → refKey of the CRD in this render that defines it. */
  crdKinds: ReadonlyMap<string, string>;
  /** `group/kind` → the CRD in this render that defines it. */
  crds: ReadonlyMap<string, KubeObject>;
  /** `group/plural` → the cluster's CRD of a served custom kind, read once per plan. */
  servedCrds: Map<string, Promise<KubeObject | undefined>>;
  /** refKeys of CRDs this plan creates or changes. */
  changingCrds: Set<string>;
  ranOnce: ReadonlyMap<string, string>;
  replace: boolean;
  ignore: readonly IgnoreRule[];
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
  const unborn = c.unborn.has(obj.metadata.namespace ?? '');
  // Objects of a CRD of this render that the server cannot judge yet (it does not serve the
  // kind, or not with this schema, or their Namespace does not exist): checked against the
  // CRD's schema here, so a bad one fails the plan before the CRD or anything is written.
  const crd = definedBy && c.crds.get(`${groupOf(obj.apiVersion)}/${obj.kind}`);
  if (crd && definedBy && (!served || unborn || c.changingCrds.has(definedBy)))
    refuseIfInvalid(ref, judgeCustomResource(obj, crd));
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

  // In a Namespace this plan creates: the object cannot exist, so it is not read; it is
  // created as Git declares it. It is still checked, so a bad object is refused before
  // anything, the Namespace included, is written. The server's dry-run cannot do all of it:
  // it authorizes and checks the schema (field types, undeclared fields), then refuses the
  // missing Namespace (after a 50 ms wait in its namespace admission) before its validation
  // proper (names, required fields, the rules of each kind). So that validation is made
  // here, and the dry-run is skipped where the served schema certainly passes the object.
  if (unborn) {
    if (isRunOnce(obj) && c.ranOnce.get(refKey(ref)) === manifestDigest(obj))
      return { ...base, action: 'unchanged', diff: [], ranOnce: true };
    const created = {
      ...base,
      action: 'create' as const,
      diff: diffValues(undefined, comparable(obj)),
    };
    // The server authorizes a dry-run before it checks anything else: the schema check stands
    // in for it only where a rules or access review said the identity may create any object
    // of the kind.
    const mayApply = c.mayApply.has(
      scopeKey(served.group, served.plural, obj.metadata.namespace ?? ''),
    );
    // What the server's validation would refuse once the Namespace exists: the metadata, the
    // rules of common kinds, the schema's enums and required fields; for a custom kind, its CRD.
    const verdict = definedBy ? undefined : await judgeUnborn(obj, served.group, served.plural, c);
    if (verdict) refuseIfInvalid(ref, verdict);
    if (!definedBy && mayApply && verdict?.verdict === 'passes') return created;
    try {
      await c.client.apply(obj, {
        fieldManager: Marks.fieldManager,
        dryRun: true,
        signal: c.signal,
      });
    } catch (err) {
      // The CRD this plan changes defines its schema: the apply dry-runs it once Established.
      if (definedBy && c.changingCrds.has(definedBy)) return fromManifest(undefined);
      if (!isNotFound(err)) throw objectError('plan', ref, err);
    }
    return created;
  }

  // Both requests at once: the plan step is two round trips per object otherwise.
  const known = c.live.get(refKey(ref));
  const [got, tried] = await Promise.allSettled([
    known === undefined ? c.client.get(ref, c.signal) : Promise.resolve(known ?? undefined),
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
    if (live && immutable.length > 0 && err instanceof KubeApiError) {
      const refusal = replaceRefusal(obj);
      if (refusal || !(options.replace || c.replace))
        throw new ImmutableFieldError(ref, immutable, refusal, err);
      await checkReplacement(obj, c);
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
  if (!live) return { ...base, action: 'create', diff: diffValues(undefined, comparable(obj)) };
  const adopt = adoptableManagers(live);
  const after = adopt.length > 0 ? withoutAdoptedFields(dry, live, obj) : dry;
  // Ignored fields: left out of the diff, and applied with their live values.
  const kept = respectIgnored({
    desired: obj,
    live,
    diff: diffValues(comparable(live), comparable(after)),
    rules: c.ignore,
  });
  const diff = kept.diff;
  if (adopt.length > 0) {
    diff.push({ path: '.metadata.managedFields', before: adopt, after: [Marks.fieldManager] });
  }
  return {
    ...base,
    desired: kept.desired,
    ...(kept.desired === obj ? {} : { declared: obj }),
    live,
    action: diff.length === 0 ? 'unchanged' : 'update',
    diff,
    ...(adopt.length > 0 ? { adopt } : {}),
  };
}

/** Fails the plan with {@link InvalidObjectError} when `verdict` refuses the object. */
function refuseIfInvalid(ref: ObjectRef, verdict: Verdict): void {
  if (verdict.verdict === 'refused')
    throw objectError('plan', ref, new InvalidObjectError(verdict.refusal));
}

/**
 * The client-side verdict on an object in a Namespace that does not exist yet:
 * a built-in kind against the schema the server serves and the rules of its
 * kind, a custom kind against its CRD in the cluster (the server's dry-run
 * still runs for it: only that authorizes it).
 */
async function judgeUnborn(
  obj: KubeObject,
  group: string,
  plural: string,
  c: ObjectContext,
): Promise<Verdict> {
  if (BUILT_IN_GROUPS.has(group)) return judgeServedSchema(c.client, obj);
  const key = `${group}/${plural}`;
  let crd = c.servedCrds.get(key);
  if (!crd) {
    crd = servedCrd(c.client, group, plural, c.signal);
    c.servedCrds.set(key, crd);
  }
  const found = await crd;
  return found ? judgeCustomResource(obj, found) : { verdict: 'unsure' };
}

/**
 * Checks that the object Git declares would be created once the old one is
 * deleted: a dry-run create validates and admits it, and answers 409
 * AlreadyExists when it passes (the old one is still there). So a replace
 * never deletes an object whose successor the server would refuse.
 */
async function checkReplacement(obj: KubeObject, c: ObjectContext): Promise<void> {
  try {
    await c.client.create(obj, {
      fieldManager: Marks.fieldManager,
      dryRun: true,
      signal: c.signal,
    });
  } catch (err) {
    if (err instanceof KubeApiError && err.statusCode === 409) return;
    throw objectError('plan replacement of', refOf(obj), err);
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 404;
}
