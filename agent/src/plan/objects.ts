import { TerminalError } from '@driftless/common';
import { Marks, refKey, refOf, refString, type KubeObject, type ObjectRef } from '../model.ts';
import { diffValues, digestOf, type FieldDiff } from './diff.ts';
import type { HookSpec } from './hooks.ts';

/** What a sync does to one object. */
export type Action = 'create' | 'update' | 'delete' | 'unchanged';

/** One object of a plan. */
export interface PlannedObject {
  ref: ObjectRef;
  action: Action;
  /** The object as it will be applied (absent for deletes). */
  desired?: KubeObject;
  /**
   * What Git declares, when `desired` differs from it only because ignored
   * fields take their live values: the digest covers this, so an autoscaler
   * changing an ignored field does not make an approval stale.
   */
  declared?: KubeObject;
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
  delete annotations[Marks.traceparent];
  if (Object.keys(annotations).length > 0) meta.annotations = annotations;
  else delete meta.annotations;
  return { ...rest, metadata: meta };
}

/** Whether the object carries our ownership marks for `app`. */
export function ownedBy(obj: KubeObject, app: string): boolean {
  const labels = obj.metadata.labels ?? {};
  return labels[Marks.managedBy] === Marks.managedByValue && labels[Marks.app] === app;
}

// Which objects are run-once (Kubernetes deletes them by design once done) is
// said in one place, health/run-once.ts, which drift watching uses too.
export { isRunOnce } from '../health/index.ts';

/** Digest of what Git declares for an object (our sync marks left out). */
export function manifestDigest(obj: KubeObject): string {
  return digestOf(comparable(obj));
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
