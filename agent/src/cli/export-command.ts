import { flagsHelp, TerminalError, type FlagSpec } from '@driftless/common';
import { exportNamespace } from '../export/index.ts';
import { connect, loadKubeConfig } from './cluster.ts';
import { CLI_ENV_PREFIX, ExitCode, parseCommandFlags, UsageError, type CliIo } from './io.ts';
import { formatObjects, outputFlag, outputFormat } from './output.ts';

/** Flags of `export`. */
export const exportCommandFlags = {
  namespace: {
    type: 'string',
    default: '',
    short: 'n',
    help: 'The namespace to export; required.',
  },
  includeSecrets: {
    type: 'boolean',
    default: false,
    help: 'Export Secrets too; off by default because their values would land in Git as plaintext.',
  },
  output: outputFlag,
  kubeconfig: {
    type: 'string',
    default: '',
    env: 'KUBECONFIG',
    help: 'The kubeconfig whose current context is the cluster to read; empty means ~/.kube/config.',
  },
} as const satisfies FlagSpec;

/** `--help` of `export`. */
export function exportHelp(): string {
  return `Usage: driftless-agent export --namespace NS [flags]

Prints what runs in namespace NS as clean manifests, to bring existing state
into Git. Every kind the cluster serves and lets you list is read, and each
object keeps only the fields that someone declared: status, server metadata
(uid, resourceVersion, managedFields, ...), the last-applied annotation and
values the API server filled in by default are removed, using the object's
managedFields to tell them apart.

Left out as generated or not user state: objects managed by a controller
(ReplicaSets of Deployments, their Pods, Jobs of CronJobs), Events,
Endpoints, EndpointSlices, Leases, ControllerRevisions, the default
ServiceAccount, the kube-root-ca.crt ConfigMap, service account tokens,
Driftless inventories, and Secrets unless --include-secrets is given.

Examples:
  driftless-agent export --namespace shop > apps/shop/base/all.yaml
  driftless-agent export -n shop -o json | jq '.items[].kind'

Flags:
${flagsHelp(exportCommandFlags, CLI_ENV_PREFIX)}
`;
}

/** `driftless-agent export --namespace NS`: prints the namespace's objects as clean manifests. */
export async function exportCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandFlags(exportCommandFlags, argv, io.env);
  if (parsed.help) {
    io.stdout.write(exportHelp());
    return ExitCode.ok;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${positionals[0]}: export takes --namespace NS`);
  if (!values.namespace) throw new UsageError('missing --namespace: the namespace to export');
  const format = outputFormat(values.output);
  const kubeConfig = loadKubeConfig(values.kubeconfig, io.env);
  if (!kubeConfig) {
    throw new TerminalError(
      'export needs a cluster: no kubeconfig (set --kubeconfig or KUBECONFIG, or create ~/.kube/config)',
    );
  }
  const client = await connect(kubeConfig);
  try {
    const objects = await exportNamespace({
      client,
      namespace: values.namespace,
      includeSecrets: values.includeSecrets,
      onWarning: (message) => io.stderr.write(`warning: ${message}\n`),
      ...(io.signal ? { signal: io.signal } : {}),
    });
    if (objects.length === 0)
      io.stderr.write(`warning: nothing to export in namespace ${values.namespace}\n`);
    io.stdout.write(formatObjects(objects, format));
    return ExitCode.ok;
  } finally {
    client.close();
  }
}
