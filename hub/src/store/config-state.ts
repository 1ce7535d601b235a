import type { Db, Queryable, Row } from './db.ts';
import type { AgentSuspension, ConfigStateRecord } from './types.ts';

/** The driftless.yaml state of each cluster, as the agents last reported it. */
export interface ConfigStateStore {
  /** The state of one cluster, or of every cluster that reported one. */
  listConfigStates(q: ConfigStateFilter): Promise<ConfigStateRecord[]>;
}

/** The {@link ConfigStateStore} over `db` (rows are written by the report ingest). */
export function configStateStore(db: Db): ConfigStateStore {
  return { listConfigStates: (q) => listConfigStates(db, q) };
}

/**
 * The state of each cluster's `driftless.yaml`, one row per cluster (the
 * newest ConfigStatus the agent sent). Kept apart from `clusters`, which the
 * enrollment and the link write, so a config report never races them.
 */
export const CONFIG_STATE_MIGRATION = {
  version: 4,
  name: "the state of each cluster's driftless.yaml",
  sql: `
CREATE TABLE cluster_config (
  cluster TEXT PRIMARY KEY,
  revision TEXT NOT NULL,
  valid INTEGER NOT NULL,
  error TEXT NOT NULL,
  file TEXT NOT NULL,
  line INTEGER NOT NULL,
  applied_revision TEXT NOT NULL,
  checked_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);
`,
};

/** Stores one ConfigStatus, replacing the cluster's previous one. */
export async function upsertConfigState(
  q: Queryable,
  cluster: string,
  c: Omit<ConfigStateRecord, 'cluster' | 'updatedMs' | 'suspensions'> & {
    suspensions?: AgentSuspension[];
  },
  nowMs: number,
): Promise<void> {
  await q.run(
    `INSERT INTO cluster_config (cluster, revision, valid, error, file, line, applied_revision, checked_ms, updated_ms, suspensions_json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (cluster) DO UPDATE SET revision = excluded.revision, valid = excluded.valid,
       error = excluded.error, file = excluded.file, line = excluded.line,
       applied_revision = excluded.applied_revision, checked_ms = excluded.checked_ms,
       updated_ms = excluded.updated_ms, suspensions_json = excluded.suspensions_json`,
    [
      cluster,
      c.revision,
      c.valid ? 1 : 0,
      c.error,
      c.file,
      c.line,
      c.appliedRevision,
      c.checkedMs,
      nowMs,
      JSON.stringify(c.suspensions ?? []),
    ],
  );
}

/**
 * Marks gone every app of `cluster` that a valid config no longer lists, with
 * a message saying so (replacing what the agent last said of it). An empty
 * list is "not known" (as in Hello): nothing is marked. A report of the app
 * brings it back.
 */
export async function markRemovedApps(
  q: Queryable,
  cluster: string,
  c: { valid: boolean; apps?: string[]; file: string; revision: string },
  nowMs: number,
): Promise<void> {
  if (!c.valid || !c.apps?.length) return;
  const listed = new Set(c.apps);
  const known = await q.all<Row>('SELECT app FROM apps WHERE cluster = ? AND gone = ?', [
    cluster,
    0,
  ]);
  const message = `removed from ${c.file} at ${c.revision.slice(0, 7)}`;
  for (const r of known) {
    const app = String(r['app']);
    if (listed.has(app)) continue;
    await q.run(
      'UPDATE apps SET gone = ?, message = ?, updated_ms = ? WHERE cluster = ? AND app = ?',
      [1, message, nowMs, cluster, app],
    );
  }
}

/** Which config states {@link listConfigStates} reads: one cluster, a name range, or all. */
export interface ConfigStateFilter {
  cluster?: string;
  /** Clusters named after `after` up to and including `through` (a page of clusters). */
  names?: { after: string; through: string };
}

/** The config state of one cluster, of a name range, or of every cluster that reported one. */
export async function listConfigStates(
  q: Queryable,
  filter: ConfigStateFilter = {},
): Promise<ConfigStateRecord[]> {
  const { cluster, names } = filter;
  const rows = cluster
    ? await q.all('SELECT * FROM cluster_config WHERE cluster = ?', [cluster])
    : names
      ? await q.all(
          'SELECT * FROM cluster_config WHERE cluster > ? AND cluster <= ? ORDER BY cluster',
          [names.after, names.through],
        )
      : await q.all('SELECT * FROM cluster_config ORDER BY cluster');
  return rows.map(toRecord);
}

function toRecord(r: Row): ConfigStateRecord {
  return {
    cluster: String(r['cluster']),
    revision: String(r['revision']),
    valid: Number(r['valid']) === 1,
    error: String(r['error']),
    file: String(r['file']),
    line: Number(r['line']),
    appliedRevision: String(r['applied_revision']),
    checkedMs: Number(r['checked_ms']),
    updatedMs: Number(r['updated_ms']),
    suspensions: parseSuspensions(r['suspensions_json']),
  };
}

function parseSuspensions(text: unknown): AgentSuspension[] {
  try {
    const v = typeof text === 'string' ? (JSON.parse(text) as unknown) : [];
    return Array.isArray(v) ? (v as AgentSuspension[]) : [];
  } catch {
    return [];
  }
}
