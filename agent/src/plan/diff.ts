import { createHash } from 'node:crypto';
import { canonicalJson } from '@driftless/common';

/** One changed field: its path and the values before and after (undefined = absent). */
export interface FieldDiff {
  path: string;
  before?: unknown;
  after?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Path segment for a key: `.name`, or `["odd.key"]` when it is not a plain identifier. */
function keySegment(key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/**
 * Field-level differences between two JSON values, as paths such as
 * `.spec.replicas` or `.spec.template.spec.containers[0].image`. Objects are
 * compared key by key; arrays element by element when their lengths match,
 * else as a whole.
 */
export function diffValues(before: unknown, after: unknown, path = ''): FieldDiff[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffValues(before[k], after[k], path + keySegment(k)));
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((b, i) => diffValues(b, after[i], `${path}[${i}]`));
  }
  if (canonicalJson(before) === canonicalJson(after)) return [];
  const d: FieldDiff = { path: path || '.' };
  if (before !== undefined) d.before = before;
  if (after !== undefined) d.after = after;
  return [d];
}

/** Hex SHA-256 of the canonical JSON of `value`. */
export function digestOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** Reads a value at a path produced by {@link diffValues}. */
export function valueAt(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const m of path.matchAll(/\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    const key = m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3] ?? '""') as string));
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}
