import { DriftlessError, systemClock, WaitingError, type Clock } from '@driftless/common';
import { Marks, refString, type KubeObject, type ObjectRef } from '../model.ts';
import { objectError, type KubeClient } from '../kube/index.ts';
import { mapLimit, Phase, type Plan, type PlannedObject } from '../plan/index.ts';

/** The outcome of applying or deleting one object. */
export interface ObjectResult {
  ref: ObjectRef;
  action: PlannedObject['action'];
  /** Set when the object failed; names the object and the server's reason. */
  error?: string;
  /** The object's resourceVersion right after our apply (for drift watching). */
  resourceVersion?: string;
}

/**
 * Raised when objects failed to apply or delete; `results` has every object's
 * outcome. Its cause is an AggregateError of the objects' errors, which the
 * classifier in common reads (a 503 is transient, a 422 terminal).
 */
export class ApplyError extends DriftlessError {
  override name = 'ApplyError';
  readonly results: ObjectResult[];
  constructor(message: string, results: ObjectResult[], cause?: unknown) {
    super(message, { cause });
    this.results = results;
  }
}

/** The failed results of one step as an ApplyError whose cause holds each object's error. */
function stepError(results: ObjectResult[], failed: { result: ObjectResult; err: Error }[]) {
  return new ApplyError(
    failed.map((f) => f.result.error).join('; '),
    results,
    new AggregateError(failed.map((f) => f.err)),
  );
}

/** Options of {@link applyPlan}. */
export interface ApplyOptions {
  client: KubeClient;
  plan: Plan;
  /** Written into every applied object's annotations. */
  revision: string;
  traceId: string;
  /** Parallel requests within one step. Default 8. */
  concurrency?: number;
  /** How long to wait for a CRD to be Established. Default 60 s. */
  crdTimeoutMs?: number;
  /**
   * Called after each wave of namespaced objects when a later wave follows;
   * resolves once the wave is healthy (rejects on timeout).
   */
  waitForWave?: (objects: PlannedObject[]) => Promise<void>;
  clock?: Clock;
  signal?: AbortSignal;
  /** Called with each object right after it was written. */
  onApplied?: (result: ObjectResult) => void;
}

/** The object as sent: Git's fields plus our revision and trace annotations. */
export function withSyncMarks(obj: KubeObject, revision: string, traceId: string): KubeObject {
  const annotations: Record<string, string> = {
    ...(obj.metadata.annotations ?? {}),
    [Marks.revision]: revision,
  };
  if (traceId) annotations[Marks.traceId] = traceId;
  return { ...obj, metadata: { ...obj.metadata, annotations } };
}

/**
 * Applies the creates and updates of a plan with server-side apply (field
 * manager `driftless`, taking ownership of conflicting fields), step by step:
 * phase (CRDs, Namespaces, cluster-scoped, namespaced), then wave. CRDs must
 * be Established before the next step. A failing step stops the sync: later
 * steps are not applied, and the error lists every failed object.
 */
export async function applyPlan(options: ApplyOptions): Promise<ObjectResult[]> {
  const { client, plan, signal } = options;
  const results: ObjectResult[] = [];
  const writes = plan.objects.filter((o) => o.action === 'create' || o.action === 'update');
  const steps = groupSteps(writes);
  const errors = new Map<ObjectRef, Error>();
  for (const [i, step] of steps.entries()) {
    const outcomes = await mapLimit(
      step,
      options.concurrency ?? 8,
      async (o): Promise<ObjectResult> => {
        try {
          const out = await client.apply(
            withSyncMarks(o.desired as KubeObject, options.revision, options.traceId),
            {
              fieldManager: Marks.fieldManager,
              force: true,
              signal,
            },
          );
          const rv = out.metadata['resourceVersion'];
          const r: ObjectResult = {
            ref: o.ref,
            action: o.action,
            ...(typeof rv === 'string' ? { resourceVersion: rv } : {}),
          };
          options.onApplied?.(r);
          return r;
        } catch (err) {
          const e = objectError('apply', o.ref, err);
          errors.set(o.ref, e);
          return { ref: o.ref, action: o.action, error: e.message };
        }
      },
    );
    results.push(...outcomes);
    const failed = outcomes.filter((r) => r.error);
    if (failed.length > 0) {
      throw stepError(results, failed.map((result) => ({ result, err: errors.get(result.ref)! })));
    }
    const first = step[0];
    if (first?.phase === Phase.crd) await waitForCrds(client, step, options);
    const next = steps[i + 1];
    if (first?.phase === Phase.namespaced && next && options.waitForWave)
      await options.waitForWave(step);
  }
  return results;
}

/** Splits objects (already in apply order) into steps of equal phase and wave. */
export function groupSteps(objects: PlannedObject[]): PlannedObject[][] {
  const steps: PlannedObject[][] = [];
  for (const o of objects) {
    const last = steps.at(-1);
    if (last?.[0]?.phase === o.phase && last[0].wave === o.wave) last.push(o);
    else steps.push([o]);
  }
  return steps;
}

async function waitForCrds(
  client: KubeClient,
  crds: PlannedObject[],
  options: ApplyOptions,
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + (options.crdTimeoutMs ?? 60_000);
  for (const crd of crds) {
    for (;;) {
      const live = await client.get(crd.ref, options.signal);
      const conditions =
        (live?.['status'] as { conditions?: { type: string; status: string }[] } | undefined)
          ?.conditions ?? [];
      if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (clock.now() > deadline)
        throw new WaitingError(`${refString(crd.ref)} is not Established`);
      await clock.sleep(200, options.signal);
    }
  }
}

/**
 * Deletes the plan's deletes in reverse apply order (namespaced objects
 * before the Namespaces and CRDs they live in). Errors name the object.
 */
export async function pruneObjects(
  client: KubeClient,
  plan: Plan,
  options: { concurrency?: number; signal?: AbortSignal } = {},
): Promise<ObjectResult[]> {
  const deletes = plan.objects.filter((o) => o.action === 'delete').reverse();
  const results: ObjectResult[] = [];
  const errors = new Map<ObjectRef, Error>();
  for (const step of groupSteps(deletes)) {
    const outcomes = await mapLimit(
      step,
      options.concurrency ?? 8,
      async (o): Promise<ObjectResult> => {
        try {
          await client.delete(o.ref, { signal: options.signal });
          return { ref: o.ref, action: 'delete' };
        } catch (err) {
          const e = objectError('delete', o.ref, err);
          errors.set(o.ref, e);
          return { ref: o.ref, action: 'delete', error: e.message };
        }
      },
    );
    results.push(...outcomes);
    const failed = outcomes.filter((r) => r.error);
    if (failed.length > 0)
      throw stepError(results, failed.map((result) => ({ result, err: errors.get(result.ref)! })));
  }
  return results;
}
