import pg from 'pg';
import { StoreError } from '../errors.ts';
import type { Db, Queryable, Row, SqlValue } from './db.ts';

/** Options of {@link openPostgresDb}. */
export interface PostgresOptions {
  /** libpq-style connection string, e.g. `postgres://user:pw@host:5432/db`. */
  connectionString: string;
  /** Pool size. Default 10. */
  maxConnections?: number;
}

/** Rewrites `?` placeholders to `$1, $2, ...` (our SQL never has `?` inside literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

// int8 (bigint) columns hold millisecond times and sequence numbers, all below 2^53, so they
// come back as numbers like SQLite's, instead of pg's default strings.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20
      ? (v: string) => Number(v)
      : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
};

/** A {@link Db} on a PostgreSQL pool (pure-JS `pg`). */
export function openPostgresDb(options: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    types,
  });
  // An idle client losing its connection must not crash the hub; the next query reconnects.
  pool.on('error', () => undefined);
  const on = (client: pg.Pool | pg.PoolClient): Queryable => {
    const query = async (sql: string, params: readonly SqlValue[] = []) => {
      try {
        return await client.query(numbered(sql), params as unknown[]);
      } catch (err) {
        throw new StoreError(`PostgreSQL: ${(err as Error).message} (in: ${sql.slice(0, 80)})`, {
          cause: err,
        });
      }
    };
    return {
      all: async <T = Row>(sql: string, params?: readonly SqlValue[]) =>
        (await query(sql, params)).rows as T[],
      get: async <T = Row>(sql: string, params?: readonly SqlValue[]) =>
        (await query(sql, params)).rows[0] as T | undefined,
      run: async (sql: string, params?: readonly SqlValue[]) => ({
        changes: (await query(sql, params)).rowCount ?? 0,
      }),
    };
  };
  const direct = on(pool);
  return {
    dialect: 'postgres',
    ...direct,
    tx: async (fn) => {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw new StoreError(`PostgreSQL: connect: ${(err as Error).message}`, { cause: err });
      }
      try {
        await client.query('BEGIN');
        const result = await fn(on(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    exec: async (sql) => {
      await direct.run(sql);
    },
    close: () => pool.end(),
  };
}
