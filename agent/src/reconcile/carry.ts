/**
 * Carry-forward: a new commit that leaves an app's sources alone moves the app to the new
 * revision without planning or applying it again (as Argo CD's
 * `argocd.argoproj.io/manifest-generate-paths` lets an app take a new revision without
 * regenerating). An app is carried only when its render would come out the same (the same
 * spec and the same digest of every file its last render read, see render/inputs.ts; charts
 * and remote resources have no digest and are never carried), nothing else its plan depends
 * on moved (served APIs, who owns its objects, a fight, a sync-now), and it is Synced and
 * Healthy with no open drift: its desired state is identical and the cluster holds it.
 *
 * Helm hooks run once per change of the rendered output (plan/hooks.ts), so a commit that
 * does not change the render runs none, carried or planned: carrying skips no hook.
 */
import { randomUUID } from 'node:crypto';
import { refOf, type AppSpec, type KubeObject, type ObjectRef } from '../model.ts';
import { isHook, syncOptionsOf, type Plan } from '../plan/index.ts';
import { healthOf, isRunOnce } from '../health/index.ts';
import type { OwnershipView } from '../guard/index.ts';
import type { AppStatusReport, SyncReport } from '../report/index.ts';
import { attemptKey, type AppState, type StatusPatch } from './app-state.ts';

/** What an app's last successful sync leaves for a later commit to carry it forward. */
export interface CarryBasis {
  /** The revision whose sync planned (and applied) what the cluster holds. */
  appliedRevision: string;
  /** The render-inputs key of that sync (spec and input digest); see RenderInputs.key. */
  inputsKey: string;
  /** Every object the sync declared (the Namespace it creates included). */
  refs: ObjectRef[];
  /** The objects whose health the app's status shows (no hooks, no run-once objects). */
  watched: ObjectRef[];
  /** The plan's digest then, the digest still in force. */
  planDigest: string;
}

/** What a sync keeps of its desired objects and plan for {@link carryBasis}: no objects. */
export type CarrySeed = Omit<CarryBasis, 'appliedRevision' | 'inputsKey'>;

/**
 * What a sync that got as far as its plan keeps for a later carry, or undefined when a later
 * commit must plan the app again whatever it changes: it kept objects another app declares
 * (their prune depends on the other apps), it holds create-only objects (their deletion is no
 * drift the watches see), or it left its Namespace to another app. Taken right after the plan,
 * so the sync need not hold its objects and plan until it ends.
 */
export function carrySeed(
  app: AppSpec,
  desired: readonly KubeObject[],
  plan: Pick<Plan, 'kept' | 'digest'>,
): CarrySeed | undefined {
  if (plan.kept.length > 0) return undefined;
  if (desired.some((o) => syncOptionsOf(o).createOnly)) return undefined;
  if (
    app.createNamespace &&
    app.namespace &&
    !desired.some((o) => o.kind === 'Namespace' && o.metadata.name === app.namespace)
  )
    return undefined;
  return {
    refs: desired.map(refOf),
    watched: desired.filter((o) => !isHook(o) && !isRunOnce(o)).map(refOf),
    planDigest: plan.digest,
  };
}

/**
 * The basis a successful sync leaves (its {@link carrySeed} at the revision it applied), or
 * undefined when a later commit must plan the app again whatever it changes: its render has no
 * input key, or its seed says so.
 */
export function carryBasis(
  revision: string,
  inputsKey: string | undefined,
  seed: CarrySeed | undefined,
): CarryBasis | undefined {
  if (inputsKey === undefined || !seed) return undefined;
  return { appliedRevision: revision, inputsKey, ...seed };
}

/** What {@link carryRefusal} reads besides the app's state. */
export interface CarryContext {
  /** The revision the pass is at. */
  revision: string;
  /** The app's render-inputs key at `revision`; undefined when it has none. */
  inputsKey: string | undefined;
  /** Every app is planned this pass (sync-now, approval, a served-API change, the first pass). */
  forced: boolean;
  now: number;
  /** Open drifts of the app. */
  driftCount: number;
  /** Objects of the app the watches saw change that no drift check has compared yet. Default 0. */
  unchecked?: number;
  /** Fields another controller fights over on the app's objects (ignore rules). */
  fighting: boolean;
  /** The app is paused. */
  suspended: boolean;
  ownership: OwnershipView;
  /**
   * The newest copy of a watched object (see DriftTracker.observed): null when none came
   * since the sync judged it, undefined when it is not watched. Default: nothing watched.
   */
  observed?: (ref: ObjectRef) => KubeObject | null | undefined;
}

/**
 * Why `state` cannot be carried to `c.revision`, in words for the debug log; undefined when
 * it can. The app must be Synced and Healthy at the revision it last reached, due only
 * because the commit moved (not for a retry or its periodic resync), with the same spec and
 * inputs key as at its last plan, no open drift or fight, and every object it declares still
 * its own.
 */
export function carryRefusal(app: AppSpec, state: AppState, c: CarryContext): string | undefined {
  const basis = state.carry;
  const status = state.status;
  if (c.forced) return 'every app is planned this pass';
  if (!basis) return 'no carryable sync before';
  if (!status || status.syncStatus !== 'Synced' || status.health !== 'Healthy')
    return `it is ${status?.syncStatus ?? 'unknown'} and ${status?.health ?? 'Unknown'}`;
  if (status.revision === c.revision) return 'already at the revision';
  if (state.syncedRevision !== status.revision) return 'its last sync did not reach its revision';
  if (state.attemptKey !== attemptKey(app, status.revision)) return 'its spec changed';
  if (state.dueAt !== undefined && c.now >= state.dueAt) return 'its resync or retry is due';
  if (c.inputsKey === undefined || c.inputsKey !== basis.inputsKey) return 'its inputs changed';
  if (c.driftCount > 0) return `${c.driftCount} open drift(s)`;
  if ((c.unchecked ?? 0) > 0) return `${c.unchecked} change(s) not compared with Git yet`;
  if (c.fighting) return 'another controller fights over its fields';
  if (c.suspended) return 'it is paused';
  if (status.pendingPlan.length > 0) return 'a plan is pending';
  for (const ref of basis.refs)
    if (c.ownership.ownerOf(app.name, ref)) return `another app now owns ${ref.kind} ${ref.name}`;
  // Healthy now, as the watches see it: no request, and no health the app only had then.
  for (const ref of basis.watched) {
    const seen = c.observed?.(ref);
    if (seen === undefined) return `${ref.kind} ${ref.name} is not watched`;
    if (seen && healthOf(seen, app.health).status !== 'Healthy')
      return `${ref.kind} ${ref.name} is not Healthy now`;
  }
  return undefined;
}

/** The status of an app carried from its last sync's revision to `revision`. */
export function carriedStatus(
  before: AppStatusReport,
  basis: CarryBasis,
  revision: string,
): StatusPatch {
  const since = basis.appliedRevision.slice(0, 7);
  return {
    ...before,
    revision,
    syncStatus: 'Synced',
    pendingPlan: [],
    planDigest: basis.planDigest,
    message: `sources unchanged since ${since}: not planned again at ${revision.slice(0, 7)}; the cluster holds what ${since} applied`,
  };
}

/**
 * The history record of a carry: the app reached `revision` with nothing planned or
 * applied — no objects, one `carry` step — so `driftless wait --revision` finds the app
 * reached it, and the history shows no write.
 */
export function carriedReport(
  app: AppSpec,
  basis: CarryBasis,
  revision: string,
  health: SyncReport['health'],
  startedAt: number,
  finishedAt: number,
): SyncReport {
  return {
    syncId: randomUUID(),
    app: app.name,
    revision,
    outcome: 'succeeded',
    error: '',
    retryable: false,
    planDigest: basis.planDigest,
    objects: [],
    steps: [{ name: CARRY_STEP, durationMs: finishedAt - startedAt }],
    traceId: '',
    spanId: '',
    startedAt,
    finishedAt,
    health,
    approvalId: '',
    carriedFrom: basis.appliedRevision,
  };
}

/** The one step of a carried app's history record. */
export const CARRY_STEP = 'carry';
