import { Marks, type KubeObject } from '../model.ts';
import { canonicalJson } from '@driftless/common';

/** One segment of a field path: an object key or a list index. */
export type PathSegment = string | number;

/**
 * Splits a path produced by `diffValues` (`.spec.replicas`,
 * `.spec.template.spec.containers[0].image`, `.metadata.labels["a.b/c"]`)
 * into its segments. `.` alone is the root: no segments.
 */
export function parsePath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  for (const m of path.matchAll(/\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) segments.push(Number(m[2]));
    else segments.push(JSON.parse(m[3] ?? '""') as string);
  }
  return segments;
}

/** One entry of `metadata.managedFields`, as far as we read it. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  time?: string;
  subresource?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
}

/** A manager that owns a path, with when it last wrote. */
export interface FieldOwner {
  manager: string;
  operation: string;
  /** Milliseconds since the epoch; 0 when the entry has no time. */
  time: number;
}

type FieldSet = Record<string, unknown>;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The child of a list node in a fieldsV1 set that stands for `item` (the live
 * list element at `index`). Lists are keyed three ways: `k:{"name":"web"}`
 * (associative lists, by their key fields), `v:"x"` (sets, by value) and
 * `i:0` (atomic-element lists by position). Best effort: an item we cannot
 * match has no owner.
 */
function listChild(node: FieldSet, item: unknown, index: number): FieldSet | undefined {
  for (const [key, child] of Object.entries(node)) {
    if (!isRecord(child)) continue;
    try {
      if (key.startsWith('k:')) {
        const fields = JSON.parse(key.slice(2)) as Record<string, unknown>;
        if (
          isRecord(item) &&
          Object.entries(fields).every(([f, v]) => canonicalJson(item[f]) === canonicalJson(v))
        )
          return child;
      } else if (key.startsWith('v:')) {
        if (canonicalJson(JSON.parse(key.slice(2))) === canonicalJson(item)) return child;
      } else if (key.startsWith('i:')) {
        if (Number(key.slice(2)) === index) return child;
      }
    } catch {
      // A key we cannot parse cannot match; other keys may.
    }
  }
  return undefined;
}

/**
 * Whether a fieldsV1 set owns the field at `segments` of `live`. A set owns a
 * path when it holds the path's node (a leaf, or a node with children, which
 * means it owns part of what is below, e.g. when a whole list differs), or
 * when it holds an ancestor as a leaf (an atomic field owned as a whole).
 */
export function ownsPath(fields: FieldSet, live: unknown, segments: PathSegment[]): boolean {
  let node: FieldSet = fields;
  let value: unknown = live;
  for (const [depth, seg] of segments.entries()) {
    if (depth > 0 && Object.keys(node).length === 0) return true;
    let next: unknown;
    if (typeof seg === 'string') {
      next = node[`f:${seg}`];
      value = isRecord(value) ? value[seg] : undefined;
    } else {
      const item = Array.isArray(value) ? (value[seg] as unknown) : undefined;
      next = listChild(node, item, seg);
      value = item;
    }
    if (!isRecord(next)) return false;
    node = next;
  }
  return true;
}

function entriesOf(live: KubeObject): ManagedFieldsEntry[] {
  const mf = live.metadata['managedFields'];
  return Array.isArray(mf) ? (mf as unknown[]).filter(isRecord) : [];
}

function timeOf(entry: ManagedFieldsEntry): number {
  const t = entry.time ? Date.parse(entry.time) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

/**
 * Every manager other than Driftless whose managedFields entry owns `path`
 * of `live`, newest first. Our own entries are left out: a field we own is
 * one we set, never the drift.
 */
export function ownersOf(live: KubeObject, path: string): FieldOwner[] {
  const segments = parsePath(path);
  return entriesOf(live)
    .filter(
      (e) =>
        e.manager &&
        e.manager !== Marks.fieldManager &&
        isRecord(e.fieldsV1) &&
        ownsPath(e.fieldsV1, live, segments),
    )
    .map((e) => ({ manager: e.manager ?? '', operation: e.operation ?? '', time: timeOf(e) }))
    .sort((a, b) => b.time - a.time);
}

/**
 * When `manager` last wrote `live` (its newest managedFields entry outside the status
 * subresource), ms since the epoch with whole-second resolution; 0 when no entry says.
 */
export function writeTimeOf(live: KubeObject, manager: string): number {
  if (!manager) return 0;
  return Math.max(
    0,
    ...entriesOf(live)
      .filter((e) => e.manager === manager && e.subresource !== 'status')
      .map((e) => timeOf(e)),
  );
}

/**
 * Who most likely changed the drifted `paths` of `live`: the newest manager
 * (other than Driftless) owning one of them. When none owns any — a field
 * someone removed has no owner left — falls back to the newest manager that
 * wrote the object after our own last write (times have one-second
 * resolution), the only other writer that can have removed it. A writer that
 * only removed fields owns nothing afterwards, so Kubernetes keeps no entry
 * for it at all: then the answer is ''. '' whenever unknown.
 */
export function changedByOf(live: KubeObject, paths: string[]): string {
  const owners = paths.flatMap((p) => ownersOf(live, p)).sort((a, b) => b.time - a.time);
  if (owners[0]) return owners[0].manager;
  const entries = entriesOf(live);
  const ours = Math.max(
    0,
    ...entries.filter((e) => e.manager === Marks.fieldManager).map((e) => timeOf(e)),
  );
  const later = entries
    .filter(
      (e) =>
        e.manager &&
        e.manager !== Marks.fieldManager &&
        e.subresource !== 'status' && // status writers never touch what Git declares
        timeOf(e) > ours,
    )
    .sort((a, b) => timeOf(b) - timeOf(a));
  return later[0]?.manager ?? '';
}
