import { DatabaseSync, type StatementSync, type SQLInputValue } from 'node:sqlite';
import { StoreError } from '../errors.ts';
import type { Db, Queryable, Row, SqlValue } from './db.ts';

/** Options of {@link openSqliteDb}. */
export interface SqliteOptions {
  /** Database file path, or `:memory:`. */
  path: string;
  /** Page cache of the connection, MiB (SQLite's default is 2). Default 64. */
  cacheMiB?: number;
}

/** Defaults of {@link SqliteOptions}. */
export const SQLITE_DEFAULTS = { cacheMiB: 64 } as const;

/**
 * WAL pages (4 KiB) after which a commit checkpoints the WAL into the database file; SQLite's
 * default is 1,000. At 10,000 agents an ingest transaction of 256 reports from 256 clusters
 * writes about 470 pages, so the default checkpointed every other transaction, and most of
 * the pages it copied were written again by the next ones (see docs/benchmarks.md, "Hub at
 * fleet scale": commit time per report 34 µs with 1,000, 19 µs with 10,000).
 */
export const SQLITE_WAL_CHECKPOINT_PAGES = 10_000;

/** Size the WAL file is truncated back to after a checkpoint (bytes); it may grow past it between. */
export const SQLITE_WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * A {@link Db} on node:sqlite. node:sqlite is synchronous and has one
 * connection, so every operation queues behind a lock: otherwise a statement
 * issued while another caller's transaction awaits would run inside that
 * transaction and be rolled back with it.
 */
export function openSqliteDb(options: SqliteOptions): Db {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(options.path);
    // WAL lets readers of other processes (backups, sqlite3 CLI) in while we write; NORMAL sync
    // is durable across process crashes, which is what an ingest ack promises.
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
    db.exec('PRAGMA busy_timeout = 5000;');
    // Checkpoints run inside the COMMIT that crosses the limit, on the event loop: each copies
    // every page written since the last one into the database file and syncs both files. The
    // ingest rewrites the same pages (the clusters' seqs, the apps) over and over, so a larger
    // WAL between checkpoints copies each of them once instead of once per few transactions.
    db.exec(
      `PRAGMA wal_autocheckpoint = ${SQLITE_WAL_CHECKPOINT_PAGES}; PRAGMA journal_size_limit = ${SQLITE_WAL_SIZE_LIMIT_BYTES};`,
    );
    // A fleet-wide list reads thousands of pages; SQLite's 2 MiB cache re-reads them from the
    // file each time (500 drift rows: 0.6 vs 0.2 ms), and sorts spill to temp files.
    const cacheMiB = options.cacheMiB ?? SQLITE_DEFAULTS.cacheMiB;
    db.exec(`PRAGMA cache_size = ${-Math.round(cacheMiB * 1024)}; PRAGMA temp_store = MEMORY;`);
  } catch (err) {
    throw new StoreError(`open SQLite database ${options.path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const statements = new Map<string, StatementSync>();
  const prepare = (sql: string): StatementSync => {
    let st = statements.get(sql);
    if (!st) {
      st = db.prepare(sql);
      statements.set(sql, st);
    }
    return st;
  };
  const wrap = <T>(sql: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new StoreError(`SQLite: ${(err as Error).message} (in: ${sql.slice(0, 80)})`, {
        cause: err,
      });
    }
  };
  const direct: Queryable = {
    all: async <T = Row>(sql: string, params: readonly SqlValue[] = []) =>
      wrap(sql, () => prepare(sql).all(...(params as SQLInputValue[])) as T[]),
    get: async <T = Row>(sql: string, params: readonly SqlValue[] = []) =>
      wrap(sql, () => prepare(sql).get(...(params as SQLInputValue[])) as T | undefined),
    run: async (sql: string, params: readonly SqlValue[] = []) =>
      wrap(sql, () => ({
        changes: Number(prepare(sql).run(...(params as SQLInputValue[])).changes),
      })),
  };

  let lock: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = lock.then(fn, fn);
    lock = next.catch(() => undefined);
    return next;
  };

  return {
    dialect: 'sqlite',
    all: (sql, params) => serial(() => direct.all(sql, params)),
    get: (sql, params) => serial(() => direct.get(sql, params)),
    run: (sql, params) => serial(() => direct.run(sql, params)),
    tx: (fn) =>
      serial(async () => {
        // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading.
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(direct);
          db.exec('COMMIT');
          return result;
        } catch (err) {
          db.exec('ROLLBACK');
          throw err;
        }
      }),
    exec: (sql) => serial(async () => wrap(sql, () => db.exec(sql))),
    close: () =>
      serial(async () => {
        statements.clear();
        db.close();
      }),
  };
}
