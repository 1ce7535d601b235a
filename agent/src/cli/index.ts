/**
 * The `driftless-agent` command line: `run` in a cluster, and `render`,
 * `diff` and `export` on a workstation, on the same engine.
 */
export { main, processIo, TOP_HELP } from './main.ts';
export { ExitCode, UsageError, CLI_ENV_PREFIX, type CliIo } from './io.ts';
export { renderCommand, renderCommandFlags, renderHelp } from './render-command.ts';
export { diffCommand, diffCommandFlags, diffHelp } from './diff-command.ts';
export { exportCommand, exportCommandFlags, exportHelp } from './export-command.ts';
export {
  formatPlan,
  formatValue,
  hasChanges,
  planJson,
  type PlanPrintOptions,
} from './plan-printer.ts';
export { OfflineScopes } from './scopes.ts';
