import { inSpan, SpanAttr, WaitingError } from '@driftless/common';
import type { Health } from '../health/index.ts';
import { Marks, refString, type KubeObject, type ObjectRef } from '../model.ts';
import { ObjectError, objectError, type KubeClient } from '../kube/index.ts';
import {
  comparable,
  diffValues,
  DEFAULT_CONCURRENCY,
  mapLimit,
  Phase,
  type Plan,
  type PlannedObject,
} from '../plan/index.ts';
import { runHook } from './hooks.ts';
import { resolveApplyOptions, type ApplyOptions, type ResolvedApplyOptions } from './options.ts';
import { writeObject } from './write.ts';

/** The outcome of applying or deleting one object. */
export interface ObjectResult {
  ref: ObjectRef;
  action: PlannedObject['action'];
  /** Set when the object failed; names the object and the server's reason. */
  error?: string;
  /** The object's resourceVersion right after our apply (for drift watching). */
  resourceVersion?: string;
  /** The failure itself, with its cause chain, when `error` is set. */
  cause?: Error;
  /** Its health as the apply's answer shows it, when the options' `judge` was given. */
  health?: Health;
}

/**
 * Raised when objects failed to apply; `results` has every object's
 * outcome. Its class is its cause's: the first failure.
 */
export class ApplyError extends Error {
  override name = 'ApplyError';
  readonly results: ObjectResult[];
  constructor(message: string, results: ObjectResult[], cause?: unknown) {
    super(message, { cause });
    this.results = results;
  }
}

/** At most this many failed objects are named in one message; the rest are counted. */
const NAMED_FAILURES = 3;

/** One message for the failed objects of a step: the first few, then a count. */
export function failureMessage(failed: ObjectResult[]): string {
  const named = failed.slice(0, NAMED_FAILURES).map((r) => r.error);
  const more = failed.length - named.length;
  return `${named.join('; ')}${more > 0 ? `; and ${more} more objects failed` : ''}`;
}

/**
 * Applies the creates and updates of a plan with server-side apply (field
 * manager `driftless`, taking ownership of conflicting fields), step by step:
 * phase (CRDs, Namespaces, pre-hooks, cluster-scoped, namespaced,
 * post-hooks), then wave. CRDs must be Established before the next step;
 * objects planned from their manifest against a CRD of this sync are
 * dry-run then (their plan entry is updated). Objects marked `replace` are
 * deleted and created again; `adopt` ones first have the adopted managers'
 * fields handed to `driftless`. Hooks run as Helm runs them (see hooks.ts).
 * A failing step stops the sync: later steps are not applied, and the error
 * names the failed objects.
 */
export async function applyPlan(options: ApplyOptions): Promise<ObjectResult[]> {
  const o = resolveApplyOptions(options);
  const results: ObjectResult[] = [];
  const writes = o.plan.objects.filter(
    (p) => p.action === 'create' || p.action === 'update' || p.provisional,
  );
  const steps = groupSteps(writes);
  for (const [i, step] of steps.entries()) {
    // One span per phase and wave, inside the sync's `apply` span.
    const attributes = waveAttributes(step);
    const name = `apply ${attributes[SpanAttr.phase]} wave ${attributes[SpanAttr.wave]}`;
    await inSpan(o.tracer, name, attributes, () => applyStep(step, steps[i + 1], o, results));
  }
  return results;
}

/** The phases by name, for span names and attributes. */
const PHASE_NAMES: Readonly<Record<number, string>> = {
  [Phase.crd]: 'crd',
  [Phase.namespace]: 'namespace',
  [Phase.preHook]: 'pre-hook',
  [Phase.cluster]: 'cluster',
  [Phase.namespaced]: 'namespaced',
  [Phase.postHook]: 'post-hook',
};

/** Phase, wave and object count of one apply step, as span attributes. */
function waveAttributes(step: PlannedObject[]): Record<string, string | number> {
  const first = step[0];
  return {
    [SpanAttr.phase]: PHASE_NAMES[first?.phase ?? Phase.namespaced] ?? 'namespaced',
    [SpanAttr.wave]: first?.wave ?? 0,
    'driftless.apply.objects': step.filter((p) => p.action !== 'unchanged').length,
  };
}

/** Applies one step (a phase's wave) and waits for what must come before the next one. */
async function applyStep(
  step: PlannedObject[],
  next: PlannedObject[] | undefined,
  o: ResolvedApplyOptions,
  results: ObjectResult[],
): Promise<void> {
  const first = step[0];
  const isHookStep = first?.phase === Phase.preHook || first?.phase === Phase.postHook;
  if (!isHookStep) await checkProvisional(step, o);
  const todo = step.filter((p) => p.action !== 'unchanged');
  const outcomes = await mapLimit(todo, o.concurrency, async (p): Promise<ObjectResult> => {
    try {
      const out = isHookStep ? await runHook(p, o) : await writeObject(p, o);
      const rv = out?.metadata['resourceVersion'];
      const r: ObjectResult = {
        ref: p.ref,
        action: p.action,
        ...(typeof rv === 'string' && !isHookStep ? { resourceVersion: rv } : {}),
        ...(out && o.judge && !isHookStep ? { health: o.judge(out) } : {}),
      };
      o.onApplied?.(r);
      return r;
    } catch (err) {
      const e = err instanceof ObjectError ? err : objectError('apply', p.ref, err);
      return { ref: p.ref, action: p.action, error: e.message, cause: e };
    }
  });
  results.push(...outcomes);
  const failed = outcomes.filter((r) => r.error);
  if (failed.length > 0) {
    throw new ApplyError(failureMessage(failed), results, failed[0]?.cause);
  }
  if (first?.phase === Phase.crd) await waitForCrds(o.client, step, o);
  if (
    (first?.phase === Phase.namespaced || first?.phase === Phase.cluster) &&
    next &&
    o.waitForWave
  )
    await o.waitForWave(step);
}

/**
 * Dry-runs objects planned from their manifest, now that their CRD is
 * Established: the plan entry gets the server's diff (and `unchanged` when
 * there is nothing to do). A failure fails the object as an apply would.
 */
async function checkProvisional(step: PlannedObject[], o: ResolvedApplyOptions): Promise<void> {
  await mapLimit(
    step.filter((p) => p.provisional),
    o.concurrency,
    async (p) => {
      const desired = p.desired as KubeObject;
      // The API server serves a CRD's new schema a moment after the CRD changed: try until then.
      const deadline = o.clock.now() + o.crdTimeoutMs;
      let answer: [KubeObject | undefined, KubeObject] | undefined;
      while (!answer) {
        try {
          answer = await Promise.all([
            o.client.get(p.ref, o.signal),
            o.client.apply(desired, {
              fieldManager: Marks.fieldManager,
              dryRun: true,
              signal: o.signal,
            }),
          ]);
        } catch (err) {
          if (o.clock.now() < deadline && !o.signal?.aborted) {
            await o.clock.sleep(200, o.signal);
            continue;
          }
          const e = objectError('apply', p.ref, err);
          throw new ApplyError(
            e.message,
            [{ ref: p.ref, action: p.action, error: e.message, cause: e }],
            e,
          );
        }
      }
      const [live, dry] = answer;
      const diff = live
        ? diffValues(comparable(live), comparable(dry))
        : diffValues(undefined, comparable(dry));
      p.diff = diff;
      p.action = !live ? 'create' : diff.length === 0 ? 'unchanged' : 'update';
      if (live) p.live = live;
      delete p.provisional;
    },
  );
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
  options: ResolvedApplyOptions,
): Promise<void> {
  const { clock } = options;
  const deadline = clock.now() + options.crdTimeoutMs;
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
  for (const step of groupSteps(deletes)) {
    const outcomes = await mapLimit(
      step,
      options.concurrency ?? DEFAULT_CONCURRENCY,
      async (o): Promise<ObjectResult> => {
        try {
          await client.delete(o.ref, { signal: options.signal });
          return { ref: o.ref, action: 'delete' };
        } catch (err) {
          const e = objectError('delete', o.ref, err);
          return { ref: o.ref, action: 'delete', error: e.message, cause: e };
        }
      },
    );
    results.push(...outcomes);
    const failed = outcomes.filter((r) => r.error);
    if (failed.length > 0) throw new ApplyError(failureMessage(failed), results, failed[0]?.cause);
  }
  return results;
}
