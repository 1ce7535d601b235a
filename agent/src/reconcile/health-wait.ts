import { WaitingError, type Clock } from '@driftless/common';
import {
  Marks,
  refKey,
  refOf,
  refString,
  type HealthRule,
  type KubeObject,
  type ObjectRef,
} from '../model.ts';
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
    /** Called with each object read and its health. */
    onRead?: (obj: KubeObject, health: ObjectHealth) => void;
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
        return mapLimit(group, 4, async (o) => {
          const obj = await client.get(refOf(o), options.signal);
          const judged = { ref: refOf(o), health: healthOf(obj, o) };
          if (obj) options.onRead?.(obj, judged);
          return judged;
        });
      }
      const { items } = await client.list(first.apiVersion, first.kind, {
        namespace: first.metadata.namespace ?? '',
        labelSelector: `${Marks.app}=${app}`,
        signal: options.signal,
      });
      const live = new Map(items.map((i) => [i.metadata.name, i]));
      return group.map((o) => {
        const obj = live.get(o.metadata.name);
        const judged = { ref: refOf(o), health: healthOf(obj, o) };
        if (obj) options.onRead?.(obj, judged);
        return judged;
      });
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
  /**
   * The newest copy of an object the drift watches delivered, if it is
   * watched. An object read from the API server once is then judged from
   * what its watch delivers, and asked for again only every `watchTrustMs`.
   * Default: none, every poll asks the API server.
   */
  observed?: (ref: ObjectRef) => KubeObject | null | undefined;
  /**
   * When the watch of the object's kind last delivered anything (see DriftWatcher.heardAt): a
   * watch heard from since an object's last judgement vouches that its copy is still the
   * newest, so the object is not read again while its kind's watch keeps talking. Default:
   * none, a read every `watchTrustMs`. An object known only from its apply's answer whose
   * kind's watch has not listed yet (undefined here) is read once.
   */
  heardAt?: (ref: ObjectRef) => number | undefined;
  /**
   * How long an object is judged from watch data alone, with no word from its watch since, before
   * the API server is asked again (in case the watch fell silent). Default 10 s.
   */
  watchTrustMs?: number;
}

/** The health an apply's answer shows, and the resourceVersion that answer carried. */
export interface AppliedHealth {
  health: Health;
  resourceVersion?: string;
}

/**
 * What an object's latest judgement rests on: its copy at `rv` (from the API server, the
 * apply's answer or its watch), known current at `at`. `watched`: the object was tracked by
 * then, so every later change of it reaches its watch; an apply's answer comes before the
 * sync tracks its objects, so a change in between may have been missed.
 */
interface Read {
  rv: bigint;
  at: number;
  health: ObjectHealth;
  watched: boolean;
}

/** A resourceVersion as a number, when it is one (etcd's are); undefined otherwise. */
function numeric(rv: unknown): bigint | undefined {
  return typeof rv === 'string' && /^\d+$/.test(rv) ? BigInt(rv) : undefined;
}

/** An object's resourceVersion as a number (see {@link numeric}). */
function revision(obj: KubeObject | undefined): bigint | undefined {
  return numeric(obj?.metadata['resourceVersion']);
}

/**
 * Polls the objects' health until none of them gates (see `gatesWave`:
 * Healthy, or only waiting on a consumer or a load balancer), and returns
 * the aggregate then. Each poll asks only for the objects that were not
 * Healthy at the last one, so a rollout of one Deployment among many
 * ConfigMaps costs one request per poll, not one per kind. `atApply`
 * (refKey → health and resourceVersion) stands in for the first poll of the
 * objects it has: their health judged from the answer of the apply that just
 * wrote them, so no older than that apply. With `observed`, an object judged
 * once (by the API server or by its apply's answer) is then judged from the
 * copies its watch delivers that are newer than that (none newer: it has not
 * changed). It is read again only when neither a newer copy nor (once it is
 * tracked, with `heardAt`) any word from its kind's watch came for
 * `watchTrustMs`, in case the watch fell silent; objects not watched are read
 * every poll. Degraded, or the app's health timeout passing, is a
 * {@link WaitingError} naming what is not healthy.
 */
export async function waitUntilNothingGates(
  w: HealthWait,
  objects: KubeObject[],
  atApply: ReadonlyMap<string, AppliedHealth> = new Map(),
): Promise<CurrentHealth> {
  const { clock, app } = w;
  const started = clock.now();
  const deadline = started + app.healthTimeoutMs;
  const trustMs = w.watchTrustMs ?? 10_000;
  const settled: ObjectHealth[] = [];
  const reads = new Map<string, Read>();
  let pending = objects;
  let first = true;
  // Rollouts often finish within a second: look again soon, then every poll interval.
  let delay = Math.min(100, w.pollMs);
  for (;;) {
    const now: ObjectHealth[] = [];
    const ask: KubeObject[] = [];
    for (const o of pending) {
      const ref = refOf(o);
      const key = refKey(ref);
      const applied = first ? atApply.get(key) : undefined;
      const read = reads.get(key);
      if (applied) {
        const judged = { ref, health: applied.health };
        now.push(judged);
        const rv = numeric(applied.resourceVersion);
        if (rv !== undefined)
          reads.set(key, { rv, at: clock.now(), health: judged, watched: false });
      } else if (read && w.observed) {
        const seen = w.observed(ref);
        const rv = seen ? revision(seen) : undefined;
        if (seen === undefined || (seen && rv === undefined)) ask.push(o);
        else if (seen && rv !== undefined && rv > read.rv) {
          // Delivered after the object was tracked: later changes reach the watch too.
          const judged = { ref, health: objectHealth(seen, app.health) };
          reads.set(key, { rv, at: clock.now(), health: judged, watched: true });
          now.push(judged);
        } else {
          const heardAt = w.heardAt?.(ref);
          const heard = read.watched ? (heardAt ?? read.at) : read.at;
          // An apply's answer, and the watch of its kind has not listed yet (a kind new to the
          // watches): the list may take long, and the object may have changed before it was
          // tracked, so read it once.
          if (!read.watched && w.heardAt && heardAt === undefined) ask.push(o);
          else if (clock.now() - Math.max(read.at, heard) >= trustMs) ask.push(o);
          else now.push(read.health);
        }
      } else ask.push(o);
    }
    first = false;
    if (ask.length > 0) {
      const polled = await currentHealth(w.client, ask, {
        concurrency: w.concurrency,
        signal: w.signal,
        rules: app.health,
        onRead: (obj, health) => {
          const rv = revision(obj);
          // Read while tracked (reads come after the sync tracked its objects, or not at all).
          if (rv !== undefined)
            reads.set(refKey(refOf(obj)), { rv, at: clock.now(), health, watched: true });
        },
      });
      now.push(...polled.objects);
    }
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
    // Looking at watch data costs no request: look often while only it is looked at.
    const watched = w.observed !== undefined && pending.every((o) => reads.has(refKey(refOf(o))));
    await clock.sleep(watched ? Math.min(delay, 200) : delay, w.signal);
    delay = Math.min(w.pollMs, delay * 2);
  }
}
