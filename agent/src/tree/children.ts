import { UnknownKindError, type KubeClient } from '../kube/index.ts';
import type { KubeObject } from '../model.ts';

/**
 * The kinds listed (per namespace of the app's objects) to find children by owner reference:
 * Deployment → ReplicaSet → Pod, StatefulSet/DaemonSet/Job → Pod, CronJob → Job → Pod,
 * Service → EndpointSlice, and claims a controller made. Anything of these kinds whose
 * ownerReferences point at an object of the tree joins it, whatever the owner's kind.
 */
export const CHILD_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
];

/** One owner reference of an object. */
interface OwnerRef {
  uid: string;
  controller: boolean;
}

/** The owners of `obj`, the controller first. */
export function ownersOf(obj: KubeObject): OwnerRef[] {
  const refs = obj.metadata['ownerReferences'];
  if (!Array.isArray(refs)) return [];
  const owners = refs.flatMap((r: { uid?: unknown; controller?: unknown }) =>
    typeof r.uid === 'string' ? [{ uid: r.uid, controller: r.controller === true }] : [],
  );
  return owners.sort((a, b) => Number(b.controller) - Number(a.controller));
}

/**
 * Every object of {@link CHILD_KINDS} in `namespace` that has an owner, by owner uid. A kind
 * the API server does not serve is skipped.
 */
export async function ownedObjects(
  client: KubeClient,
  namespace: string,
  signal: AbortSignal,
): Promise<Map<string, KubeObject[]>> {
  const byOwner = new Map<string, KubeObject[]>();
  for (const { apiVersion, kind } of CHILD_KINDS) {
    let items: KubeObject[];
    try {
      ({ items } = await client.list(apiVersion, kind, { namespace, signal }));
    } catch (err) {
      if (err instanceof UnknownKindError) continue;
      throw err;
    }
    for (const obj of items) {
      for (const owner of ownersOf(obj)) {
        const list = byOwner.get(owner.uid) ?? [];
        list.push(obj);
        byOwner.set(owner.uid, list);
      }
    }
  }
  for (const list of byOwner.values())
    list.sort((a, b) =>
      `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`),
    );
  return byOwner;
}
