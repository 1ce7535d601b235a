import { errorMessage, type Logger } from '@driftless/common';
import { refKey, refOf, type KubeObject } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
import { mapLimit } from './limit.ts';

/** Options of {@link liveSnapshot}. */
export interface LiveSnapshotOptions {
  /** Groups of fewer objects of one kind in one namespace are left to single GETs. Default 3. */
  minGroup?: number;
  concurrency: number;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * The live state of many desired objects with one LIST per kind and
 * namespace instead of one GET per object: refKey → the live object, or
 * null when it does not exist. The LIST asks for at most twice as many
 * objects as the group holds (at least 100); when the namespace holds more
 * of that kind, or the LIST is refused (an identity allowed only to get),
 * the group is left out and its objects are read one by one as before, so
 * the snapshot never costs more than a bounded multiple of those GETs.
 */
export async function liveSnapshot(
  client: KubeClient,
  objects: readonly KubeObject[],
  options: LiveSnapshotOptions,
): Promise<Map<string, KubeObject | null>> {
  const groups = new Map<string, KubeObject[]>();
  for (const o of objects) {
    const key = `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}`;
    const group = groups.get(key);
    if (group) group.push(o);
    else groups.set(key, [o]);
  }
  const snapshot = new Map<string, KubeObject | null>();
  const minGroup = options.minGroup ?? 3;
  await mapLimit(
    [...groups.values()].filter((g) => g.length >= minGroup),
    options.concurrency,
    async (group) => {
      const first = group[0] as KubeObject;
      try {
        if (!(await client.resource(first.apiVersion, first.kind))) return;
        const page = await client.listPage(first.apiVersion, first.kind, {
          namespace: first.metadata.namespace ?? '',
          limit: Math.max(100, group.length * 2),
          signal: options.signal,
        });
        if (!page.complete) return;
        const live = new Map(page.items.map((i) => [i.metadata.name, i]));
        for (const o of group) snapshot.set(refKey(refOf(o)), live.get(o.metadata.name) ?? null);
      } catch (err) {
        if (options.signal?.aborted) throw err;
        options.logger?.debug(
          { kind: first.kind, namespace: first.metadata.namespace, err: errorMessage(err) },
          'live snapshot: list refused; reading these objects one by one',
        );
      }
    },
  );
  return snapshot;
}
