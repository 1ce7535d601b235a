/** The hub's records (clusters, apps, reports, approvals, tokens, audit), in SQLite or PostgreSQL. */
import { openPostgresDb } from './postgres.ts';
import { openSqliteDb } from './sqlite.ts';
import { createSqlStore, type Store } from './store.ts';

export type * from './types.ts';
export type { Store } from './store.ts';
export type {
  AppHealth,
  AppQuery,
  AppStateCount,
  DriftQuery,
  DriftState,
  HistoryQuery,
  IngestItem,
  IngestOutcome,
  IngestResult,
} from './reports.ts';
export type {
  DayCounts,
  EpisodeCounts,
  EpisodeCursor,
  FieldCounts,
  LedgerCounts,
  LedgerEpisode,
  LedgerQuery,
  LedgerStore,
  ManagerCounts,
  ObjectCounts,
} from './ledger.ts';
export { ReportOutOfOrderError } from './reports.ts';
export type { EnrollmentCompletion } from './enrollment-tokens.ts';
export type { HelloRecord } from './clusters.ts';
export type * from './notifications.ts';
export { parseSelector } from './selector.ts';
export { MIGRATIONS, migrate } from './migrations.ts';
export type * from './commit-statuses.ts';
export { STATUS_POST_LOG_SIZE } from './commit-statuses.ts';

/** Where the state lives: an SQLite file (the default) or a PostgreSQL database. */
export type StoreOptions =
  | { kind: 'sqlite'; /** File path or `:memory:`. */ path: string }
  | { kind: 'postgres'; /** Connection string. */ connectionString: string };

/** Opens a store and brings its schema up to date. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const db =
    options.kind === 'sqlite'
      ? openSqliteDb({ path: options.path })
      : openPostgresDb({ connectionString: options.connectionString });
  try {
    return await createSqlStore(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
export {
  HistoryRetention,
  HISTORY_RETENTION_DEFAULTS,
  type HistoryRetentionOptions,
} from './retention.ts';
