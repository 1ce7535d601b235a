import { Marks, type KubeObject } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
// The file, not the folder's index: export/ uses plan/, and this must not make a cycle.
import { discoverNamespacedKinds } from '../export/discover.ts';

/** Objects Kubernetes itself puts in every namespace, or that only record what happened. */
function createdByKubernetes(group: string, kind: string, obj: KubeObject): boolean {
  if (kind === 'Event') return true;
  if (group === '' && kind === 'ConfigMap' && obj.metadata.name === 'kube-root-ca.crt') return true;
  if (group === '' && kind === 'ServiceAccount' && obj.metadata.name === 'default') return true;
  // Endpoints mirror a Service of the same name; EndpointSlices have owners.
  if (group === '' && kind === 'Endpoints') return true;
  return false;
}

/**
 * The first object in `namespace` that app `app` does not own (no
 * `driftless.dev/app=<app>` label and no owner reference — children of the
 * app's objects count as the app's), as `Kind name`; undefined when there is
 * none. A Namespace is never pruned while it holds such an object.
 */
export async function foreignObjectIn(
  client: KubeClient,
  namespace: string,
  app: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const kinds = await discoverNamespacedKinds({ client, signal });
  for (const r of kinds) {
    const { items } = await client.list(r.group ? `${r.group}/${r.version}` : r.version, r.kind, {
      namespace,
      labelSelector: `${Marks.app}!=${app}`,
      signal,
    });
    const foreign = items.find((o) => {
      const owners = o.metadata['ownerReferences'];
      if (Array.isArray(owners) && owners.length > 0) return false;
      return !createdByKubernetes(r.group, r.kind, o);
    });
    if (foreign) return `${r.kind} ${foreign.metadata.name}`;
  }
  return undefined;
}
