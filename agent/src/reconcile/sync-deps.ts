/** What one sync of an app is given by the agent around it, and what it gives back. */
import type { Tracer } from '@opentelemetry/api';
import type { Clock, Logger } from '@driftless/common';
import type { AppSpec, IgnoreRule, KubeObject, ObjectRef, RenderedObject } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
import type { RenderOptions } from '../render/index.ts';
import type { OwnershipView } from '../guard/index.ts';
import type { InventoryStore } from '../inventory/index.ts';
import type { ApprovalSource, SyncReport } from '../report/index.ts';
import type { Suspension } from '../suspend/index.ts';
import type { SyncSlots } from './sync-slots.ts';
import type { CarrySeed } from './carry.ts';

/** The render settings an agent gives every sync. */
export type RenderSettings = Pick<RenderOptions, 'limits' | 'charts'>;

/** What one sync needs from the agent around it. */
export interface SyncDeps {
  client: KubeClient;
  inventory: InventoryStore;
  approvals: ApprovalSource;
  tracer: Tracer;
  logger: Logger;
  clock?: Clock;
  /** Who owns what among the cluster's apps (guard and prune consult it). Default: no cross-app checks. */
  ownership?: OwnershipView;
  /** Cluster name, a span attribute. */
  cluster: string;
  /** Parallel API requests. Default 8. */
  concurrency?: number;
  /** How often health is polled while waiting. Default 1 s. */
  healthPollMs?: number;
  /** Render limits and chart sources. Default the render defaults. */
  render?: RenderSettings;
  /** Renders the app (e.g. noting what it read). Default render/'s `render`. */
  renderer?: (options: RenderOptions) => Promise<RenderedObject[]>;
  /**
   * The cluster's served-API generation now (see served-apis.ts): while it
   * holds, renders reuse one discovery of the cluster. Default: none, each
   * render asks.
   */
  apisGeneration?: () => number | undefined;
  /**
   * The newest copy of an object the drift watches delivered (see
   * DriftWatcher.observed): the health wait reads it instead of polling.
   * Default: none, the health wait polls.
   */
  observed?: (ref: ObjectRef) => KubeObject | null | undefined;
  /** When the watch of the object's kind last delivered anything (see DriftWatcher.heardAt). */
  heardAt?: (ref: ObjectRef) => number | undefined;
  /**
   * The slots of apps between render and health (`--app-concurrency`): the sync takes one
   * before it renders and gives it back before it waits for health. Default: no limit.
   */
  slots?: SyncSlots;
  /** When the Git fetch that produced the checkout ran, to show it in the sync's trace. */
  fetch?: { startedAt: number; finishedAt: number; fromCache: boolean };
  signal?: AbortSignal;
  /**
   * The pause in force for the app, if any: the sync plans and reports, but applies and prunes
   * nothing. Default: never paused.
   */
  suspension?: (app: string) => Suspension | undefined;
  /**
   * Called as each step starts (render, guard, plan, apply, prune, health), to show progress;
   * also when the sync has to wait for a slot before it renders (see `SLOT_WAIT`).
   */
  onStep?: (step: string) => void;
  /** Ignore rules beyond the app's own, e.g. fields the drift watcher found another controller fighting over. */
  ignoreRules?: (app: string) => IgnoreRule[];
  /** Called between apply and health wait so drift watching starts on what was just applied. */
  onApplied?: (
    app: AppSpec,
    desired: KubeObject[],
    revision: string,
    traceId: string,
    /** refKey → resourceVersion of each object this sync wrote. */
    applied: ReadonlyMap<string, string>,
    /** W3C traceparent of the sync's root span, as stamped on the objects. */
    traceparent?: string,
  ) => void;
}

/** A sync's report plus what the reconciler needs to carry on. */
export interface SyncOutcomeDetail {
  report: SyncReport;
  /** What a later commit needs to carry the app forward, when planning got that far (carry.ts). */
  carry?: CarrySeed;
  /** Error class when the sync failed. */
  errorClass?: 'terminal' | 'transient' | 'waiting';
  /** True when the sync stopped because `signal` aborted (the agent is stopping): not a failure. */
  interrupted?: boolean;
}
