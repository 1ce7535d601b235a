import type { Db, Dialect, Queryable } from './db.ts';
import { ANSWERS_MIGRATION } from './answers.ts';
import { COMMIT_STATUS_MIGRATION } from './commit-statuses.ts';
import { CONFIG_STATE_MIGRATION } from './config-state.ts';
import { SUSPENSIONS_MIGRATION } from './suspensions.ts';
import { LEDGER_MIGRATION } from './ledger.ts';
import { NOTIFICATIONS_MIGRATION } from './notifications.ts';
import { FLEET_INDEXES_MIGRATION } from './fleet-indexes.ts';

/** One schema change. Versions only ever grow; a released migration is never edited. */
export interface Migration {
  version: number;
  name: string;
  /** DDL for both dialects; `{{id}}` becomes the auto-increment key of the dialect. */
  sql: string;
  /** Rewrites existing rows after `sql`, in the same transaction (when SQL alone cannot). */
  data?: (q: Queryable) => Promise<void>;
}

/**
 * The schema, as an ordered list of migrations. Times are `*_ms` integers
 * (milliseconds since the epoch), flags are 0/1 integers and structured
 * values are JSON text, so one SQL text serves SQLite and PostgreSQL.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'fleet state, enrollment, access and audit',
    sql: `
CREATE TABLE clusters (
  name TEXT PRIMARY KEY,
  labels_json TEXT NOT NULL DEFAULT '{}',
  -- Labels a person put on the enrollment token; they win over what the agent reports.
  admin_labels_json TEXT NOT NULL DEFAULT '{}',
  agent_version TEXT NOT NULL DEFAULT '',
  connected INTEGER NOT NULL DEFAULT 0,
  last_seen_ms BIGINT NOT NULL DEFAULT 0,
  enrolled_ms BIGINT NOT NULL DEFAULT 0,
  revoked_ms BIGINT NOT NULL DEFAULT 0,
  last_agent_seq BIGINT NOT NULL DEFAULT 0,
  hub_seq BIGINT NOT NULL DEFAULT 0,
  acked_hub_seq BIGINT NOT NULL DEFAULT 0
);
-- One row per label, so a selector like env=prod,region=eu is an indexed join.
CREATE TABLE cluster_labels (
  cluster TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (cluster, key)
);
CREATE INDEX cluster_labels_kv ON cluster_labels (key, value);
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  cluster TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
  issued_ms BIGINT NOT NULL,
  not_after_ms BIGINT NOT NULL,
  revoked_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX certificates_cluster ON certificates (cluster);
CREATE TABLE enrollment_tokens (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  cluster TEXT NOT NULL,
  labels_json TEXT NOT NULL DEFAULT '{}',
  created_ms BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  expires_ms BIGINT NOT NULL,
  max_uses INTEGER NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0,
  revoked_ms BIGINT NOT NULL DEFAULT 0,
  last_used_ms BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  revoked_ms BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE apps (
  cluster TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
  app TEXT NOT NULL,
  revision TEXT NOT NULL DEFAULT '',
  sync_status TEXT NOT NULL DEFAULT 'unknown',
  sync_mode TEXT NOT NULL DEFAULT 'unknown',
  health TEXT NOT NULL DEFAULT 'unknown',
  health_message TEXT NOT NULL DEFAULT '',
  drift_count INTEGER NOT NULL DEFAULT 0,
  plan_digest TEXT NOT NULL DEFAULT '',
  pending_plan_json TEXT NOT NULL DEFAULT '[]',
  message TEXT NOT NULL DEFAULT '',
  last_sync_ms BIGINT NOT NULL DEFAULT 0,
  updated_ms BIGINT NOT NULL DEFAULT 0,
  gone INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (cluster, app)
);
CREATE TABLE drifts (
  cluster TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
  drift_id TEXT NOT NULL,
  app TEXT NOT NULL,
  object_json TEXT NOT NULL,
  object_ref TEXT NOT NULL,
  drift_type TEXT NOT NULL,
  fields_json TEXT NOT NULL,
  changed_by TEXT NOT NULL,
  detected_ms BIGINT NOT NULL,
  healed INTEGER NOT NULL DEFAULT 0,
  healed_ms BIGINT NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  last_sync_trace_id TEXT NOT NULL DEFAULT '',
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (cluster, drift_id)
);
CREATE INDEX drifts_detected ON drifts (detected_ms);
CREATE TABLE sync_history (
  cluster TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
  sync_id TEXT NOT NULL,
  app TEXT NOT NULL,
  revision TEXT NOT NULL,
  result TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  plan_digest TEXT NOT NULL DEFAULT '',
  objects_json TEXT NOT NULL DEFAULT '[]',
  steps_json TEXT NOT NULL DEFAULT '[]',
  trace_id TEXT NOT NULL DEFAULT '',
  started_ms BIGINT NOT NULL,
  finished_ms BIGINT NOT NULL,
  health TEXT NOT NULL DEFAULT 'unknown',
  retryable INTEGER NOT NULL DEFAULT 0,
  approval_id TEXT NOT NULL DEFAULT '',
  received_ms BIGINT NOT NULL,
  PRIMARY KEY (cluster, sync_id)
);
CREATE INDEX sync_history_finished ON sync_history (finished_ms);
CREATE TABLE report_gaps (
  cluster TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
  first_seq BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  count BIGINT NOT NULL,
  summary TEXT NOT NULL,
  received_ms BIGINT NOT NULL,
  PRIMARY KEY (cluster, first_seq)
);
CREATE TABLE approvals (
  id TEXT PRIMARY KEY,
  cluster TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
  app TEXT NOT NULL,
  revision TEXT NOT NULL,
  plan_digest TEXT NOT NULL,
  approved_by TEXT NOT NULL,
  approved_ms BIGINT NOT NULL,
  hub_seq BIGINT NOT NULL,
  delivered_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX approvals_cluster_seq ON approvals (cluster, hub_seq);
CREATE TABLE audit_log (
  id {{id}},
  at_ms BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  details_json TEXT NOT NULL DEFAULT '{}'
);
`,
  },
  {
    version: 2,
    name: 'the repository and branch each cluster follows',
    // From the agent's Hello; the Git webhook receiver matches pushes against the live
    // sessions, and these columns show people which repository a cluster follows.
    sql: `
ALTER TABLE clusters ADD COLUMN repo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE clusters ADD COLUMN branch TEXT NOT NULL DEFAULT '';
`,
  },
  {
    version: 3,
    name: 'how each drift closed, and fights with other controllers',
    sql: `
ALTER TABLE drifts ADD COLUMN closed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE drifts ADD COLUMN fight_json TEXT NOT NULL DEFAULT 'null';
`,
  },
  CONFIG_STATE_MIGRATION,
  {
    version: 5,
    name: 'revocation sticks: enrollment blocked after a revocation; NATS user keys per cluster',
    // A revoked cluster name enrolls again only after an administrator allows it; the NATS
    // user keys issued to a cluster are kept (public keys only) so a revocation can name them
    // in the account JWT nats-server checks.
    sql: `
ALTER TABLE clusters ADD COLUMN enrollment_blocked INTEGER NOT NULL DEFAULT 0;
CREATE TABLE nats_users (
  public_key TEXT PRIMARY KEY,
  cluster TEXT NOT NULL,
  issued_ms BIGINT NOT NULL,
  revoked_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX nats_users_cluster ON nats_users (cluster);
`,
  },
  NOTIFICATIONS_MIGRATION,
  COMMIT_STATUS_MIGRATION,
  SUSPENSIONS_MIGRATION,
  LEDGER_MIGRATION,
  FLEET_INDEXES_MIGRATION,
  ANSWERS_MIGRATION,
];

const AUTO_ID: Record<Dialect, string> = {
  sqlite: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  postgres: 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
};

/**
 * Brings the schema up to the newest migration, each migration in its own
 * transaction together with its row in `schema_migrations`. On PostgreSQL an
 * advisory lock keeps two hub replicas starting at once from racing.
 * Returns the versions applied now.
 */
export async function migrate(
  db: Db,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)',
  );
  const applied: number[] = [];
  for (const m of migrations) {
    const done = await db.tx(async (q) => {
      if (db.dialect === 'postgres') await q.get('SELECT pg_advisory_xact_lock(4242)');
      const row = await q.get('SELECT version FROM schema_migrations WHERE version = ?', [
        m.version,
      ]);
      if (row) return false;
      for (const stmt of m.sql.replaceAll('{{id}}', AUTO_ID[db.dialect]).split(/;\s*\n/)) {
        const text = stmt.replace(/^--.*$/gm, '').trim();
        if (text) await q.run(text);
      }
      await m.data?.(q);
      await q.run('INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)', [
        m.version,
        m.name,
        Date.now(),
      ]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}
