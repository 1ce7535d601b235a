/** The `driftless` command line: commands over the hub HTTP API, a client for it, and tables. */
export { runCli } from './main.ts';
export {
  defineCommand,
  EXIT,
  type AnyCommand,
  type CliIo,
  type Command,
  type CommandContext,
} from './command.ts';
export { HubClient, ApiError, HubUnreachableError } from './client.ts';
export { renderTable, type Column } from './table.ts';
