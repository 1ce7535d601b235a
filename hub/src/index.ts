/**
 * @driftless/hub: enrollment and CA, the gRPC link to agents, the fleet state
 * store, the HTTP API and the `driftless` CLI.
 */
export { startHub, guardProcess, HubConfigError, type Hub, type HubOptions } from './main.ts';
export { ListenAddressError } from './listen.ts';
export { HUB_FLAGS, HUB_ENV_PREFIX, HUB_DEFAULTS, resolveHubOptions } from './config.ts';
export { NatsAuthority } from './enroll/index.ts';
export { openStore, parseSelector, type Store, type StoreOptions } from './store/index.ts';
export * from './errors.ts';
export { runCli, HubClient, ApiError, HubUnreachableError, type CliIo } from './cli/index.ts';
