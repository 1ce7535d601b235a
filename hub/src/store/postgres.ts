import pg from 'pg';
import { StoreError } from '../errors.ts';
import type { Db, Queryable, Row, SqlValue } from './db.ts';

/** Options of {@link openPostgresDb}. */
export interface PostgresOptions {
  /** libpq-style connection string, e.g. `postgres://user:pw@host:5432/db`. */
  connectionString: string;
  /** Pool size. Default 10. */
  maxConnections?: number;
  /** How long a query waits for a connection before it fails (the server is down). Default 5 s. */
  connectTimeoutMs?: number;
  /** How long a query may take before it fails (the server hangs). Default 15 s. */
  queryTimeoutMs?: number;
  /**
   * How long a query may wait for one of the pool's connections to be free before it fails.
   * Apart from `connectTimeoutMs`, so a burst (thousands of agents saying Hello at once) queues
   * instead of failing after the connect timeout. Default 60 s.
   */
  queueTimeoutMs?: number;
}

/** Defaults of {@link PostgresOptions}. */
export const POSTGRES_DEFAULTS = {
  maxConnections: 10,
  connectTimeoutMs: 5000,
  queryTimeoutMs: 15_000,
  queueTimeoutMs: 60_000,
} as const;

/**
 * At most `size` holders at once; the others wait in arrival order, each at most `timeoutMs`.
 * In front of pg's pool, whose own wait counts against its connect timeout.
 */
class Slots {
  readonly #waiting: { grant: () => void; timer: NodeJS.Timeout }[] = [];
  #free: number;
  readonly timeoutMs: number;

  constructor(size: number, timeoutMs: number) {
    this.#free = size;
    this.timeoutMs = timeoutMs;
  }

  /** Resolves with the release function once a slot is free; rejects after the timeout. */
  take(): Promise<() => void> {
    const release = () => {
      const next = this.#waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.grant();
      } else this.#free++;
    };
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => resolve(release),
        timer: setTimeout(() => {
          this.#waiting.splice(this.#waiting.indexOf(entry), 1);
          reject(
            new StoreError(
              `PostgreSQL: every pooled connection stayed busy for ${this.timeoutMs} ms`,
            ),
          );
        }, this.timeoutMs),
      };
      this.#waiting.push(entry);
    });
  }
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

/** Runs one statement; every failure (a lost connection too) is a {@link StoreError}. */
async function query(
  client: pg.Pool | pg.PoolClient,
  sql: string,
  params: readonly SqlValue[] = [],
): Promise<pg.QueryResult> {
  try {
    return await client.query(numbered(sql), params as unknown[]);
  } catch (err) {
    throw new StoreError(`PostgreSQL: ${(err as Error).message} (in: ${sql.slice(0, 80)})`, {
      cause: err,
    });
  }
}

/** A {@link Db} on a PostgreSQL pool (pure-JS `pg`). */
export function openPostgresDb(options: PostgresOptions): Db {
  const max = options.maxConnections ?? POSTGRES_DEFAULTS.maxConnections;
  const slots = new Slots(max, options.queueTimeoutMs ?? POSTGRES_DEFAULTS.queueTimeoutMs);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max,
    connectionTimeoutMillis: options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
    query_timeout: options.queryTimeoutMs ?? POSTGRES_DEFAULTS.queryTimeoutMs,
    types,
  });
  // A client losing its connection (PostgreSQL restarted) must never end the hub: an idle
  // one is dropped by the pool, a checked-out one below; the next query reconnects.
  pool.on('error', () => undefined);
  const on = (client: pg.Pool | pg.PoolClient): Queryable => {
    // A statement outside a transaction takes a slot for itself; inside one, the
    // transaction holds it already.
    const run =
      client instanceof pg.Pool
        ? async (sql: string, params: readonly SqlValue[] = []) => {
            const release = await slots.take();
            try {
              return await query(client, sql, params);
            } finally {
              release();
            }
          }
        : (sql: string, params: readonly SqlValue[] = []) => query(client, sql, params);
    return {
      all: async <T = Row>(sql: string, params?: readonly SqlValue[]) =>
        (await run(sql, params)).rows as T[],
      get: async <T = Row>(sql: string, params?: readonly SqlValue[]) =>
        (await run(sql, params)).rows[0] as T | undefined,
      run: async (sql: string, params?: readonly SqlValue[]) => ({
        changes: (await run(sql, params)).rowCount ?? 0,
      }),
    };
  };
  const direct = on(pool);
  return {
    dialect: 'postgres',
    ...direct,
    tx: async (fn) => {
      const releaseSlot = await slots.take();
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        releaseSlot();
        throw new StoreError(`PostgreSQL: connect: ${(err as Error).message}`, { cause: err });
      }
      // The connection can end while the client is checked out (between two statements of
      // this transaction): pg then emits 'error' on the client, which without a listener
      // ends the process. The client is destroyed on release instead of going back.
      let broken: Error | undefined;
      const onError = (err: Error) => (broken = err);
      client.on('error', onError);
      try {
        await query(client, 'BEGIN');
        const result = await fn(on(client));
        await query(client, 'COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: unknown) => (broken ??= e as Error));
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken ?? false);
        releaseSlot();
      }
    },
    exec: async (sql) => {
      await direct.run(sql);
    },
    close: () => pool.end(),
  };
}
