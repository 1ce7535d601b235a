/** Values a query parameter may take; booleans are stored as 0/1 by the caller. */
export type SqlValue = string | number | bigint | null;

/** A row as the driver returns it. */
export type Row = Record<string, unknown>;

/** Runs SQL. Statements use `?` placeholders; the PostgreSQL driver rewrites them to `$n`. */
export interface Queryable {
  /** Every row of a query. */
  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row of a query, or undefined. */
  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a write; `changes` is the number of rows it touched. */
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
}

/** One statement of {@link Db.batch}: its SQL (`?` placeholders) and parameters. */
export interface Statement {
  sql: string;
  params?: readonly SqlValue[];
}

/** Which SQL dialect a {@link Db} speaks; migrations differ slightly between them. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * A database connection (or pool) behind the store. The store's SQL is written
 * once for both dialects; only transactions and DDL details differ.
 */
export interface Db extends Queryable {
  readonly dialect: Dialect;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when
   * it throws. Writes that belong together go through here.
   */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * PostgreSQL only: runs `statements` in order in one transaction sent at once, COMMIT
   * included (one round trip), and resolves with each one's rows once committed. When one
   * fails, none is committed and this throws the first failure. Only for writes that need no
   * answer before the next one is sent.
   */
  batch?(statements: readonly Statement[]): Promise<Row[][]>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  /** Closes the connection(s). */
  close(): Promise<void>;
}
