import type { Db } from './db.ts';
import {
  numberColumn,
  fromJsonText,
  optionalCondition,
  whereAll,
  writeAudit,
  type Row,
} from './rows.ts';
import type { AuditEntry, AuditRecord } from './types.ts';

/** The audit log: who wrote what (writes with a row of their own audit in their transaction). */
export interface AuditStore {
  /** Audits a write that has no row of its own (e.g. a sync-now hint). */
  audit(entry: AuditEntry, nowMs: number): Promise<void>;
  /** Newest first; default limit 200. */
  listAudit(query: { limit?: number; actor?: string }): Promise<AuditRecord[]>;
}

const toAudit = (r: Row): AuditRecord => ({
  id: numberColumn(r['id']),
  atMs: numberColumn(r['at_ms']),
  actor: String(r['actor']),
  action: String(r['action']),
  target: String(r['target']),
  details: fromJsonText(r['details_json'], {}),
});

/** The {@link AuditStore} over `db`. */
export function auditStore(db: Db): AuditStore {
  return {
    audit: (entry, nowMs) => db.tx((tx) => writeAudit(tx, entry, nowMs)),
    listAudit: async ({ limit, actor }) => {
      const where = whereAll([optionalCondition('actor = ?', actor)]);
      const rows = await db.all<Row>(
        `SELECT * FROM audit_log ${where.sql} ORDER BY id DESC LIMIT ?`,
        [...where.params, limit ?? 200],
      );
      return rows.map(toAudit);
    },
  };
}
