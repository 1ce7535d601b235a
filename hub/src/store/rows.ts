import type { Queryable, Row, SqlValue, Statement } from './db.ts';
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
 * Waits for statements issued together (PostgreSQL sends them pipelined: one round trip for
 * all), then throws the first one's error if any failed. Every one has ended by then, so none
 * runs on after the caller's transaction rolls back.
 */
export async function allStatements(statements: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(statements);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * PostgreSQL: `records` as one `INSERT … ON CONFLICT (key)` statement (undefined when there
 * are none): `DO UPDATE SET` every column but the key and `notUpdated`, and `also`, when
 * `update`; else `DO NOTHING`. The result is that of one single-row statement per record in
 * the given order: of records with the same key, the last is written when updating and the
 * first when not (PostgreSQL refuses a statement that updates one row twice, so the others are
 * left out here). Every row travels in one JSON parameter, an array of objects read into the
 * table's row type (`json_populate_recordset`): one short text per table whatever the number
 * of rows, parsed and planned once per connection, and one value to send instead of one per
 * column and row.
 */
export function upsertJson<T>(
  table: string,
  key: readonly string[],
  writers: ColumnWriters<T>,
  records: readonly T[],
  options: UpsertOptions,
): Statement | undefined {
  if (records.length === 0) return undefined;
  const byKey = new Map<string, Record<string, SqlValue>>();
  for (const r of records) {
    // Built in column order, so every row object has the same shape.
    const row: Record<string, SqlValue> = {};
    for (const [column, value] of writers) {
      const v = value(r);
      row[column] = typeof v === 'bigint' ? v.toString() : v;
    }
    // Key values hold no NUL (PostgreSQL text cannot).
    const k = key.length === 1 ? String(row[key[0]!]) : key.map((c) => row[c]).join('\u0000');
    if (options.update) {
      byKey.delete(k); // the last one, in its own (later) place
      byKey.set(k, row);
    } else if (!byKey.has(k)) byKey.set(k, row);
  }
  return {
    sql: upsertJsonSql(table, key, columnsOf(writers), options),
    params: [JSON.stringify([...byKey.values()])],
  };
}

/** `INSERT INTO table (columns) SELECT columns FROM json_populate_recordset(…) ON CONFLICT …`. */
function upsertJsonSql(
  table: string,
  key: readonly string[],
  columns: readonly string[],
  options: UpsertOptions,
): string {
  return builtOnce(
    'json',
    table,
    key,
    columns,
    options,
    () => `INSERT INTO ${table} (${columns.join(', ')})
       SELECT ${columns.join(', ')} FROM json_populate_recordset(CAST(NULL AS ${table}), CAST(? AS JSON))
       ${onConflict(key, columns, options)}`,
  );
}

/** Statement texts by form and what they are built from, so each is built once. */
const statementTexts = new Map<string, string>();

/** The statement text `build` makes for this form, table, key, columns and options, built once. */
function builtOnce(
  form: string,
  table: string,
  key: readonly string[],
  columns: readonly string[],
  options: UpsertOptions,
  build: () => string,
): string {
  const cacheKey = [form, table, key.join(), columns.join(), options.update]
    .concat(options.notUpdated?.join() ?? '', options.also ?? [])
    .join('\n');
  let sql = statementTexts.get(cacheKey);
  if (sql === undefined) {
    sql = build();
    statementTexts.set(cacheKey, sql);
  }
  return sql;
}

/** `ON CONFLICT (key) DO UPDATE SET …` (every column but the key and `notUpdated`) or `DO NOTHING`. */
function onConflict(key: readonly string[], columns: readonly string[], options: UpsertOptions) {
  const updates = options.update
    ? [
        ...columns
          .filter((c) => !key.includes(c) && !options.notUpdated?.includes(c))
          .map((c) => `${c} = excluded.${c}`),
        ...(options.also ?? []),
      ]
    : [];
  return `ON CONFLICT (${key.join(', ')}) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`;
}

/** Options of {@link upsertJson} and {@link insertEach}. */
export interface UpsertOptions {
  /** On a key already stored: update its row (else keep it, `DO NOTHING`). */
  update: boolean;
  /** Columns an update leaves as they are. */
  notUpdated?: readonly string[];
  /** Extra `column = expression` terms of an update. */
  also?: readonly string[];
}

const columnsOf = (writers: ColumnWriters<never>) => writers.map(([c]) => c);

/** `INSERT INTO table (columns) VALUES (?, …) ON CONFLICT (key) DO …`, built once. */
function upsertSql(
  table: string,
  key: readonly string[],
  columns: readonly string[],
  options: UpsertOptions,
): string {
  return builtOnce(
    'values',
    table,
    key,
    columns,
    options,
    () => `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
       ${onConflict(key, columns, options)}`,
  );
}

/**
 * SQLite: `records` written with one prepared single-row upsert per record, in order (so of
 * one key the last is written when updating, the first when not, as {@link upsertJson}
 * does). SQLite has no round trips to save, and a multi-row upsert costs it about twice the
 * single-row one per row.
 */
export async function insertEach<T>(
  q: Queryable,
  table: string,
  key: readonly string[],
  writers: ColumnWriters<T>,
  records: readonly T[],
  options: UpsertOptions,
): Promise<void> {
  if (records.length === 0) return;
  const sql = upsertSql(table, key, columnsOf(writers), options);
  for (const r of records)
    await q.run(
      sql,
      writers.map(([, value]) => value(r)),
    );
}

export type { Row };
