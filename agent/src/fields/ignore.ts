import { groupOf, type IgnoreRule, type KubeObject } from '../model.ts';
import { canonicalJson } from '@driftless/common';
import {
  ownsPath,
  parsePath,
  type ManagedFieldsEntry,
  type PathSegment,
} from './managed-fields.ts';

/** A rule that holds for every app, with why, and a condition on the desired object. */
export interface BuiltInIgnoreRule extends IgnoreRule {
  /** Why the rule exists. */
  reason: string;
  /** Holds only when this is true of the desired object. */
  when?: (desired: KubeObject) => boolean;
}

/**
 * Rules that hold for every app: values that another controller fills in by
 * design, so that Git can never own them.
 */
export const WELL_KNOWN_IGNORE_RULES: readonly BuiltInIgnoreRule[] = [
  ...['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].map((kind) => ({
    group: 'admissionregistration.k8s.io',
    kind,
    jsonPointers: ['/webhooks/*/clientConfig/caBundle'],
    reason: 'webhook caBundle is injected by a certificate controller',
  })),
  {
    group: 'apiextensions.k8s.io',
    kind: 'CustomResourceDefinition',
    jsonPointers: ['/spec/conversion/webhook/clientConfig/caBundle'],
    reason: 'conversion webhook caBundle is injected by a certificate controller',
  },
  {
    group: 'apiregistration.k8s.io',
    kind: 'APIService',
    jsonPointers: ['/spec/caBundle'],
    reason: 'APIService caBundle is injected by a certificate controller',
  },
  {
    group: 'rbac.authorization.k8s.io',
    kind: 'ClusterRole',
    jsonPointers: ['/rules'],
    reason: 'the rules of an aggregated ClusterRole are filled in by the aggregation controller',
    when: (desired) => desired['aggregationRule'] !== undefined,
  },
];

/** The RFC 6901 segments of a JSON pointer; `*` stays a wildcard. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The JSON pointer of a drift path: `.spec.template.spec.containers[0].image` → `/spec/template/spec/containers/0/image`. */
export function pointerOf(path: string): string {
  return parsePath(path)
    .map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`)
    .join('');
}

/** Whether `rule` names `obj` (by group, kind, name and namespace, and its condition). */
export function ruleMatches(rule: IgnoreRule, obj: KubeObject): boolean {
  if (rule.group !== undefined && rule.group !== groupOf(obj.apiVersion)) return false;
  if (rule.kind !== '*' && rule.kind !== obj.kind) return false;
  if (rule.name !== undefined && rule.name !== obj.metadata.name) return false;
  if (rule.namespace !== undefined && rule.namespace !== (obj.metadata.namespace ?? ''))
    return false;
  const when = (rule as Partial<BuiltInIgnoreRule>).when;
  return when ? when(obj) : true;
}

/** The rules of `rules` and the well-known ones that apply to `obj`. */
export function rulesFor(obj: KubeObject, rules: readonly IgnoreRule[]): IgnoreRule[] {
  return [...WELL_KNOWN_IGNORE_RULES, ...rules].filter((r) => ruleMatches(r, obj));
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function managedEntries(live: KubeObject | undefined, managers: string[]): ManagedFieldsEntry[] {
  const mf = live?.metadata['managedFields'];
  if (!Array.isArray(mf)) return [];
  return (mf as unknown[]).filter(
    (e): e is ManagedFieldsEntry =>
      isRecord(e) && typeof e['manager'] === 'string' && managers.includes(e['manager']),
  );
}

/** Whether the pointer `pattern` covers `path` (the path is the field or below it). */
function covers(pattern: string[], path: PathSegment[]): boolean {
  if (pattern.length > path.length) return false;
  return pattern.every((p, i) => p === '*' || p === String(path[i]));
}

/**
 * Whether the field at `path` (as `diffValues` writes paths: `.spec.replicas`)
 * of `obj` is ignored by the matching `rules` (already filtered with
 * {@link rulesFor}); `live` is needed for `managedFieldsManagers` rules.
 */
export function isIgnoredPath(
  path: string,
  rules: readonly IgnoreRule[],
  live?: KubeObject,
): boolean {
  const segments = parsePath(path);
  for (const rule of rules) {
    if (rule.jsonPointers?.some((p) => covers(parsePointer(p), segments))) return true;
    const entries = managedEntries(live, rule.managedFieldsManagers ?? []);
    if (entries.some((e) => isRecord(e.fieldsV1) && ownsPath(e.fieldsV1, live, segments)))
      return true;
  }
  return false;
}

/**
 * Sets the value at `pattern` (wildcards allowed) of `node` (desired, in
 * place) to the value at the same place of `live`, or removes it where
 * `live` has none.
 */
function takeLiveAt(node: unknown, live: unknown, pattern: string[]): void {
  const [head, ...rest] = pattern;
  if (head === undefined) return;
  let keys: (string | number)[] = [];
  if (Array.isArray(node)) {
    if (head === '*') keys = node.map((_v, i) => i);
    else if (/^\d+$/.test(head)) keys = [Number(head)];
  } else if (isRecord(node)) {
    keys = head === '*' ? Object.keys(node) : [head];
  }
  // From the end, so removing a list item leaves the indexes still to visit in place.
  for (const key of [...keys].reverse()) {
    const container = node as Record<string | number, unknown>;
    if (!(key in container)) continue;
    const liveChild =
      live !== null && typeof live === 'object'
        ? (live as Record<string | number, unknown>)[key]
        : undefined;
    if (rest.length > 0) takeLiveAt(container[key], liveChild, rest);
    else if (liveChild !== undefined) container[key] = structuredClone(liveChild);
    else if (Array.isArray(node)) node.splice(key as number, 1);
    else delete container[key];
  }
}

/** The item of `list` whose key fields equal `fields` (an associative list's `k:` key). */
function itemByKey(list: unknown, fields: Record<string, unknown>): unknown {
  if (!Array.isArray(list)) return undefined;
  return list.find(
    (item) =>
      isRecord(item) &&
      Object.entries(fields).every(([f, v]) => canonicalJson(item[f]) === canonicalJson(v)),
  );
}

/**
 * For every field the fieldsV1 `set` holds, sets it in `node` (desired, in
 * place) to its value in `live`, or removes it where `live` has none. List
 * items keep their key fields.
 */
function takeLiveOwned(node: unknown, live: unknown, set: Record<string, unknown>): void {
  for (const [key, child] of Object.entries(set)) {
    if (!isRecord(child)) continue;
    const leaf = Object.keys(child).filter((k) => k !== '.').length === 0;
    if (key.startsWith('f:') && isRecord(node)) {
      const name = key.slice(2);
      if (!(name in node)) continue;
      const liveChild = isRecord(live) ? live[name] : undefined;
      if (!leaf) takeLiveOwned(node[name], liveChild, child);
      else if (liveChild !== undefined) node[name] = structuredClone(liveChild);
      else delete node[name];
    } else if (key.startsWith('k:') && Array.isArray(node)) {
      const fields = safeParse(key.slice(2));
      if (!isRecord(fields)) continue;
      const owned = Object.fromEntries(
        Object.entries(child).filter(([k]) => k !== '.' && !(k.slice(2) in fields)),
      );
      const item = itemByKey(node, fields);
      if (item !== undefined) takeLiveOwned(item, itemByKey(live, fields), owned);
    }
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * `desired` as it is applied to the existing `live` object when `rules`
 * ignore some of its fields: each ignored field (at the rules' JSON pointers,
 * or owned in `live` by the rules' managers) takes its live value, or is left
 * out where `live` has none. So an apply never changes an ignored field, and
 * never removes one Driftless applied before (leaving out a field we own
 * would delete it). Pure: returns a copy. When `live` is undefined the object
 * is about to be created and is returned whole: ignored fields still get
 * their first value from Git, as a Deployment's `replicas` under an HPA.
 */
export function withoutIgnored(
  desired: KubeObject,
  rules: readonly IgnoreRule[],
  live: KubeObject | undefined,
): KubeObject {
  const matching = rulesFor(desired, rules);
  if (live === undefined || matching.length === 0) return desired;
  const out = structuredClone(desired);
  for (const rule of matching) {
    for (const pointer of rule.jsonPointers ?? []) {
      const pattern = parsePointer(pointer);
      // Identity and bookkeeping are never ignored: an apply needs them.
      if (pattern.length === 0 || ['apiVersion', 'kind'].includes(pattern[0] ?? '')) continue;
      if (pattern[0] === 'metadata' && ['name', 'namespace'].includes(pattern[1] ?? '')) continue;
      takeLiveAt(out, live, pattern);
    }
    for (const entry of managedEntries(live, rule.managedFieldsManagers ?? [])) {
      if (!isRecord(entry.fieldsV1)) continue;
      const {
        ['f:metadata']: meta,
        ['f:apiVersion']: _a,
        ['f:kind']: _k,
        ...rest
      } = entry.fieldsV1;
      takeLiveOwned(out, live, rest);
      if (isRecord(meta)) {
        const { ['f:name']: _n, ['f:namespace']: _ns, ...metaRest } = meta;
        takeLiveOwned(out.metadata, live.metadata, metaRest);
      }
    }
  }
  return out;
}

/**
 * What the plan does with ignore rules, in one call: the object to apply
 * (see {@link withoutIgnored}) and `diff` without the ignored paths.
 */
export function respectIgnored<D extends { path: string }>(input: {
  desired: KubeObject;
  live: KubeObject | undefined;
  diff: D[];
  rules: readonly IgnoreRule[];
}): { desired: KubeObject; diff: D[] } {
  const matching = rulesFor(input.desired, input.rules);
  if (input.live === undefined || matching.length === 0)
    return { desired: input.desired, diff: input.diff };
  return {
    desired: withoutIgnored(input.desired, input.rules, input.live),
    diff: input.diff.filter((d) => !isIgnoredPath(d.path, matching, input.live)),
  };
}
