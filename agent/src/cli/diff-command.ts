import { flagsHelp, TerminalError, type FlagSpec } from '@driftless/common';
import { clusterCapabilities } from '../kube/index.ts';
import { planApp } from '../plan/index.ts';
import { connect, loadKubeConfig } from './cluster.ts';
import { desiredObjects, localApp, renderFlags } from './desired.ts';
import { CLI_ENV_PREFIX, ExitCode, oneOf, parseCommandFlags, type CliIo } from './io.ts';
import { formatPlan, hasChanges, planJson } from './plan-printer.ts';
import { onePath } from './render-command.ts';

/** Flags of `diff`. */
export const diffCommandFlags = {
  ...renderFlags,
  kubeconfig: {
    type: 'string',
    default: '',
    env: 'KUBECONFIG',
    help: 'The kubeconfig whose current context is the cluster to compare with; empty means ~/.kube/config.',
  },
  output: {
    type: 'string',
    default: 'text',
    short: 'o',
    help: 'The output format: text (one line per object and per changed field) or json (the whole plan, for scripts).',
  },
  verbose: {
    type: 'boolean',
    default: false,
    short: 'v',
    help: 'Also list unchanged objects and the fields of objects to create.',
  },
  concurrency: {
    type: 'number',
    default: 8,
    help: 'How many dry-run requests are sent to the API server at once.',
  },
} as const satisfies FlagSpec;

/** `--help` of `diff`. */
export function diffHelp(): string {
  return `Usage: driftless-agent diff PATH [flags]

Shows what a sync of the folder PATH would change in the cluster of the
current kubeconfig context: it renders and guards PATH as render does, then
plans every object with a server-side apply dry-run, exactly as the agent
plans a sync. A Helm chart is rendered for the cluster's version and APIs. Nothing is written. Objects only in the cluster are not shown:
without the agent's inventory nothing is pruned.

Each object is listed as "+ create", "~ update" with one line per changed
field ("path: before → after"), or, with -v, "= unchanged"; a summary line
gives the counts and the plan digest a manual sync's approval is bound to.

Exit status: 0 when nothing would change, 3 when something would, 1 on an
error, 2 for a wrong command line.

Examples:
  driftless-agent diff apps/podinfo/overlays/prod --app podinfo
  KUBECONFIG=~/.kube/staging driftless-agent diff charts/web -n web -o json

Flags:
${flagsHelp(diffCommandFlags, CLI_ENV_PREFIX)}
`;
}

/** `driftless-agent diff PATH`: plans a folder against the current cluster and prints the plan. */
export async function diffCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandFlags(diffCommandFlags, argv, io.env, ['values', 'allowedNamespaces']);
  if (parsed.help) {
    io.stdout.write(diffHelp());
    return ExitCode.ok;
  }
  const { values } = parsed;
  const format = oneOf('output', values.output, ['text', 'json'] as const);
  const local = localApp(
    onePath(parsed.positionals, 'diff', 'the folder to compare with the cluster'),
    values,
    io.cwd,
  );
  const kubeConfig = loadKubeConfig(values.kubeconfig, io.env);
  if (!kubeConfig) {
    throw new TerminalError(
      'diff needs a cluster: no kubeconfig (set --kubeconfig or KUBECONFIG, or create ~/.kube/config)',
    );
  }
  const client = await connect(kubeConfig);
  try {
    const desired = await desiredObjects(local, client, io.signal, () =>
      clusterCapabilities(client),
    );
    const plan = await planApp({
      client,
      app: local.app.name,
      revision: 'working-tree',
      desired,
      inventory: [], // no inventory: the CLI never prunes, so it shows no deletes
      prune: false,
      concurrency: values.concurrency,
      ...(io.signal ? { signal: io.signal } : {}),
    });
    io.stdout.write(
      format === 'json' ? planJson(plan) : formatPlan(plan, { verbose: values.verbose }),
    );
    return hasChanges(plan) ? ExitCode.changes : ExitCode.ok;
  } finally {
    client.close();
  }
}
