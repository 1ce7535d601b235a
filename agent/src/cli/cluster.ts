import { existsSync } from 'node:fs';
import path from 'node:path';
import { errorMessage, TerminalError, TransientError } from '@driftless/common';
import { KubeApiError, KubeClient, loadClusterAccess, type ClusterAccess } from '../kube/index.ts';
import { UsageError } from './io.ts';

/**
 * The cluster a command talks to: `--kubeconfig` (whose environment variable
 * is KUBECONFIG, as for kubectl; several files are merged as kubectl merges
 * them), else `~/.kube/config`, else the pod's service account when running
 * in a cluster. Undefined when there is none.
 * @throws UsageError when every listed file is missing; TerminalError when the kubeconfig is unusable.
 */
export function loadKubeConfig(flag: string, env: NodeJS.ProcessEnv): ClusterAccess | undefined {
  const files = flag.split(path.delimiter).filter(Boolean);
  if (files.length > 0 && files.every((f) => !existsSync(f))) {
    throw new UsageError(`kubeconfig ${files.join(path.delimiter)}: no such file`);
  }
  // An unset flag must not fall back to this process's KUBECONFIG: the flag's
  // environment variable was already read into `flag`.
  return loadClusterAccess(files, { env: { ...env, KUBECONFIG: '' } });
}

/**
 * A client for the current context of `kubeConfig`, after one `GET /version`
 * so that an unreachable cluster or refused credentials fail at once, with
 * a message naming the cluster, instead of deep inside the first real step.
 * Unreachable is transient; an answer with an error status is terminal.
 */
export async function connect(access: ClusterAccess, timeoutMs = 30_000): Promise<KubeClient> {
  const client = await KubeClient.fromKubeConfig(access, { timeoutMs, maxSockets: 8 });
  try {
    await client.request('GET', '/version');
    return client;
  } catch (err) {
    client.close();
    const cluster = describeCluster(access);
    if (err instanceof KubeApiError) {
      throw new TerminalError(`cluster ${cluster} refused us: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    throw new TransientError(`cannot reach cluster ${cluster}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** `server (context name)`, how messages name the cluster a command talks to. */
export function describeCluster(access: ClusterAccess): string {
  return `${access.server.href.replace(/\/$/, '')} (context ${access.contextName})`;
}
