import { errorMessage, FlagError, formatVersion } from '@driftless/common';
import { GuardError } from '../guard/index.ts';
import { ExitCode, UsageError, type CliIo } from './io.ts';

/** `--help` of `driftless-agent` itself. */
export const TOP_HELP = `Usage: driftless-agent <command> [flags]

The Driftless agent. In a cluster it runs "run", which follows the cluster's
folder in Git and keeps the cluster in sync with it. On a workstation the
same engine shows what a sync would do, without changing anything.

Commands:
  run                     Run the agent in a cluster: pull from Git, reconcile, watch drift, report to the hub.
  render PATH             Print the manifests a folder renders to, after the checks the agent makes.
  diff PATH               Show what a sync of a folder would change in the current kubeconfig's cluster.
  export --namespace NS   Print what runs in a namespace as clean manifests, to bring it into Git.
  help [COMMAND]          Show this help, or the help of a command.
  version                 Print the agent's version (also --version).

Every flag can also be set by an environment variable, DRIFTLESS_ and the
flag's name (--allowed-namespaces is DRIFTLESS_ALLOWED_NAMESPACES); a flag
wins over its variable. Run "driftless-agent COMMAND --help" for a command's
flags. Set LOG_LEVEL=debug to see stack traces of errors.
`;

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

/**
 * Each command is loaded when it is used: `run` pulls in the whole engine
 * and telemetry, the others the Kubernetes client, none of which help or a
 * mistyped command line needs.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => {
    const { runAgent } = await import('../run.ts');
    return (argv) => runAgent([...argv]);
  },
  render: async () => (await import('./render-command.ts')).renderCommand,
  diff: async () => (await import('./diff-command.ts')).diffCommand,
  export: async () => (await import('./export-command.ts')).exportCommand,
};

/**
 * The `driftless-agent` command: dispatches to a subcommand and turns what
 * it throws into an exit code — 2 with the reason for a wrong command line,
 * 1 with the message (a stack trace only when LOG_LEVEL=debug) for anything
 * that failed at run time.
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(TOP_HELP);
    return ExitCode.usage;
  }
  if (name === '-h' || name === '--help') {
    io.stdout.write(TOP_HELP);
    return ExitCode.ok;
  }
  if (name === 'version' || name === '--version') {
    io.stdout.write(`driftless-agent ${formatVersion()}\n`);
    return ExitCode.ok;
  }
  if (name === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.stdout.write(TOP_HELP);
      return ExitCode.ok;
    }
    return main([topic, '--help'], io);
  }
  const load = COMMANDS[name];
  if (!load) {
    const what = name.startsWith('-') ? `unknown flag ${name}` : `unknown command "${name}"`;
    io.stderr.write(
      `error: ${what}; commands are ${Object.keys(COMMANDS).join(', ')} (see driftless-agent --help)\n`,
    );
    return ExitCode.usage;
  }
  try {
    const command = await load();
    return await command(rest, io);
  } catch (err) {
    return reportError(err, name, io);
  }
}

/** Prints an error the way people read it and returns the exit code for it. */
function reportError(err: unknown, command: string, io: CliIo): number {
  // `run` reports missing or invalid flags as AgentOptionsError; matched by
  // name so that help and the offline commands need not load the agent's config.
  if (
    err instanceof FlagError ||
    err instanceof UsageError ||
    (err instanceof Error && err.name === 'AgentOptionsError')
  ) {
    const hint = `see driftless-agent ${command} --help`;
    io.stderr.write(
      err.message.includes('\n')
        ? `error: ${err.message}\n${hint}\n`
        : `error: ${err.message} (${hint})\n`,
    );
    return ExitCode.usage;
  }
  if (io.signal?.aborted) {
    io.stderr.write('error: interrupted\n');
    return 130; // the shell's code for a command ended by SIGINT
  }
  if (err instanceof GuardError) {
    // One line per problem: the single-line message is made for logs.
    const count = err.problems.length === 1 ? '1 problem' : `${err.problems.length} problems`;
    io.stderr.write(
      `error: the guard refused the objects (${count}):\n${err.problems.map((p) => `  - ${p}\n`).join('')}`,
    );
  } else {
    io.stderr.write(`error: ${errorMessage(err)}\n`);
  }
  if (/^(debug|trace)$/i.test(io.env['LOG_LEVEL'] ?? '') && err instanceof Error && err.stack) {
    io.stderr.write(`${err.stack}\n`);
  }
  return ExitCode.error;
}

/** The real process as a {@link CliIo}; Ctrl-C aborts the signal instead of killing mid-request. */
export function processIo(): CliIo {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted')));
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  };
}
