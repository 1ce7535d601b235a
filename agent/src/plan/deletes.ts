import { groupOf, Marks, refKey, refOf, type KubeObject } from '../model.ts';
import { objectError, UnknownKindError } from '../kube/index.ts';
import { mapLimit } from './limit.ts';
import { ownedBy, phaseOf, type Plan, type PlannedObject } from './objects.ts';
import { syncOptionsOf } from './sync-options.ts';
import { foreignObjectIn } from './namespaces.ts';
import type { PlanOptions } from './plan.ts';

/**
 * Deletes for inventory objects no longer desired: only when prune is on,
 * the object carries our marks for the app, is not protected (`Prune=false`,
 * `helm.sh/resource-policy: keep`), and — for a Namespace — holds nothing
 * the app does not own.
 */
export async function planDeletes(
  options: PlanOptions,
  concurrency: number,
): Promise<{ deletes: PlannedObject[]; kept: Plan['kept'] }> {
  const { client, signal } = options;
  const desiredKeys = new Set(options.desired.map((o) => refKey(refOf(o))));
  const gone = options.inventory.filter((ref) => !desiredKeys.has(refKey(ref)));
  const kept: Plan['kept'] = [];
  const deletes: PlannedObject[] = [];
  await mapLimit(gone, concurrency, async (ref) => {
    let live: KubeObject | undefined;
    try {
      live = await client.get(ref, signal);
    } catch (err) {
      // A kind the server no longer serves has nothing left to delete.
      if (err instanceof UnknownKindError) return;
      throw objectError('plan prune of', ref, err);
    }
    if (!live) return;
    if (!options.prune) return void kept.push({ ref, reason: 'prune is off for this app' });
    if (options.holdPrune) return void kept.push({ ref, reason: options.holdPrune });
    if (!ownedBy(live, options.app)) {
      return void kept.push({ ref, reason: `not marked as owned by app ${options.app}` });
    }
    const protection = syncOptionsOf(live).keep;
    if (protection) {
      return void kept.push({
        ref,
        reason: `protected (${Marks.syncOptions}: Prune=false or ${Marks.helmResourcePolicy}: keep)`,
      });
    }
    if (ref.kind === 'Namespace' && groupOf(ref.apiVersion) === '') {
      const foreign = await foreignObjectIn(client, ref.name, options.app, signal);
      if (foreign) {
        return void kept.push({
          ref,
          reason: `it holds ${foreign}, which app ${options.app} does not own`,
        });
      }
    }
    const phase = phaseOf({ ...live, metadata: { ...live.metadata, namespace: ref.namespace } });
    deletes.push({ ref, action: 'delete', live, diff: [], phase, wave: 0 });
  });
  return { deletes, kept };
}
