/**
 * @driftless/agent: the in-cluster agent. It pulls desired state from Git,
 * renders and guards it, plans with server-side apply dry-runs, applies in
 * order, prunes what left Git, waits for health, watches for drift and
 * reports everything through a {@link Reporter}.
 */
export * from './model.ts';
export {
  KubeClient,
  KubeApiError,
  TenantClients,
  serviceAccountUser,
  clusterCapabilities,
  conformsToServedSchema,
  judgeServedSchema,
  judgeCustomResource,
  servedCrd,
  type Refusal,
  type Verdict,
  type ApiResource,
  type ClusterCapabilities,
  type WatchEvent,
} from './kube/index.ts';
export {
  GitSource,
  GitResponseTooLargeError,
  CommitVerifier,
  CommitSignatureError,
  keysFromFile,
  keysFromSecret,
  type GitSourceOptions,
} from './source/index.ts';
export {
  parseClusterConfig,
  appSpec,
  agentFlags,
  AGENT_ENV_PREFIX,
  ConfigError,
} from './config/index.ts';
export {
  render,
  RenderError,
  chartCredentials,
  ChartNotFoundError,
  ChartUnreachableError,
  fetchChartArchive,
  RENDER_LIMIT_DEFAULTS,
  type RenderOptions,
} from './render/index.ts';
export { guard, GuardError, Ownership, type OwnershipView } from './guard/index.ts';
export {
  planApp,
  diffValues,
  type Plan,
  type PlannedObject,
  type Action,
  type FieldDiff,
} from './plan/index.ts';
export { applyPlan, pruneObjects, withSyncMarks, ApplyError } from './apply/index.ts';
export { InventoryStore, type InventoryRecord } from './inventory/index.ts';
export { healthOf, aggregateHealth } from './health/index.ts';
export {
  TreeReader,
  TreeTimeoutError,
  UnknownAppError,
  TREE_DEFAULTS,
  type AppTree,
  type TreeLimits,
  type TreeReaderOptions,
} from './tree/index.ts';
export { DriftWatcher, type DriftWatcherOptions } from './drift/index.ts';
export * from './report/index.ts';
export {
  Agent,
  syncApp,
  type AgentOptions,
  type CheckoutSource,
  type DriftTracker,
} from './reconcile/index.ts';
export * from './link/index.ts';
