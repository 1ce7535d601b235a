import { WaitingError, type Clock } from '@driftless/common';
import { Marks, refKey, refOf, refString, type HealthRule, type KubeObject } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
import { DEFAULT_CONCURRENCY, isRunOnce, mapLimit } from '../plan/index.ts';
import {
  aggregateHealth,
  gatesWave,
  healthOf as objectHealth,
  type Health,
  type ObjectHealth,
} from '../health/index.ts';
import type { HealthState } from '../report/index.ts';

/** An app's health now: the aggregate, and each object's. */
export interface CurrentHealth {
  status: HealthState;
  message: string;
  objects: ObjectHealth[];
}

/**
 * Current health of objects: one LIST (by the app's label) per kind and
 * namespace holding several of them, a GET for single objects, so a health
 * poll costs a handful of requests rather than one per object. `rules` are
 * the app's own CEL rules.
 */
export async function currentHealth(
  client: KubeClient,
  objects: KubeObject[],
  options: {
    concurrency?: number;
    signal?: AbortSignal;
    rules?: readonly HealthRule[];
  } = {},
): Promise<CurrentHealth> {
  const rules = options.rules ?? [];
  // A run-once object that is gone finished: only finished Jobs are removed by their TTL.
  const healthOf = (obj: KubeObject | undefined, desired: KubeObject): Health =>
    obj === undefined && isRunOnce(desired)
      ? { status: 'Healthy', message: `${refString(refOf(desired))}: ran; removed by its TTL` }
      : objectHealth(obj, rules);
  const groups = new Map<string, KubeObject[]>();
  for (const o of objects) {
    const key = `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  const perGroup = await mapLimit(
    [...groups.values()],
    options.concurrency ?? DEFAULT_CONCURRENCY,
    async (group) => {
      const first = group[0] as KubeObject;
      const app = first.metadata.labels?.[Marks.app];
      if (group.length === 1 || !app) {
        return mapLimit(group, 4, async (o) => ({
          ref: refOf(o),
          health: healthOf(await client.get(refOf(o), options.signal), o),
        }));
      }
      const { items } = await client.list(first.apiVersion, first.kind, {
        namespace: first.metadata.namespace ?? '',
        labelSelector: `${Marks.app}=${app}`,
        signal: options.signal,
      });
      const live = new Map(items.map((i) => [i.metadata.name, i]));
      return group.map((o) => ({
        ref: refOf(o),
        health: healthOf(live.get(o.metadata.name), o),
      }));
    },
  );
  const all = perGroup.flat();
  return { ...aggregateHealth(all), objects: all };
}

/** What {@link waitUntilNothingGates} needs. */
export interface HealthWait {
  client: KubeClient;
  app: { name: string; healthTimeoutMs: number; health: readonly HealthRule[] };
  clock: Clock;
  /** Longest pause between two polls. */
  pollMs: number;
  concurrency?: number;
  signal?: AbortSignal;
}

/**
 * Polls the objects' health until none of them gates (see `gatesWave`:
 * Healthy, or only waiting on a consumer or a load balancer), and returns
 * the aggregate then. Each poll asks only for the objects that were not
 * Healthy at the last one, so a rollout of one Deployment among many ConfigMaps
 * costs one request per poll, not one per kind. `atApply` (refKey → health)
 * stands in for the first poll of the objects it has: their health judged
 * from the answer of the apply that just wrote them, so no older than that
 * apply. Degraded, or the app's health timeout passing, is a
 * {@link WaitingError} naming what is not healthy.
 */
export async function waitUntilNothingGates(
  w: HealthWait,
  objects: KubeObject[],
  atApply: ReadonlyMap<string, Health> = new Map(),
): Promise<CurrentHealth> {
  const { clock, app } = w;
  const started = clock.now();
  const deadline = started + app.healthTimeoutMs;
  const settled: ObjectHealth[] = [];
  let pending = objects;
  let known = objects.flatMap((o) => {
    const health = atApply.get(refKey(refOf(o)));
    return health ? [{ ref: refOf(o), health }] : [];
  });
  // Rollouts often finish within a second: look again soon, then every poll interval.
  let delay = Math.min(100, w.pollMs);
  for (;;) {
    const judged = new Set(known.map((k) => refKey(k.ref)));
    const ask = pending.filter((o) => !judged.has(refKey(refOf(o))));
    const polled =
      ask.length === 0
        ? []
        : (
            await currentHealth(w.client, ask, {
              concurrency: w.concurrency,
              signal: w.signal,
              rules: app.health,
            })
          ).objects;
    const now = [...known, ...polled];
    known = [];
    const all = [...settled, ...now];
    if (!now.some((o) => gatesWave(o.health))) return { ...aggregateHealth(all), objects: all };
    const worst = aggregateHealth(all);
    if (worst.status === 'Degraded' || clock.now() >= deadline) {
      throw new WaitingError(
        `app ${app.name} is ${worst.status} after ${Math.round((clock.now() - started) / 1000)}s: ${worst.message}`,
      );
    }
    // Healthy objects are not asked again; the rest (gating, or waiting without gating) are.
    const unsettled = new Set<string>();
    for (const o of now) {
      if (o.health.status === 'Healthy') settled.push(o);
      else unsettled.add(refString(o.ref));
    }
    pending = pending.filter((o) => unsettled.has(refString(refOf(o))));
    await clock.sleep(delay, w.signal);
    delay = Math.min(w.pollMs, delay * 2);
  }
}
