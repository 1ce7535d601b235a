import { TerminalError } from '@driftless/common';
import { Marks, refKey, refOf, refString, type KubeObject, type ObjectRef } from '../model.ts';
import { KubeApiError, objectError, UnknownKindError, type KubeClient } from '../kube/index.ts';
import { diffValues, digestOf, type FieldDiff } from './diff.ts';
import { mapLimit } from './limit.ts';

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
  /** Apply order: phase (CRDs, Namespaces, cluster-scoped, namespaced), then wave. */
  phase: number;
  wave: number;
}

/** The difference between Git and the cluster for one app at one revision. */
export interface Plan {
  revision: string;
  objects: PlannedObject[];
  /** Stable SHA-256 of every change; an approval is bound to it. */
  digest: string;
  counts: Record<Action, number>;
  /** Objects in the inventory that are gone from Git but kept (prune off, or not ours). */
  kept: { ref: ObjectRef; reason: string }[];
}

/** Apply phases, in order. */
export const Phase = { crd: 0, namespace: 1, cluster: 2, namespaced: 3 } as const;

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
 * Plans one app: a server-side apply dry-run of every desired object against
 * the live cluster, and deletes for inventory objects no longer in Git that
 * carry our marks. Nothing is written. Objects whose namespace or CRD is
 * created by this same plan cannot be dry-run yet and are planned as creates.
 */
export async function planApp(options: PlanOptions): Promise<Plan> {
  const { client, desired, signal } = options;
  const concurrency = options.concurrency ?? 8;
  const creatingNamespaces = new Set(
    desired.filter((o) => phaseOf(o) === Phase.namespace).map((o) => o.metadata.name),
  );
  const creatingKinds = new Set(
    desired
      .filter((o) => phaseOf(o) === Phase.crd)
      .map((o) => {
        const spec = o['spec'] as { group?: string; names?: { kind?: string } } | undefined;
        return `${spec?.group ?? ''}/${spec?.names?.kind ?? ''}`;
      }),
  );
  const dependsOnThisPlan = (obj: KubeObject, err: unknown) =>
    err instanceof KubeApiError && err.statusCode === 404
      ? creatingNamespaces.has(obj.metadata.namespace ?? '') ||
        creatingKinds.has(`${obj.apiVersion.split('/')[0]}/${obj.kind}`)
      : err instanceof UnknownKindError &&
        creatingKinds.has(`${obj.apiVersion.split('/')[0]}/${obj.kind}`);

  const planned = await mapLimit(desired, concurrency, async (obj): Promise<PlannedObject> => {
    const ref = refOf(obj);
    const base = { ref, desired: obj, phase: phaseOf(obj), wave: waveOf(obj) };
    // Both requests at once: the plan step is two round trips per object otherwise.
    const [got, tried] = await Promise.allSettled([
      client.get(ref, signal),
      client.apply(obj, { fieldManager: Marks.fieldManager, dryRun: true, signal }),
    ]);
    if (got.status === 'rejected') throw objectError('plan', ref, got.reason);
    const live = got.value;
    if (tried.status === 'rejected') {
      if (live === undefined && dependsOnThisPlan(obj, tried.reason)) {
        return { ...base, action: 'create', diff: diffValues(undefined, comparable(obj)) };
      }
      throw objectError('plan', ref, tried.reason);
    }
    const dry = tried.value;
    if (live === undefined)
      return { ...base, action: 'create', diff: diffValues(undefined, comparable(dry)) };
    const diff = diffValues(comparable(live), comparable(dry));
    return { ...base, live, action: diff.length === 0 ? 'unchanged' : 'update', diff };
  });

  const desiredKeys = new Set(desired.map((o) => refKey(refOf(o))));
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
    const phase = phaseOf({ ...live, metadata: { ...live.metadata, namespace: ref.namespace } });
    deletes.push({ ref, action: 'delete', live, diff: [], phase, wave: 0 });
  });

  const objects = [...planned, ...deletes].sort(applyOrder);
  const counts: Record<Action, number> = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const o of objects) counts[o.action]++;
  const digest = digestOf(
    objects
      .filter((o) => o.action !== 'unchanged')
      .map((o) => ({
        key: refKey(o.ref),
        action: o.action,
        desired: o.desired ? comparable(o.desired) : null,
      })),
  );
  return { revision: options.revision, objects, digest, counts, kept };
}
