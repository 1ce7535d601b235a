import { Marks, type IgnoreRule, type KubeObject } from '../model.ts';
import { comparable, diffValues, valueAt } from '../plan/index.ts';
import { withSyncMarks } from '../apply/index.ts';
import {
  changedByOf,
  isIgnoredPath,
  pointerOf,
  rulesFor,
  withoutIgnored,
} from '../fields/index.ts';
import type { FieldDrift } from '../report/index.ts';
import type { DriftClient } from './options.ts';
import type { SyncMarks, Tracked } from './registry.ts';

/** What one comparison of an object with Git found. */
export type Verdict =
  | { kind: 'in-line'; resourceVersion?: string }
  | { kind: 'deleted'; last?: KubeObject }
  | {
      kind: 'modified';
      live: KubeObject;
      /** Fields to heal. */
      fields: FieldDrift[];
      /** Fields out of line that another manager fights over: reported, never healed. */
      fought: FieldDrift[];
      changedBy: string;
    };

/** The fields of `t` that another manager fights over, as a rule scoped to the object. */
export function fightRules(t: Tracked): IgnoreRule[] {
  if (!t.fight) return [];
  const { apiVersion, kind, namespace, name } = t.ref;
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return [{ group, kind, name, namespace, jsonPointers: t.fight.paths.map(pointerOf) }];
}

/** What our apply of `t` would send to an existing `live` object: without ignored and fought fields. */
export function desiredFor(
  t: Tracked,
  rules: readonly IgnoreRule[],
  live: KubeObject | undefined,
): KubeObject {
  return withoutIgnored(t.desired, [...rules, ...fightRules(t)], live);
}

/**
 * Compares the live object with what our apply would make of it (a
 * server-side apply dry-run of the desired object without the fields that
 * `rules` ignore and that another manager fights over). When the dry-run
 * answered for another resourceVersion than the one compared (the object
 * changed meanwhile), reads it again, so live and desired are always from the
 * same moment. Fought fields are compared with Git's value directly, so the
 * fight stays visible. Updates `t.lastSeen` and `t.needsGet`; throws the
 * client's errors.
 */
export async function compareWithGit(
  client: DriftClient,
  t: Tracked,
  sync: SyncMarks,
  rules: readonly IgnoreRule[],
): Promise<Verdict> {
  const signal = t.abort.signal;
  let live = t.needsGet || !t.lastSeen ? await client.get(t.ref, signal) : t.lastSeen;
  for (let attempt = 1; ; attempt++) {
    if (!live) return { kind: 'deleted', ...(t.lastSeen ? { last: t.lastSeen } : {}) };
    t.needsGet = false;
    t.lastSeen = live;
    const desired = desiredFor(t, rules, live);
    const dry = await client.apply(
      withSyncMarks(desired, sync.revision, sync.traceId, sync.traceparent),
      {
        fieldManager: Marks.fieldManager,
        dryRun: true,
        force: true,
        signal,
      },
    );
    const liveRv = live.metadata['resourceVersion'] as string | undefined;
    if (dry.metadata['resourceVersion'] === liveRv || attempt >= 3) {
      const liveView = comparable(live);
      const desiredView = comparable(dry);
      const matching = rulesFor(t.desired, [...rules, ...fightRules(t)]);
      const fields = diffValues(liveView, desiredView)
        .filter((d) => !isIgnoredPath(d.path, matching, live))
        .map((d) => ({
          path: d.path,
          desired: valueAt(desiredView, d.path),
          live: valueAt(liveView, d.path),
        }));
      const gitView = comparable(t.desired);
      const fought = (t.fight?.paths ?? []).flatMap((path) =>
        diffValues(valueAt(liveView, path), valueAt(gitView, path)).length === 0
          ? []
          : [{ path, desired: valueAt(gitView, path), live: valueAt(liveView, path) }],
      );
      if (fields.length === 0 && fought.length === 0)
        return { kind: 'in-line', ...(liveRv === undefined ? {} : { resourceVersion: liveRv }) };
      const changedBy = changedByOf(
        live,
        (fields.length > 0 ? fields : fought).map((f) => f.path),
      );
      return { kind: 'modified', live, fields, fought, changedBy };
    }
    live = await client.get(t.ref, signal);
  }
}
