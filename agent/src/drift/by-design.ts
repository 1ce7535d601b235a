import type { KubeObject } from '../model.ts';
import { isFinishedRunOnce, isRunOnce } from '../health/index.ts';
import type { DriftClient } from './options.ts';
import type { Tracked } from './registry.ts';

/**
 * Whether Kubernetes deleted `t` by design, so that its absence is not
 * drift: a run-once object that had finished (a Job with a TTL, see
 * health/run-once.ts), a run-once object never seen alive (deleted before we
 * looked), or an object whose owner (`ownerReferences`) is gone, deleted by
 * the garbage collector. `last` is the object as last seen. When the owner
 * cannot be read, the answer is no: reporting drift is the safe side.
 */
export async function deletedByDesign(
  client: Pick<DriftClient, 'get'>,
  t: Tracked,
  last: KubeObject | undefined,
): Promise<boolean> {
  if (isFinishedRunOnce(last)) return true;
  if (!last) return isRunOnce(t.desired);
  const owners = last.metadata['ownerReferences'];
  if (!Array.isArray(owners) || owners.length === 0) return false;
  for (const owner of owners as { apiVersion?: string; kind?: string; name?: string }[]) {
    if (!owner.apiVersion || !owner.kind || !owner.name) continue;
    try {
      const found = await client.get(
        {
          apiVersion: owner.apiVersion,
          kind: owner.kind,
          name: owner.name,
          namespace: t.ref.namespace,
        },
        t.abort.signal,
      );
      if (found) return false;
    } catch {
      return false;
    }
  }
  return true;
}
