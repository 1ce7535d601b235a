import type { Queryable, Row, SqlValue } from './db.ts';
import type { AuditEntry } from './types.ts';

/**
 * Conversions between rows and records, shared by the record stores: SQLite and
 * PostgreSQL return JSON columns as text, booleans as 0/1 and int8 as numbers.
 */

/** A JSON column's text. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value);
}

/** A JSON column's value, or `fallback` when it is missing or not JSON. */
export function fromJsonText<T>(text: unknown, fallback: T): T {
  // The values most rows hold, without the parser: a fleet listing reads hundreds of
  // thousands of them.
  if (text === '[]') return [] as T;
  if (text === 'null') return null as T;
  try {
    return typeof text === 'string' ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

/** A numeric column (NULL reads as 0). */
export function numberColumn(value: unknown): number {
  return Number(value ?? 0);
}

/** A 0/1 column as a boolean. */
export function boolColumn(value: unknown): boolean {
  return Number(value) === 1;
}

/** A boolean as the 0/1 both dialects store. */
export function sqlBool(value: boolean): 0 | 1 {
  return value ? 1 : 0;
}

/** One optional condition of a WHERE clause. */
export interface Condition {
  sql: string;
  params: SqlValue[];
}

/** `sql` with `value` as its parameter, or no condition when `value` is undefined. */
export function optionalCondition(sql: string, value: SqlValue | undefined): Condition {
  return value === undefined ? { sql: '', params: [] } : { sql, params: [value] };
}

/** Builds `WHERE a AND b ...` from the conditions that are set (empty when none is). */
export function whereAll(conditions: Condition[]): Condition {
  const used = conditions.filter((c) => c.sql);
  return {
    sql: used.length ? `WHERE ${used.map((c) => c.sql).join(' AND ')}` : '',
    params: used.flatMap((c) => c.params),
  };
}

/** Writes one audit entry inside the caller's transaction. */
export async function writeAudit(tx: Queryable, entry: AuditEntry, nowMs: number): Promise<void> {
  await tx.run(
    'INSERT INTO audit_log (at_ms, actor, action, target, details_json) VALUES (?, ?, ?, ?, ?)',
    [nowMs, entry.actor, entry.action, entry.target, toJsonText(entry.details ?? {})],
  );
}

/**
 * A table's columns written from a record, listed once so that adding a column is one line
 * here (plus its migration and its reader). `value` maps the record to the stored value.
 */
export type ColumnWriters<T> = readonly (readonly [
  column: string,
  value: (record: T) => SqlValue,
])[];

/**
 * `INSERT INTO table (…) VALUES (…) ON CONFLICT (key) DO UPDATE SET` every non-key column, for
 * the columns of `writers`, with their parameters for `record`.
 */
export function upsert<T>(
  table: string,
  key: readonly string[],
  writers: ColumnWriters<T>,
  record: T,
): { sql: string; params: SqlValue[] } {
  const updates = writers
    .map(([c]) => c)
    .filter((c) => !key.includes(c))
    .map((c) => `${c} = excluded.${c}`);
  return insertOnConflict(table, key, writers, record, updates);
}

/** `INSERT … ON CONFLICT (key) DO NOTHING` for the columns of `writers`. */
export function insertIfAbsent<T>(
  table: string,
  key: readonly string[],
  writers: ColumnWriters<T>,
  record: T,
): { sql: string; params: SqlValue[] } {
  return insertOnConflict(table, key, writers, record, []);
}

/** `INSERT … ON CONFLICT (key) DO UPDATE SET updates`, or `DO NOTHING` when there are none. */
function insertOnConflict<T>(
  table: string,
  key: readonly string[],
  writers: ColumnWriters<T>,
  record: T,
  updates: readonly string[],
): { sql: string; params: SqlValue[] } {
  const columns = writers.map(([c]) => c);
  return {
    sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
          ON CONFLICT (${key.join(', ')}) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
    params: writers.map(([, value]) => value(record)),
  };
}

export type { Row };
