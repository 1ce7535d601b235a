import pg from 'pg';
import { StoreError } from '../errors.ts';
import type { Db, Queryable, Row, SqlValue } from './db.ts';

/** Options of {@link openPostgresDb}. */
export interface PostgresOptions {
  /** libpq-style connection string, e.g. `postgres://user:pw@host:5432/db`. */
  connectionString: string;
  /**
   * Pool size. Default 16: the ingest keeps up to 8 transactions in flight, and single
   * statements (API reads, Hellos, the notifier) need connections beside them.
   */
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
  maxConnections: 16,
  connectTimeoutMs: 5000,
  queryTimeoutMs: 15_000,
  queueTimeoutMs: 60_000,
} as const;

/**
 * At most `size` holders at once; the others wait, each at most `timeoutMs`: transactions
 * first, then single statements, each kind in arrival order. In front of pg's pool, whose own
 * wait counts against its connect timeout. Transactions go first because the hub's are few at
 * a time (the ingest runs a handful) and each one holds agents' acks, while single statements
 * can come by the thousand (the notifier's reads after a burst of reports): in arrival order an
 * ingest transaction waited behind them for up to a second.
 */
class Slots {
  readonly #waiting: { first: Waiter[]; rest: Waiter[] } = { first: [], rest: [] };
  #free: number;
  readonly timeoutMs: number;

  constructor(size: number, timeoutMs: number) {
    this.#free = size;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Resolves with the release function once a slot is free (`first`: ahead of those waiting
   * without it); rejects with a {@link StoreError} after the timeout.
   */
  take(first = false): Promise<() => void> {
    const release = () => {
      const next = this.#waiting.first.shift() ?? this.#waiting.rest.shift();
      if (next) {
        clearTimeout(next.timer);
        next.grant();
      } else this.#free++;
    };
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(release);
    }
    const queue = first ? this.#waiting.first : this.#waiting.rest;
    return new Promise((resolve, reject) => {
      const entry: Waiter = {
        grant: () => resolve(release),
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(entry), 1);
          reject(
            new StoreError(
              `PostgreSQL: every pooled connection stayed busy for ${this.timeoutMs} ms`,
            ),
          );
        }, this.timeoutMs),
      };
      queue.push(entry);
    });
  }
}

/** The part of a socket {@link openPostgresDb} uses to send a batch in one write. */
interface Corkable {
  cork?(): void;
  uncork?(): void;
}

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
}

/** Most texts {@link numbered} remembers; past it the memory starts over. */
const NUMBERED_CACHE_SIZE = 2000;
const numberedCache = new Map<string, string>();

/**
 * Rewrites `?` placeholders to `$1, $2, ...` (our SQL never has `?` inside literals). The same
 * few texts come again and again (an ingest batch's upserts), so the rewrite is remembered.
 */
function numbered(sql: string): string {
  let out = numberedCache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    if (numberedCache.size >= NUMBERED_CACHE_SIZE) numberedCache.clear();
    numberedCache.set(sql, out);
  }
  return out;
}

/** Runs of one text inside transactions before it becomes a named prepared statement. */
const PREPARE_AFTER = 3;
/**
 * The parameters all named statements may have together. A prepared statement keeps its
 * parsed and planned form on each pooled connection, about 0.4 KiB per parameter (1.6 MiB for a
 * 256-row upsert of 15 columns): 24,000 is about 10 MiB per connection.
 */
const PREPARED_PARAMS_BUDGET = 24_000;
/** Texts counted towards {@link PREPARE_AFTER} at most; past it the counts start over. */
const COUNTED_TEXTS = 5000;

/**
 * Which statement texts run as named prepared statements: those run inside transactions (the
 * ingest's upserts, the seq reads and bumps) at least {@link PREPARE_AFTER} times, while the
 * parameter budget lasts. PostgreSQL then parses and plans a text once per connection instead
 * of at every call: a 256-row upsert costs the server about 40 % less CPU. Statements outside
 * transactions (reads whose best plan depends on their parameters) stay unnamed, as do those
 * with `*` in them (see {@link name}).
 */
export class PreparedNames {
  readonly #counts = new Map<string, number>();
  readonly #names = new Map<string, string>();
  #budget: number;

  /** `budget`: the parameters all named texts may have together. */
  constructor(budget: number = PREPARED_PARAMS_BUDGET) {
    this.#budget = budget;
  }

  /** The name to run `text` (with `params` parameters) under, or undefined: run it unnamed. */
  name(text: string, params: number): string | undefined {
    const known = this.#names.get(text);
    // `SELECT *`: a prepared statement fails once its row type changes (another replica's
    // migration added a column), so those stay unnamed.
    if (known !== undefined || params > this.#budget || text.includes('*')) return known;
    const runs = (this.#counts.get(text) ?? 0) + 1;
    if (runs < PREPARE_AFTER) {
      if (this.#counts.size >= COUNTED_TEXTS) this.#counts.clear();
      this.#counts.set(text, runs);
      return undefined;
    }
    this.#counts.delete(text);
    this.#budget -= params;
    const name = `driftless_${this.#names.size + 1}`;
    this.#names.set(text, name);
    return name;
  }
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
  prepared?: PreparedNames,
): Promise<pg.QueryResult> {
  try {
    const text = numbered(sql);
    const name = params.length > 0 ? prepared?.name(text, params.length) : undefined;
    return await (name === undefined
      ? client.query(text, params as unknown[])
      : client.query({ name, text, values: params as unknown[] }));
  } catch (err) {
    throw new StoreError(`PostgreSQL: ${(err as Error).message} (in: ${sql.slice(0, 80)})`, {
      cause: err,
    });
  }
}

/** A statement that only reads (a read sent before its transaction's BEGIN is confirmed). */
const READ = /^\s*SELECT\b/i;

/**
 * A {@link Db} on a PostgreSQL pool (pure-JS `pg`).
 *
 * The pool's connections pipeline: a statement is sent at once, not after the answer to the
 * one before it. Inside a transaction, statements issued together (`Promise.all` of writes)
 * cost one round trip between the hub and the server instead of one each, and the first read
 * travels with the BEGIN; each statement still has its own answer and error, and after an
 * error the transaction fails as a whole. On two busy cores a round trip is two process
 * wake-ups, which is what an ingest batch waited on.
 */
export function openPostgresDb(options: PostgresOptions): Db {
  const max = options.maxConnections ?? POSTGRES_DEFAULTS.maxConnections;
  const slots = new Slots(max, options.queueTimeoutMs ?? POSTGRES_DEFAULTS.queueTimeoutMs);
  const prepared = new PreparedNames();
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max,
    connectionTimeoutMillis: options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
    query_timeout: options.queryTimeoutMs ?? POSTGRES_DEFAULTS.queryTimeoutMs,
    types,
    pipeline: true,
  });
  // A client losing its connection (PostgreSQL restarted) must never end the hub: an idle
  // one is dropped by the pool, a checked-out one below; the next query reconnects.
  pool.on('error', () => undefined);
  const rows = (run: (sql: string, params?: readonly SqlValue[]) => Promise<pg.QueryResult>) => ({
    all: async <T = Row>(sql: string, params?: readonly SqlValue[]) =>
      (await run(sql, params)).rows as T[],
    get: async <T = Row>(sql: string, params?: readonly SqlValue[]) =>
      (await run(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly SqlValue[]) => ({
      changes: (await run(sql, params)).rowCount ?? 0,
    }),
  });
  // A statement outside a transaction takes a slot for itself.
  const direct: Queryable = rows(async (sql, params = []) => {
    const release = await slots.take();
    try {
      return await query(pool, sql, params);
    } finally {
      release();
    }
  });
  /**
   * Statements of a transaction on `client`, whose BEGIN (`begun`) is on its way: the first
   * one, when it is a read, goes right behind it; any other waits until it is confirmed (a
   * write must never run outside the transaction), so they still go out in the order issued.
   * Each fails with the BEGIN's error if that failed.
   */
  const inTx = (client: pg.PoolClient, begun: Promise<unknown>): Queryable => {
    let confirmed = false;
    let first = true;
    void begun.then(
      () => (confirmed = true),
      () => undefined,
    );
    return rows(async (sql, params = []) => {
      const early = first && READ.test(sql);
      first = false;
      if (!confirmed && !early) await begun;
      return (await Promise.all([query(client, sql, params, prepared), begun]))[0];
    });
  };
  /**
   * Runs `fn` with a pooled connection of its own (a transaction's), after taking a slot ahead
   * of single statements. The connection can end while it is checked out (between two
   * statements): pg then emits 'error' on the client, which without a listener ends the
   * process. Such a client, or one `fn` marks broken (its ROLLBACK failed), is destroyed on
   * release instead of going back to the pool.
   */
  const withClient = async <T>(
    fn: (client: pg.PoolClient, markBroken: (err: Error) => void) => Promise<T>,
  ): Promise<T> => {
    const releaseSlot = await slots.take(true);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      releaseSlot();
      throw new StoreError(`PostgreSQL: connect: ${(err as Error).message}`, { cause: err });
    }
    let broken: Error | undefined;
    const onError = (err: Error) => (broken = err);
    client.on('error', onError);
    try {
      return await fn(client, (err) => void (broken ??= err));
    } finally {
      client.off('error', onError);
      client.release(broken ?? false);
      releaseSlot();
    }
  };
  return {
    dialect: 'postgres',
    ...direct,
    tx: (fn) =>
      withClient(async (client, markBroken) => {
        // Pipelined: BEGIN and the statements behind it go out without waiting for each
        // other's answers (see openPostgresDb).
        const begun = query(client, 'BEGIN');
        begun.catch(() => undefined); // awaited below, and by every statement
        try {
          const result = await fn(inTx(client, begun));
          await begun;
          await query(client, 'COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch((e: unknown) => markBroken(e as Error));
          throw err;
        }
      }),
    batch: (statements) =>
      withClient(async (client, markBroken) => {
        // Corked: BEGIN, the statements and COMMIT leave in one write.
        const stream = (client as unknown as { connection?: { stream?: Corkable } }).connection
          ?.stream;
        stream?.cork?.();
        let sent: Promise<pg.QueryResult>[];
        try {
          sent = [
            query(client, 'BEGIN'),
            ...statements.map((st) => query(client, st.sql, st.params ?? [], prepared)),
            query(client, 'COMMIT'),
          ];
        } finally {
          stream?.uncork?.();
        }
        const settled = await Promise.allSettled(sent);
        const failed = settled.find((r) => r.status === 'rejected');
        const commit = settled[settled.length - 1]!;
        // After a failed statement the server answers the COMMIT with ROLLBACK.
        if (failed || commit.status !== 'fulfilled' || commit.value.command !== 'COMMIT') {
          // Ends the transaction if the COMMIT never arrived (a no-op warning otherwise).
          await client.query('ROLLBACK').catch((e: unknown) => markBroken(e as Error));
          throw failed
            ? failed.reason
            : new StoreError('PostgreSQL: the batch was rolled back, not committed');
        }
        return settled
          .slice(1, -1)
          .map((r) => (r as PromiseFulfilledResult<pg.QueryResult>).value.rows as Row[]);
      }),
    exec: async (sql) => {
      await direct.run(sql);
    },
    close: () => pool.end(),
  };
}
