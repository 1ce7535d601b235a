/**
 * @driftless/test: starts real servers on loopback for integration and
 * end-to-end tests (see DESIGN.md, "Real parts, in tests too"). Every server
 * runs under a watchdog, so none outlives the test process, even a killed one.
 */
export { HarnessError } from './errors.ts';
export { binaryCacheDir, findBinary } from './binaries.ts';
export { freePort } from './net.ts';
export type { ServerProcess } from './process.ts';
export {
  DEFAULT_GIT_USER,
  startGitServer,
  type CreateRepoOptions,
  type GitRepo,
  type GitRequest,
  type GitServer,
  type GitServerOptions,
} from './git.ts';
export {
  startCluster,
  type Cluster,
  type ClusterTimings,
  type StartClusterOptions,
} from './cluster.ts';
export {
  startJaeger,
  tagOf,
  type Jaeger,
  type JaegerOptions,
  type JaegerSpan,
  type JaegerTrace,
} from './jaeger.ts';
export { readNatsInfo, startNats, type NatsOptions, type NatsServer } from './nats.ts';
export { startPostgres, type PostgresOptions, type PostgresServer } from './postgres.ts';
export * from './product.ts';
export {
  helm,
  startChartRepo,
  startOciRegistry,
  type ChartRepo,
  type ChartRepoOptions,
  type ChartRequest,
  type OciRegistry,
} from './charts.ts';
export { waitFor, WAIT_DEFAULTS, type WaitOptions } from './wait.ts';
export {
  startGitHostReceiver,
  type GitHostReceiver,
  type GitHostReceiverOptions,
  type HostRequest,
  type ReceivedStatus,
} from './git-hosts.ts';
export * from './receivers.ts';
export * from './alertmanager.ts';
