/**
 * What a `driftless` command is, what it gets to run, and how its errors become exit codes.
 * Every verb group lives in its own file under `commands/` (or, for other parts of the
 * product, in `hub/src/cli/<name>.ts`) and exports a list of {@link Command}s that
 * `commands/index.ts` registers with one line.
 */
import { FlagError, type FlagSpec, type FlagValues } from '@driftless/common';
import type { HubClient } from './client.ts';
import { ApiError } from './client.ts';

/** Exit codes of `driftless`; docs/cli.md lists them. */
export const EXIT = {
  /** The command did what was asked. */
  ok: 0,
  /** It failed: the hub refused, an object is unknown, the input is wrong, a sync failed. */
  failed: 1,
  /** It was called wrongly: unknown command or flag, missing argument. */
  usage: 2,
  /** `wait` (or another command with `--timeout`) gave up before the condition held. */
  timeout: 3,
} as const;

/** Output formats of `-o`. */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Where the CLI reads and writes; injectable for tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Where a confirmation is read from; default process.stdin. */
  stdin?: NodeJS.ReadableStream;
  /** Whether a person can answer a prompt (stdin and stdout are terminals). */
  interactive?: boolean;
  /** Ends long-running commands (`events`, `wait`) early, e.g. on Ctrl-C. */
  signal?: AbortSignal;
}

/** The flags every command takes. */
export const GLOBAL_FLAGS = {
  hub: {
    type: 'string',
    default: 'http://127.0.0.1:7080',
    help: 'Base URL of the hub HTTP API.',
  },
  token: {
    type: 'string',
    default: '',
    help: 'API token to authenticate with (its role decides what you may do).',
  },
  output: {
    type: 'string',
    default: 'table',
    short: 'o',
    help: 'Output format: table (for people), json or yaml (for scripts; full digests and times).',
  },
} satisfies FlagSpec;

/** What a command's `run` gets. */
export interface CommandContext<S extends FlagSpec> {
  /** Arguments after the command's name, flags removed. */
  args: string[];
  /** The global flags and the command's own, parsed. */
  flags: FlagValues<typeof GLOBAL_FLAGS & S>;
  output: OutputFormat;
  client: HubClient;
  io: CliIo;
  /**
   * Prints `value` as JSON or YAML, or, for `-o table`, the text `table()` returns.
   */
  print: (value: unknown, table: () => string) => void;
}

/** One command of the registry. */
export interface Command<S extends FlagSpec = FlagSpec> {
  /** Its words, e.g. `app get`. */
  name: string;
  /** Arguments and the flags worth naming, e.g. `CLUSTER/APP [--limit N]`. */
  usage: string;
  /** One line for the command list. */
  summary: string;
  /** More for `driftless <command> --help`: behaviour, examples. */
  description?: string;
  /** The command's own flags (the global ones come on top). */
  flags: S;
  /** Runs the command; resolves to the exit code. Errors map through {@link exitCodeOf}. */
  run: (ctx: CommandContext<S>) => Promise<number>;
}

/** A command of any flag set, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = Command<any>;

/** Declares a command with its flags typed; returns it unchanged. */
export function defineCommand<S extends FlagSpec>(command: Command<S>): Command<S> {
  return command;
}

/** A usage error: the command was called wrongly. Exit code 2. */
export class UsageError extends FlagError {
  override name = 'UsageError';
}

/** The command failed for a reason the message names (unknown app, no pending plan). Exit 1. */
export class CliError extends Error {
  override name = 'CliError';
}

/** A condition did not hold in time (`wait --timeout`). Exit code 3. */
export class TimedOutError extends Error {
  override name = 'TimedOutError';
}

/** The exit code for an error thrown by a command; see {@link EXIT}. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof FlagError) return EXIT.usage;
  if (err instanceof TimedOutError) return EXIT.timeout;
  return EXIT.failed;
}

/** Whether `err` is the hub saying the object is not there. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

/**
 * `CLUSTER/APP` split into its parts; UsageError naming `command` when it is not of
 * that form.
 */
export function parseAppRef(
  command: string,
  arg: string | undefined,
): { cluster: string; app: string } {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(arg ?? '');
  if (!m)
    throw new UsageError(`${command}: give the app as CLUSTER/APP${arg ? `, not "${arg}"` : ''}`);
  return { cluster: m[1]!, app: m[2]! };
}

/** The one positional argument of `command`; UsageError naming `what` when it is missing. */
export function oneArg(command: string, args: string[], what: string): string {
  if (args.length === 0 || !args[0]) throw new UsageError(`${command}: ${what} is required`);
  if (args.length > 1) throw new UsageError(`${command}: unexpected argument "${args[1]}"`);
  return args[0];
}
