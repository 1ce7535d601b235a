/**
 * The registry of `driftless` commands, in the order `driftless --help` lists them. A verb
 * group is a file exporting a list of commands (see command.ts, `Command`); adding one is
 * one line here.
 */
import type { AnyCommand, ExternalCommand } from '../command.ts';
import { appCommands } from './apps.ts';
import { approvalCommands } from './approvals.ts';
import { clusterCommands } from './clusters.ts';
import { fleetCommands } from './fleet.ts';
import { operationCommands } from './operations.ts';
import { tokenCommands } from './tokens.ts';
import { eventCommands } from './events.ts';
import { versionCommands } from './version.ts';
import { waitCommands } from './wait.ts';

/**
 * Command groups that parse their own arguments, by first word. Wiring one is one line:
 * `{ name: 'suspend', usage: '…', summary: '…', external: (argv, io) => runSuspendCli(argv, io) }`.
 */
export const EXTERNAL_COMMANDS: readonly ExternalCommand[] = [];

/** Every command. */
export const COMMANDS: readonly AnyCommand[] = [
  ...clusterCommands,
  ...appCommands,
  ...operationCommands,
  ...approvalCommands,
  ...waitCommands,
  ...eventCommands,
  ...fleetCommands,
  ...tokenCommands,
  ...versionCommands,
];
