import { getTracer, systemClock, type Clock } from '@driftless/common';
import type { Tracer } from '@opentelemetry/api';
import type { Health } from '../health/index.ts';
import type { KubeObject } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
import type { Plan, PlannedObject } from '../plan/index.ts';
import type { ObjectResult } from './apply.ts';

/** Options of {@link applyPlan}. */
export interface ApplyOptions {
  client: KubeClient;
  plan: Plan;
  /** Written into every applied object's annotations. */
  revision: string;
  traceId: string;
  /** W3C traceparent of the sync, written next to the trace id (a heal links to it). Default: none. */
  traceparent?: string;
  /** Tracer of the per-wave spans. Default: the global provider's. */
  tracer?: Tracer;
  /** Parallel requests within one step. Default 8. */
  concurrency?: number;
  /** How long to wait for a CRD to be Established, an object to be gone, a hook to finish. Default 60 s. */
  crdTimeoutMs?: number;
  /** How long a hook (a Job, a Pod) may run. Default 5 minutes. */
  hookTimeoutMs?: number;
  /**
   * Called after each wave of cluster-scoped or namespaced objects when a
   * later step follows; resolves once the wave no longer gates (rejects on
   * timeout).
   */
  waitForWave?: (objects: PlannedObject[]) => Promise<void>;
  clock?: Clock;
  signal?: AbortSignal;
  /** Called with each object right after it was written. */
  onApplied?: (result: ObjectResult) => void;
  /**
   * Judges an object's health from the apply's answer (the object as stored
   * by that very write), into {@link ObjectResult.health}. Default: not judged.
   */
  judge?: (applied: KubeObject) => Health;
}

/** {@link ApplyOptions} with every default applied. */
export type ResolvedApplyOptions = Required<
  Omit<ApplyOptions, 'waitForWave' | 'signal' | 'onApplied' | 'judge'>
> &
  Pick<ApplyOptions, 'waitForWave' | 'signal' | 'onApplied' | 'judge'>;

/** Defaults of {@link ApplyOptions}. */
export const APPLY_DEFAULTS = {
  concurrency: 8,
  crdTimeoutMs: 60_000,
  hookTimeoutMs: 5 * 60_000,
} as const;

/** Applies {@link APPLY_DEFAULTS}; the only place that does. */
export function resolveApplyOptions(o: ApplyOptions): ResolvedApplyOptions {
  return {
    ...o,
    concurrency: o.concurrency ?? APPLY_DEFAULTS.concurrency,
    crdTimeoutMs: o.crdTimeoutMs ?? APPLY_DEFAULTS.crdTimeoutMs,
    hookTimeoutMs: o.hookTimeoutMs ?? APPLY_DEFAULTS.hookTimeoutMs,
    clock: o.clock ?? systemClock,
    traceparent: o.traceparent ?? '',
    tracer: o.tracer ?? getTracer('@driftless/agent/apply'),
  };
}
