/**
 * The `FieldsV1` sets of `metadata.managedFields`: which fields of an object
 * a field manager set. Export keeps only fields some user-side manager set,
 * which drops what the API server filled in by itself without a list of
 * every default of every kind.
 *
 * A set is a JSON tree. Its keys are `f:<field>` (a field of a map or struct),
 * `k:{"name":"web"}` (an item of an associative list, matched by its key
 * fields), `v:<json>` (an item of a set, matched by value), `i:<index>` (an
 * item of an atomic-element list, by position) and `.` (the node itself is a
 * member, besides some of its children). A node with no child keys owns its
 * whole value: that is how atomic fields (e.g. `args`, a Deployment's
 * `selector`) are recorded.
 */
import { canonicalJson } from '@driftless/common';

/** A fieldsV1 tree, e.g. `{"f:spec": {"f:replicas": {}}}`. */
export type FieldSet = { [key: string]: FieldSet };

/** One step of a path into an object: a map key or a list index. */
export type PathSegment = string | number;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a node names any children; one that does not owns its whole value. */
function hasChildren(set: FieldSet): boolean {
  return Object.keys(set).some((k) => k !== '.');
}

/** Reads a fieldsV1 value from the API server, dropping anything that is not a tree. */
export function asFieldSet(value: unknown): FieldSet | undefined {
  if (!isRecord(value)) return undefined;
  const out: FieldSet = {};
  for (const [k, v] of Object.entries(value)) {
    const child = asFieldSet(v);
    if (child) out[k] = child;
  }
  return out;
}

/**
 * The union of several sets: a path is a member when it is in any of them.
 * A node that is a bare member in one set (no children) and has children in
 * another becomes a member with those children (`.` plus the children), so
 * the union still says the node itself is owned.
 */
export function unionFieldSets(sets: readonly FieldSet[]): FieldSet {
  const out: FieldSet = {};
  for (const set of sets) mergeInto(out, set);
  return out;
}

function mergeInto(target: FieldSet, source: FieldSet): void {
  for (const [key, child] of Object.entries(source)) {
    const existing = target[key];
    if (existing === undefined) {
      target[key] = structuredClone(child);
      continue;
    }
    const wasBare = !hasChildren(existing);
    const isBare = !hasChildren(child);
    mergeInto(existing, child);
    if (wasBare !== isBare) existing['.'] = {};
  }
}

/**
 * The child of a list node that stands for `item`, the live element at
 * `index`: by key fields (`k:`), by value (`v:`) or by position (`i:`).
 */
export function listItemSet(set: FieldSet, item: unknown, index: number): FieldSet | undefined {
  for (const [key, child] of Object.entries(set)) {
    if (key.startsWith('i:')) {
      if (Number(key.slice(2)) === index) return child;
      continue;
    }
    if (!key.startsWith('k:') && !key.startsWith('v:')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(key.slice(2));
    } catch {
      continue; // a key we cannot read cannot match; another key may
    }
    if (key.startsWith('v:')) {
      if (canonicalJson(parsed) === canonicalJson(item)) return child;
    } else if (
      isRecord(parsed) &&
      isRecord(item) &&
      Object.entries(parsed).every(([f, v]) => canonicalJson(item[f]) === canonicalJson(v))
    ) {
      return child;
    }
  }
  return undefined;
}

/**
 * `value` reduced to the members of `set`: map fields the set names, list
 * items it matches, and whole values where the set owns a node without
 * naming its children. Fields and items the set does not name are dropped.
 */
export function pickFields(value: unknown, set: FieldSet): unknown {
  if (!hasChildren(set)) return structuredClone(value);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(set)) {
      if (!key.startsWith('f:')) continue;
      const field = key.slice(2);
      if (Object.hasOwn(value, field)) out[field] = pickFields(value[field], child);
    }
    return out;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    value.forEach((item: unknown, index) => {
      const child = listItemSet(set, item, index);
      if (child) out.push(pickFields(item, child));
    });
    return out;
  }
  // A scalar where the set expected structure: the set is stale; the value is owned.
  return value;
}

/**
 * Whether `set` owns the field at `path` of `value`: the set holds the path's
 * node, or an ancestor of it as a whole (an atomic field).
 */
export function ownsPath(set: FieldSet, value: unknown, path: readonly PathSegment[]): boolean {
  let node = set;
  let current = value;
  for (const [depth, segment] of path.entries()) {
    if (depth > 0 && !hasChildren(node)) return true;
    let next: FieldSet | undefined;
    if (typeof segment === 'string') {
      next = node[`f:${segment}`];
      current = isRecord(current) ? current[segment] : undefined;
    } else {
      const item: unknown = Array.isArray(current) ? current[segment] : undefined;
      next = listItemSet(node, item, segment);
      current = item;
    }
    if (next === undefined) return false;
    node = next;
  }
  return true;
}
