import { NotFoundError } from '../errors.ts';
import type { Db, Queryable } from './db.ts';
import { numberColumn, writeAudit, type Row } from './rows.ts';
import type { AuditEntry, SuspensionRecord } from './types.ts';

/**
 * Break-glass pauses asked for on the hub (`driftless suspend`). The hub keeps them so a pause
 * survives a hub restart and is sent again to an agent that reconnects; what the agent applies
 * comes back in its reports (apps.suspension_json, cluster_config.suspensions_json).
 */
export interface SuspensionStore {
  /**
   * Stores a pause of `s.cluster` (or of one app of it), ending any pause in force of the same
   * scope (the new one replaces it), with its audit entry, in one transaction. Returns the
   * pause and the pauses it ended.
   */
  suspend(
    s: Omit<SuspensionRecord, 'endedMs' | 'endedBy'>,
    audit: AuditEntry,
  ): Promise<{ suspension: SuspensionRecord; replaced: SuspensionRecord[] }>;
  /**
   * Ends the pauses in force of one scope (app '' is the whole cluster) now, with its audit
   * entry; returns them (none: nothing was paused there, and nothing is audited).
   */
  resume(
    q: { cluster: string; app: string; actor: string; nowMs: number },
    audit: AuditEntry,
  ): Promise<SuspensionRecord[]>;
  /** The pauses in force at `nowMs`, of one cluster or of all, oldest first. */
  activeSuspensions(q: { cluster?: string; nowMs: number }): Promise<SuspensionRecord[]>;
  /** Whether the cluster was ever paused from the hub (then every Hello gets the current set). */
  everSuspended(cluster: string): Promise<boolean>;
}

/**
 * The hub's pauses, and what each agent reports it applies. Migration 8: a pause survives hub
 * restarts; apps and cluster_config carry the agent's own word on its pauses.
 */
export const SUSPENSIONS_MIGRATION = {
  version: 8,
  name: 'break-glass pauses of clusters and apps',
  sql: `
CREATE TABLE suspensions (
  id TEXT PRIMARY KEY,
  cluster TEXT NOT NULL,
  -- '' pauses every app of the cluster.
  app TEXT NOT NULL,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  since_ms BIGINT NOT NULL,
  until_ms BIGINT NOT NULL,
  -- When a person ended it before until_ms (or a newer pause of the scope replaced it); 0 if not.
  ended_ms BIGINT NOT NULL DEFAULT 0,
  ended_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX suspensions_cluster ON suspensions (cluster, until_ms);
ALTER TABLE apps ADD COLUMN suspension_json TEXT NOT NULL DEFAULT 'null';
ALTER TABLE cluster_config ADD COLUMN suspensions_json TEXT NOT NULL DEFAULT '[]';
`,
};

const toSuspension = (r: Row): SuspensionRecord => ({
  id: String(r['id']),
  cluster: String(r['cluster']),
  app: String(r['app']),
  reason: String(r['reason']),
  actor: String(r['actor']),
  sinceMs: numberColumn(r['since_ms']),
  untilMs: numberColumn(r['until_ms']),
  endedMs: numberColumn(r['ended_ms']),
  endedBy: String(r['ended_by']),
});

/** Ends the pauses in force of one scope inside `tx`; returns them as ended. */
async function endScope(
  tx: Queryable,
  q: { cluster: string; app: string; actor: string; nowMs: number },
): Promise<SuspensionRecord[]> {
  const rows = await tx.all<Row>(
    'SELECT * FROM suspensions WHERE cluster = ? AND app = ? AND ended_ms = 0 AND until_ms > ? ORDER BY since_ms, id',
    [q.cluster, q.app, q.nowMs],
  );
  if (rows.length === 0) return [];
  await tx.run(
    'UPDATE suspensions SET ended_ms = ?, ended_by = ? WHERE cluster = ? AND app = ? AND ended_ms = 0 AND until_ms > ?',
    [q.nowMs, q.actor, q.cluster, q.app, q.nowMs],
  );
  return rows.map((r) => ({ ...toSuspension(r), endedMs: q.nowMs, endedBy: q.actor }));
}

/** The {@link SuspensionStore} over `db`. */
export function suspensionStore(db: Db): SuspensionStore {
  return {
    suspend: (s, audit) =>
      db.tx(async (tx) => {
        const cluster = await tx.get<Row>('SELECT name FROM clusters WHERE name = ?', [s.cluster]);
        if (!cluster) throw new NotFoundError(`cluster ${s.cluster}: not found`);
        const replaced = await endScope(tx, {
          cluster: s.cluster,
          app: s.app,
          actor: s.actor,
          nowMs: s.sinceMs,
        });
        await tx.run(
          `INSERT INTO suspensions (id, cluster, app, reason, actor, since_ms, until_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
          [s.id, s.cluster, s.app, s.reason, s.actor, s.sinceMs, s.untilMs],
        );
        await writeAudit(tx, audit, s.sinceMs);
        return { suspension: { ...s, endedMs: 0, endedBy: '' }, replaced };
      }),
    resume: (q, audit) =>
      db.tx(async (tx) => {
        const ended = await endScope(tx, q);
        if (ended.length > 0) await writeAudit(tx, audit, q.nowMs);
        return ended;
      }),
    activeSuspensions: async ({ cluster, nowMs }) => {
      const rows = cluster
        ? await db.all<Row>(
            'SELECT * FROM suspensions WHERE cluster = ? AND ended_ms = 0 AND until_ms > ? ORDER BY since_ms, id',
            [cluster, nowMs],
          )
        : await db.all<Row>(
            'SELECT * FROM suspensions WHERE ended_ms = 0 AND until_ms > ? ORDER BY cluster, since_ms, id',
            [nowMs],
          );
      return rows.map(toSuspension);
    },
    everSuspended: async (cluster) =>
      (await db.get<Row>('SELECT id FROM suspensions WHERE cluster = ? LIMIT 1', [cluster])) !==
      undefined,
  };
}
