/**
 * The `driftless` command line: finds the command in the registry (commands/index.ts),
 * parses the global flags and the command's own, runs it, and turns what it throws into
 * one short message and an exit code (command.ts, EXIT).
 */
import {
  errorMessage,
  FlagError,
  flagEnvName,
  flagsHelp,
  formatDuration,
  formatVersion,
  parseFlags,
  type Flag,
  type FlagSpec,
} from '@driftless/common';
import { stringify as yamlText } from 'yaml';
import { ApiError, HubClient, HubUnreachableError } from './client.ts';
import {
  CliError,
  EXIT,
  exitCodeOf,
  TimedOutError,
  GLOBAL_FLAGS,
  OUTPUT_FORMATS,
  type AnyCommand,
  type CliIo,
  type OutputFormat,
} from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { durationOf } from './flags.ts';

/** The environment prefix of the global flags (`DRIFTLESS_HUB`, `DRIFTLESS_TOKEN`). */
const ENV_PREFIX = 'DRIFTLESS';
/**
 * Command flags read `DRIFTLESS_CLI_<FLAG>` (`--plan-digest` is `DRIFTLESS_CLI_PLAN_DIGEST`),
 * so they cannot be mistaken for the agent's `DRIFTLESS_` variables.
 */
const COMMAND_ENV_PREFIX = 'DRIFTLESS_CLI';

const withEnvPrefix = (spec: FlagSpec, prefix: string): FlagSpec =>
  Object.fromEntries(
    Object.entries(spec).map(([name, flag]) => [name, { ...flag, env: flagEnvName(prefix, name) }]),
  );

/** The global flags and `command`'s own. */
const specOf = (command: AnyCommand): FlagSpec => ({
  ...GLOBAL_FLAGS,
  ...withEnvPrefix(command.flags as FlagSpec, COMMAND_ENV_PREFIX),
});

/**
 * `spec` with its duration flags read as text, so {@link durationOf} sees what was typed and
 * can refuse a number without a unit; {@link parseCommandFlags} converts them back.
 */
const durationsAsText = (spec: FlagSpec): FlagSpec =>
  Object.fromEntries(
    Object.entries(spec).map(([name, flag]): [string, Flag] => [
      name,
      flag.type === 'duration'
        ? { ...flag, type: 'string', default: formatDuration(flag.default as number) }
        : flag,
    ]),
  );

/** The flags of `command` parsed from `argv` and the environment, durations in milliseconds. */
function parseCommandFlags(command: AnyCommand, argv: string[], env: NodeJS.ProcessEnv) {
  const spec = specOf(command);
  const parsed = parseFlags(durationsAsText(spec), argv, { envPrefix: ENV_PREFIX, env });
  for (const [name, flag] of Object.entries(spec))
    if (flag.type === 'duration') {
      const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      parsed.values[name] = durationOf(`--${kebab}`, parsed.values[name] as string);
    }
  return parsed;
}

/**
 * Every flag of every command: the first parse, which only has to find the command's words
 * among the arguments, must know which flags take a value.
 */
const ALL_FLAGS: FlagSpec = durationsAsText(Object.assign({}, ...COMMANDS.map(specOf)) as FlagSpec);

/** The command whose words start `positionals` (the longest match), or undefined. */
function findCommand(positionals: string[]): AnyCommand | undefined {
  let best: AnyCommand | undefined;
  for (const c of COMMANDS) {
    const words = c.name.split(' ');
    if (words.every((w, i) => positionals[i] === w))
      if (!best || words.length > best.name.split(' ').length) best = c;
  }
  return best;
}

/** `driftless --help`: every command, one line each. */
function usage(): string {
  // Name and arguments, the summary indented below: one shape whatever their length.
  const lines = COMMANDS.map((c) => `  ${`${c.name} ${c.usage}`.trimEnd()}\n      ${c.summary}`);
  return `driftless: the Driftless command line, over the hub HTTP API

Usage: driftless <command> [arguments] [flags]

Commands:
${lines.join('\n')}

Global flags:
${flagsHelp(GLOBAL_FLAGS, ENV_PREFIX)}

Run driftless <command> --help for a command's flags and examples. Exit codes: 0 done,
1 failed (the message says why), 2 usage error, 3 timed out (wait).
`;
}

/** `driftless <command> --help`. */
function commandHelp(c: AnyCommand): string {
  const own = flagsHelp(withEnvPrefix(c.flags as FlagSpec, COMMAND_ENV_PREFIX), COMMAND_ENV_PREFIX);
  return [
    `Usage: driftless ${c.name} ${c.usage}`.trimEnd(),
    '',
    c.summary,
    ...(c.description ? ['', c.description.trimEnd()] : []),
    ...(own ? ['', 'Flags:', own] : []),
    '',
    'Global flags:',
    flagsHelp(GLOBAL_FLAGS, ENV_PREFIX),
    '',
  ].join('\n');
}

/**
 * What an Argo CD or Flux habit is called here, named with an unknown command so the user
 * is one step from the right one instead of reading the whole list.
 */
const NEAREST: Record<string, string> = {
  status: 'driftless app list (every app of every cluster) or driftless cluster list',
  get: 'driftless app list or driftless cluster list',
  reconcile: 'driftless refresh CLUSTER (re-read Git now) or driftless sync CLUSTER/APP',
  'app sync': 'driftless sync CLUSTER/APP',
  'app refresh': 'driftless refresh CLUSTER/APP',
  'app wait': 'driftless wait --revision SHA --cluster C --app A',
  'app suspend': 'driftless suspend CLUSTER/APP --for 30m --reason TEXT',
  'app resume': 'driftless resume CLUSTER/APP',
  'cluster add':
    "driftless token create --cluster NAME, then start that cluster's agent with the token",
};

/** The commands of group `word` (e.g. `app`), for `driftless app` without a sub-command. */
function groupHelp(word: string): string | undefined {
  const group = COMMANDS.filter((c) => c.name.startsWith(`${word} `));
  if (group.length === 0) return undefined;
  return `driftless ${word}: one of\n${group.map((c) => `  driftless ${c.name} ${c.usage}`.trimEnd()).join('\n')}\n`;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const env = io.env ?? process.env;
  const usageError = (message: string, command?: AnyCommand) => {
    const hint = command ? `driftless ${command.name} --help` : 'driftless --help';
    io.stderr(`driftless: ${message}\nRun ${hint} for usage.\n`);
    return EXIT.usage;
  };
  let command: AnyCommand | undefined;
  // `--version` alone answers without a hub, as every program's does.
  if (argv.length === 1 && argv[0] === '--version') {
    io.stdout(`driftless ${formatVersion()}\n`);
    return EXIT.ok;
  }
  try {
    // Step 1: find the command among the arguments.
    const first = parseFlags(ALL_FLAGS, argv, { envPrefix: ENV_PREFIX, env });
    command = findCommand(first.positionals);
    if (!command) {
      const [word] = first.positionals;
      if (!word) {
        io.stdout(usage());
        return first.help ? EXIT.ok : EXIT.usage;
      }
      const typed = first.positionals.slice(0, 2).join(' ');
      const nearest = NEAREST[typed] ?? NEAREST[word];
      const group = groupHelp(word);
      if (group && (first.positionals.length === 1 || first.help)) {
        (first.help ? io.stdout : io.stderr)(group);
        return first.help ? EXIT.ok : EXIT.usage;
      }
      if (nearest) return usageError(`unknown command "${typed}"; did you mean ${nearest}?`);
      if (group) {
        io.stderr(`driftless: unknown command "${typed}"\n${group}`);
        return EXIT.usage;
      }
      return usageError(`unknown command "${typed}"`);
    }
    if (first.help) {
      io.stdout(commandHelp(command));
      return EXIT.ok;
    }
    // Step 2: parse again with only this command's flags, so a flag of another is refused.
    const parsed = parseCommandFlags(command, argv, env);
    const output = parsed.values['output'] as string;
    if (!(OUTPUT_FORMATS as readonly string[]).includes(output))
      return usageError(`--output "${output}": use ${OUTPUT_FORMATS.join(', ')}`, command);
    const format = output as OutputFormat;
    // Step 3: run it.
    const client = new HubClient({
      base: parsed.values['hub'] as string,
      token: parsed.values['token'] as string,
    });
    return await command.run({
      args: parsed.positionals.slice(command.name.split(' ').length),
      flags: parsed.values,
      output: format,
      client,
      io,
      print: (value, table) =>
        io.stdout(
          format === 'json'
            ? `${JSON.stringify(value, null, 2)}\n`
            : format === 'yaml'
              ? yamlText(value)
              : table(),
        ),
    });
  } catch (err) {
    // Step 4: one message, one exit code.
    if (err instanceof FlagError) return usageError(err.message, command);
    // Our own errors carry a whole sentence already; others get their causes appended.
    const known =
      err instanceof CliError ||
      err instanceof ApiError ||
      err instanceof HubUnreachableError ||
      err instanceof TimedOutError;
    io.stderr(`driftless: ${known ? err.message : errorMessage(err)}\n`);
    return exitCodeOf(err);
  }
}
