import { NotFoundError } from '../errors.ts';
import type { Db } from './db.ts';
import { numberColumn, optionalCondition, whereAll, writeAudit, type Row } from './rows.ts';
import type { ApprovalRecord, AuditEntry } from './types.ts';

/** Approvals of pending plans, and the hub-to-agent sequence they travel under. */
export interface ApprovalStore {
  /** Stores an approval under the cluster's next hub seq. */
  createApproval(
    a: Omit<ApprovalRecord, 'hubSeq' | 'deliveredMs' | 'acked'>,
    audit: AuditEntry,
  ): Promise<ApprovalRecord>;
  listApprovals(query: { cluster?: string; pending?: boolean }): Promise<ApprovalRecord[]>;
  /**
   * What to (re)deliver to an agent that says it processed hub messages up
   * to `afterHubSeq`: the newest approval of each app above that seq. The
   * agent's word counts, not the stored ack: a restarted agent forgets its
   * approvals and says 0, so an approved plan not yet applied is not lost.
   */
  unackedApprovals(cluster: string, afterHubSeq: number): Promise<ApprovalRecord[]>;
  markDelivered(ids: string[], nowMs: number): Promise<void>;
  /** Records the agent's cumulative ack of hub messages. */
  ackHubSeq(cluster: string, hubSeq: number): Promise<void>;
  /** The cluster's next hub seq, for messages that are not stored (CertificateIssued). */
  nextHubSeq(cluster: string): Promise<number>;
}

const toApproval = (r: Row): ApprovalRecord => ({
  id: String(r['id']),
  cluster: String(r['cluster']),
  app: String(r['app']),
  revision: String(r['revision']),
  planDigest: String(r['plan_digest']),
  approvedBy: String(r['approved_by']),
  approvedMs: numberColumn(r['approved_ms']),
  hubSeq: numberColumn(r['hub_seq']),
  deliveredMs: numberColumn(r['delivered_ms']),
  acked: numberColumn(r['hub_seq']) <= numberColumn(r['acked_hub_seq']),
});

/** The {@link ApprovalStore} over `db`. */
export function approvalStore(db: Db): ApprovalStore {
  return {
    createApproval: (a, audit) =>
      db.tx(async (tx) => {
        const row = await tx.get<Row>(
          'UPDATE clusters SET hub_seq = hub_seq + 1 WHERE name = ? RETURNING hub_seq, acked_hub_seq',
          [a.cluster],
        );
        if (!row) throw new NotFoundError(`cluster ${a.cluster}: not found`);
        const hubSeq = numberColumn(row['hub_seq']);
        await tx.run(
          `INSERT INTO approvals (id, cluster, app, revision, plan_digest, approved_by, approved_ms, hub_seq, delivered_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`,
          [a.id, a.cluster, a.app, a.revision, a.planDigest, a.approvedBy, a.approvedMs, hubSeq],
        );
        await writeAudit(tx, audit, a.approvedMs);
        return { ...a, hubSeq, deliveredMs: 0, acked: false };
      }),
    listApprovals: async ({ cluster, pending }) => {
      const where = whereAll([
        optionalCondition('a.cluster = ?', cluster),
        { sql: pending ? 'a.hub_seq > c.acked_hub_seq' : '', params: [] },
      ]);
      const rows = await db.all<Row>(
        `SELECT a.*, c.acked_hub_seq FROM approvals a JOIN clusters c ON c.name = a.cluster ${where.sql}
         ORDER BY a.approved_ms DESC, a.id`,
        where.params,
      );
      return rows.map(toApproval);
    },
    unackedApprovals: async (cluster, afterHubSeq) => {
      const rows = await db.all<Row>(
        `SELECT a.*, c.acked_hub_seq FROM approvals a JOIN clusters c ON c.name = a.cluster
         WHERE a.cluster = ? AND a.hub_seq > ?
           AND a.hub_seq = (SELECT MAX(b.hub_seq) FROM approvals b WHERE b.cluster = a.cluster AND b.app = a.app)
         ORDER BY a.hub_seq`,
        [cluster, afterHubSeq],
      );
      return rows.map(toApproval);
    },
    markDelivered: async (ids, nowMs) => {
      for (const id of ids)
        await db.run('UPDATE approvals SET delivered_ms = ? WHERE id = ?', [nowMs, id]);
    },
    ackHubSeq: async (cluster, hubSeq) => {
      // Never beyond what was handed out: a confused agent cannot ack the future away.
      await db.run(
        'UPDATE clusters SET acked_hub_seq = ? WHERE name = ? AND acked_hub_seq < ? AND hub_seq >= ?',
        [hubSeq, cluster, hubSeq, hubSeq],
      );
    },
    nextHubSeq: async (cluster) => {
      const row = await db.get<Row>(
        'UPDATE clusters SET hub_seq = hub_seq + 1 WHERE name = ? RETURNING hub_seq',
        [cluster],
      );
      if (!row) throw new NotFoundError(`cluster ${cluster}: not found`);
      return numberColumn(row['hub_seq']);
    },
  };
}
