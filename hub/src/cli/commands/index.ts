/**
 * The registry of `driftless` commands, in the order `driftless --help` lists them. A verb
 * group is a file exporting a list of commands (see command.ts, `Command`); adding one is
 * one line here.
 */
import type { AnyCommand } from '../command.ts';
import { commitStatusCommands } from '../commit-status.ts';
import { appCommands } from './apps.ts';
import { approvalCommands } from './approvals.ts';
import { clusterCommands } from './clusters.ts';
import { eventCommands } from './events.ts';
import { versionCommands } from './version.ts';
import { waitCommands } from './wait.ts';
import { fleetCommands } from './fleet.ts';
import { ledgerCommands } from '../ledger.ts';
import { operationCommands } from './operations.ts';
import { tokenCommands } from './tokens.ts';
import { suspendCommands } from '../suspend.ts';
import { notifyCommands } from '../notify.ts';

/** Every command. */
export const COMMANDS: readonly AnyCommand[] = [
  ...clusterCommands,
  ...appCommands,
  ...operationCommands,
  ...suspendCommands,
  ...approvalCommands,
  ...waitCommands,
  ...eventCommands,
  ...fleetCommands,
  ...ledgerCommands,
  ...versionCommands,
  ...tokenCommands,
  ...commitStatusCommands,
  ...notifyCommands,
];
