import { errorMessage, flagsHelp, isRetryable, type FlagSpec } from '@driftless/common';
import type { ObjectReader, ScopeResolver } from '../guard/index.ts';
import { clusterCapabilities, type KubeClient } from '../kube/index.ts';
import { connect, loadKubeConfig } from './cluster.ts';
import { desiredObjects, localApp, renderFlags } from './desired.ts';
import { CLI_ENV_PREFIX, ExitCode, parseCommandFlags, UsageError, type CliIo } from './io.ts';
import { formatObjects, outputFlag, outputFormat } from './output.ts';
import { OfflineScopes } from './scopes.ts';
import { DEFAULT_KUBE_VERSION } from '../render/index.ts';

/** Flags of `render`. */
export const renderCommandFlags = {
  ...renderFlags,
  output: outputFlag,
  offline: {
    type: 'boolean',
    default: false,
    help: 'Do not contact a cluster: tell namespaced from cluster-scoped kinds with the built-in table, taking unknown kinds as namespaced.',
  },
  kubeconfig: {
    type: 'string',
    default: '',
    env: 'KUBECONFIG',
    help: 'The kubeconfig whose current cluster tells the scopes of kinds, custom ones included; empty means ~/.kube/config, and without one the command works offline.',
  },
} as const satisfies FlagSpec;

/** `--help` of `render`. */
export function renderHelp(): string {
  return `Usage: driftless-agent render PATH [flags]

Prints the manifests the folder PATH renders to, after the same checks the
agent makes before a sync (the guard): plain YAML and JSON files, a
Kustomize overlay or a Helm chart, found out from what PATH holds. Objects
get their default namespace and the labels the agent sets. Nothing in a
cluster is changed; a cluster, when one is configured, is only asked which
kinds it serves, and a Helm chart is rendered for its version and APIs
(.Capabilities), as the agent does. Offline, Helm renders for its
built-in defaults (Kubernetes ${DEFAULT_KUBE_VERSION} and Helm's own API list).

Examples:
  driftless-agent render apps/podinfo/overlays/prod
  driftless-agent render charts/web --values charts/web/values-prod.yaml -n web -o json
  driftless-agent render manifests --offline | kubectl apply --dry-run=server -f -

Flags:
${flagsHelp(renderCommandFlags, CLI_ENV_PREFIX)}
`;
}

/** `driftless-agent render PATH`: prints the guarded manifests of a folder. */
export async function renderCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandFlags(renderCommandFlags, argv, io.env, [
    'values',
    'allowedNamespaces',
  ]);
  if (parsed.help) {
    io.stdout.write(renderHelp());
    return ExitCode.ok;
  }
  const { values } = parsed;
  const format = outputFormat(values.output);
  const local = localApp(
    onePath(parsed.positionals, 'render', 'the folder to render'),
    values,
    io.cwd,
  );
  const warn = (message: string) => io.stderr.write(`warning: ${message}\n`);

  const kubeConfig = values.offline ? undefined : loadKubeConfig(values.kubeconfig, io.env);
  let client: KubeClient | undefined;
  if (kubeConfig) {
    try {
      client = await connect(kubeConfig, 10_000);
    } catch (err) {
      // render is mostly used at a desk, where a stale kubeconfig should not stop it.
      if (!isRetryable(err)) throw err;
      warn(`${errorMessage(err)}; rendering offline`);
    }
  }
  const scopes: ScopeResolver & ObjectReader = client ?? new OfflineScopes(warn);
  try {
    const connected = client;
    const cluster = connected ? () => clusterCapabilities(connected) : undefined;
    const objects = await desiredObjects(local, scopes, io.signal, cluster);
    if (objects.length === 0) warn(`${local.app.path} rendered no objects`);
    io.stdout.write(formatObjects(objects, format));
    return ExitCode.ok;
  } finally {
    client?.close();
  }
}

/**
 * The single PATH argument of `render` and `diff`; `what` says what the folder is to the
 * command run (e.g. `the folder to render`), for the message when it is missing.
 */
export function onePath(positionals: readonly string[], command: string, what: string): string {
  if (positionals.length > 1) {
    throw new UsageError(
      `driftless-agent ${command} takes one PATH, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  if (!positionals[0]) throw new UsageError(`driftless-agent ${command} needs a PATH: ${what}`);
  return positionals[0];
}
