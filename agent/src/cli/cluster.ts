import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, TerminalError, TransientError } from '@driftless/common';
import { KubeApiError, KubeClient } from '../kube/index.ts';
import { UsageError } from './io.ts';

/**
 * The kubeconfig a command uses: `--kubeconfig` (whose environment variable
 * is KUBECONFIG, as for kubectl), else `~/.kube/config`, else the pod's
 * service account when running in a cluster. Undefined when there is none.
 */
export async function loadKubeConfig(
  flag: string,
  env: NodeJS.ProcessEnv,
): Promise<KubeConfig | undefined> {
  // Loaded on use: the client library takes most of a second to import,
  // which `render --offline` never needs.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  const files = flag.split(path.delimiter).filter(Boolean);
  const home = path.join(env['HOME'] || homedir(), '.kube', 'config');
  try {
    if (files.length > 0) {
      const missing = files.filter((f) => !existsSync(f));
      if (missing.length === files.length) {
        throw new UsageError(`kubeconfig ${files.join(path.delimiter)}: no such file`);
      }
      // KUBECONFIG may list several files; like kubectl, merge them and let
      // the first file that sets the current context win.
      for (const [i, file] of files.filter((f) => existsSync(f)).entries()) {
        if (i === 0) {
          kubeConfig.loadFromFile(file);
          continue;
        }
        const more = new KubeConfig();
        more.loadFromFile(file);
        kubeConfig.mergeConfig(more, kubeConfig.getCurrentContext() !== '');
      }
    } else if (existsSync(home)) {
      kubeConfig.loadFromFile(home);
    } else if (env['KUBERNETES_SERVICE_HOST']) {
      kubeConfig.loadFromCluster();
    } else {
      return undefined;
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new TerminalError(`read kubeconfig: ${errorMessage(err)}`, { cause: err });
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new TerminalError('kubeconfig has no current context with a cluster');
  }
  return kubeConfig;
}

/**
 * A client for the current context of `kubeConfig`, after one `GET /version`
 * so that an unreachable cluster or refused credentials fail at once, with
 * a message naming the cluster, instead of deep inside the first real step.
 * Unreachable is transient; an answer with an error status is terminal.
 */
export async function connect(kubeConfig: KubeConfig, timeoutMs = 30_000): Promise<KubeClient> {
  const client = await KubeClient.fromKubeConfig(kubeConfig, { timeoutMs, maxSockets: 8 });
  try {
    await client.request('GET', '/version');
    return client;
  } catch (err) {
    client.close();
    const cluster = describeCluster(kubeConfig);
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
export function describeCluster(kubeConfig: KubeConfig): string {
  return `${kubeConfig.getCurrentCluster()?.server ?? '?'} (context ${kubeConfig.getCurrentContext()})`;
}
