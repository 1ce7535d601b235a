/** The `driftless` command line: commands over the hub HTTP API, a client for it, and tables. */
export { runCli, type CliIo } from './main.ts';
export { HubClient, ApiError, HubUnreachableError } from './client.ts';
export { renderTable, type Column } from './table.ts';
