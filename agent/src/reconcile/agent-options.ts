/** What the reconcile loop is given: its collaborators (checkout, drift tracker) and options. */
import type { SuspensionBook } from '../suspend/index.ts';
import type { Tracer } from '@opentelemetry/api';
import { systemClock, type Clock, type Logger } from '@driftless/common';
import type { AppSpec, IgnoreRule, KubeObject, ObjectRef } from '../model.ts';
import type { KubeClient, TenantClients } from '../kube/index.ts';
import type { InventoryStore } from '../inventory/index.ts';
import type { ApprovalBook, Reporter } from '../report/index.ts';
import { DEFAULT_CONCURRENCY } from '../plan/index.ts';
import type { RenderSettings } from './sync-app.ts';
import type { ServedApis } from './served-apis.ts';

/** A checkout of the cluster's repository at one revision. */
export interface Checkout {
  revision: string;
  /** Root folder of the checked-out tree. */
  dir: string;
  /** True when Git could not be reached and this is the last good checkout. */
  fromCache: boolean;
  /** Why Git could not be reached, when `fromCache`. */
  error?: unknown;
}

/** Where checkouts come from (GitSource in production; a folder in tests). */
export interface CheckoutSource {
  /**
   * The checkout of the branch's head. `hint` is a commit the hub said is the new head: a
   * source may fetch it early, but must use it only once Git itself names it the head.
   */
  sync(signal?: AbortSignal, options?: { hint?: string }): Promise<Checkout>;
}

/** Drift watching as the reconciler drives it (see drift/). */
export interface DriftTracker {
  track(
    app: AppSpec,
    objects: KubeObject[],
    sync: { revision: string; traceId: string; traceparent?: string },
    applied?: ReadonlyMap<string, string>,
  ): void;
  untrack(app: string): void;
  /** Resolves once heals in flight have finished, so they cannot land after the sync's apply. */
  pause(app: string): Promise<void> | void;
  resume(app: string): void;
  driftCount(app: string): number;
  /** Takes an app's settings (mode, selfHeal, ignore rules) at once, before its next sync. */
  configure?(app: AppSpec): void;
  /** Fields another controller fights over: the plan leaves them out too. */
  ignoreRules?(app: string): IgnoreRule[];
  /**
   * The newest copy of a tracked object its watch delivered; null: tracked,
   * nothing delivered since; undefined: not tracked.
   */
  observed?(ref: ObjectRef): KubeObject | null | undefined;
  /**
   * When the watch of a tracked object's kind last delivered anything (its list, an event of
   * any object of the kind, a bookmark), on the agent's clock; undefined when the object is not
   * tracked, must be read again, or its watch has delivered nothing yet. One watch delivers in
   * order, so then {@link observed}'s copy is the newest as of that moment.
   */
  heardAt?(ref: ObjectRef): number | undefined;
  /** Objects of the app changed (as the watches saw) and not yet compared with Git. */
  unchecked?(app: string): number;
  /** Checks the app's open drift again (a pause ended: heal it, or say it is held). */
  recheck?(app: string): void;
}

/** The defaults of {@link AgentOptions}, in one place; durations in ms. */
export const AGENT_DEFAULTS = {
  /** Time between polls of Git: one `ls-refs`; apps are planned again only when something moved. */
  pollIntervalMs: 60_000,
  /**
   * Periodic full resync: an app whose last sync did not fail is planned again
   * this long after it, even when neither Git nor the cluster's APIs moved
   * (drift in between is caught by the drift watches).
   */
  resyncIntervalMs: 10 * 60_000,
  /** The poll interval is spread by ±10 %, so agents and apps do not move in lockstep. */
  pollJitter: 0.1,
  /** Parallel API requests per app. */
  concurrency: DEFAULT_CONCURRENCY,
  /**
   * Apps rendered, planned and applied at once (see sync-slots.ts); an app waiting for its
   * objects' health holds no slot.
   */
  appConcurrency: 16,
  /** Health poll interval while a sync waits. */
  healthPollMs: 1000,
  /** Health timeout of apps whose driftless.yaml entry sets none. */
  defaultHealthTimeoutMs: 5 * 60_000,
  /** Upper bound of one Git sync (a hung server must not stall reconciling). */
  fetchTimeoutMs: 5 * 60_000,
  /** First delay of an app's (or Git's) retry after a transient failure. */
  retryInitialMs: 1000,
  /** Cap of that backoff. */
  retryMaxMs: 5 * 60_000,
  /** When an app waits on a condition (health, a dependency), it is looked at again after this. */
  requeueMs: 30_000,
} as const;

/** Options of {@link Agent}. */
export interface AgentOptions {
  /** This cluster's name, as enrolled. */
  cluster: string;
  client: KubeClient;
  source: CheckoutSource;
  /** Folder of the repository holding `driftless.yaml`, e.g. `clusters/dev`. */
  clusterPath: string;
  inventory: InventoryStore;
  reporter: Reporter;
  approvals: ApprovalBook;
  /** Break-glass pauses (hub and Git); apps it pauses are planned, never applied. Default none. */
  suspensions?: SuspensionBook;
  drift?: DriftTracker;
  tracer: Tracer;
  logger: Logger;
  clock?: Clock;
  /** Random source in [0, 1) for jitter, injectable for tests. Default Math.random. */
  random?: () => number;
  /** See {@link AGENT_DEFAULTS}. */
  pollIntervalMs?: number;
  resyncIntervalMs?: number;
  pollJitter?: number;
  concurrency?: number;
  appConcurrency?: number;
  healthPollMs?: number;
  defaultHealthTimeoutMs?: number;
  fetchTimeoutMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  requeueMs?: number;
  /** Render limits and chart sources of every sync. Default the render defaults. */
  render?: RenderSettings;
  /**
   * Tells when the cluster starts or stops serving an API, so renders reading
   * its capabilities are redone. Without it, only new commits, hints and the
   * periodic resync re-plan.
   */
  servedApis?: ServedApis;
  /** The identities apps act with (serviceAccountName). Default: made from `client`. */
  tenants?: TenantClients;
}

/** {@link AgentOptions} with every default applied. */
export type ResolvedAgentOptions = AgentOptions & {
  -readonly [K in keyof typeof AGENT_DEFAULTS]: number;
} & {
  clock: Clock;
  random: () => number;
};

/** Applies {@link AGENT_DEFAULTS} to `options`; the one place defaults are set. */
export function resolveReconcileOptions(options: AgentOptions): ResolvedAgentOptions {
  const out = { ...AGENT_DEFAULTS, ...options } as ResolvedAgentOptions;
  for (const k of Object.keys(AGENT_DEFAULTS) as (keyof typeof AGENT_DEFAULTS)[])
    if (options[k] === undefined) out[k] = AGENT_DEFAULTS[k];
  out.clock = options.clock ?? systemClock;
  out.random = options.random ?? Math.random;
  return out;
}
