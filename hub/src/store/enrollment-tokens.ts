import { ConflictError, NotFoundError } from '../errors.ts';
import { insertCertificate } from './certificates.ts';
import { replaceLabels } from './clusters.ts';
import type { Db } from './db.ts';
import { numberColumn, fromJsonText, toJsonText, writeAudit, type Row } from './rows.ts';
import type { AuditEntry, CertificateRecord, EnrollmentTokenRecord, Labels } from './types.ts';

/** What completing an enrollment writes, in one transaction. */
export interface EnrollmentCompletion {
  tokenId: string;
  cluster: string;
  /** The cluster's labels now: the agent's, overridden by `adminLabels`. */
  labels: Labels;
  /** Labels from the token (set by a person); they survive the agent's Hello. */
  adminLabels: Labels;
  agentVersion: string;
  certificate: Omit<CertificateRecord, 'revokedMs' | 'cluster'>;
  /**
   * The NATS user public key (U…) the agent got credentials for, if it asked for any. Recorded
   * in the same transaction, so a revocation of the cluster that comes after it always names
   * the key; a key the hub recorded before (for this or another cluster) is refused, since a
   * revocation of that key would date from an earlier time than the new credentials.
   */
  natsUserPublicKey?: string;
  /** The audit entry of the enrollment (a cluster joined with a token), written with it. */
  audit?: AuditEntry;
  nowMs: number;
}

/** Enrollment tokens (hashes only) and the enrollment that uses them. */
export interface EnrollmentTokenStore {
  createEnrollmentToken(token: EnrollmentTokenRecord, audit: AuditEntry): Promise<void>;
  getEnrollmentToken(id: string): Promise<EnrollmentTokenRecord | undefined>;
  listEnrollmentTokens(): Promise<EnrollmentTokenRecord[]>;
  /** Throws NotFoundError for an unknown id, ConflictError when already revoked. */
  revokeEnrollmentToken(id: string, nowMs: number, audit: AuditEntry): Promise<void>;
  /**
   * Uses the token once, creates or updates the cluster and records the
   * certificate (and NATS user key), atomically. Returns false (writing nothing) when the
   * token was used up, revoked or expired in the meantime, or the name's enrollment is blocked.
   * Throws ConflictError (writing nothing) when the NATS user key was recorded before.
   */
  completeEnrollment(c: EnrollmentCompletion): Promise<boolean>;
}

const toEnrollmentToken = (r: Row): EnrollmentTokenRecord => ({
  id: String(r['id']),
  secretHash: String(r['secret_hash']),
  cluster: String(r['cluster']),
  labels: fromJsonText<Labels>(r['labels_json'], {}),
  createdMs: numberColumn(r['created_ms']),
  createdBy: String(r['created_by']),
  expiresMs: numberColumn(r['expires_ms']),
  maxUses: numberColumn(r['max_uses']),
  uses: numberColumn(r['uses']),
  revokedMs: numberColumn(r['revoked_ms']),
  lastUsedMs: numberColumn(r['last_used_ms']),
});

/** The {@link EnrollmentTokenStore} over `db`. */
export function enrollmentTokenStore(db: Db): EnrollmentTokenStore {
  return {
    createEnrollmentToken: (t, audit) =>
      db.tx(async (tx) => {
        await tx.run(
          `INSERT INTO enrollment_tokens (id, secret_hash, cluster, labels_json, created_ms, created_by, expires_ms, max_uses, uses, revoked_ms, last_used_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)`,
          [
            t.id,
            t.secretHash,
            t.cluster,
            toJsonText(t.labels),
            t.createdMs,
            t.createdBy,
            t.expiresMs,
            t.maxUses,
          ],
        );
        await writeAudit(tx, audit, t.createdMs);
      }),
    getEnrollmentToken: async (id) => {
      const r = await db.get<Row>('SELECT * FROM enrollment_tokens WHERE id = ?', [id]);
      return r && toEnrollmentToken(r);
    },
    listEnrollmentTokens: async () =>
      (await db.all<Row>('SELECT * FROM enrollment_tokens ORDER BY created_ms DESC, id')).map(
        toEnrollmentToken,
      ),
    revokeEnrollmentToken: (id, nowMs, audit) =>
      db.tx(async (tx) => {
        const row = await tx.get<Row>('SELECT revoked_ms FROM enrollment_tokens WHERE id = ?', [
          id,
        ]);
        if (!row) throw new NotFoundError(`enrollment token ${id}: not found`);
        if (numberColumn(row['revoked_ms']) !== 0)
          throw new ConflictError(`enrollment token ${id}: already revoked`);
        await tx.run('UPDATE enrollment_tokens SET revoked_ms = ? WHERE id = ?', [nowMs, id]);
        await writeAudit(tx, audit, nowMs);
      }),
    completeEnrollment: (c) =>
      db.tx(async (tx) => {
        const used = await tx.run(
          `UPDATE enrollment_tokens SET uses = uses + 1, last_used_ms = ?
           WHERE id = ? AND uses < max_uses AND revoked_ms = 0 AND expires_ms > ? AND cluster = ?
             AND NOT EXISTS (SELECT 1 FROM clusters WHERE name = ? AND enrollment_blocked = 1)`,
          [c.nowMs, c.tokenId, c.nowMs, c.cluster, c.cluster],
        );
        if (used.changes !== 1) return false;
        await tx.run(
          `INSERT INTO clusters (name, labels_json, admin_labels_json, agent_version, enrolled_ms, revoked_ms)
           VALUES (?, ?, ?, ?, ?, 0)
           ON CONFLICT (name) DO UPDATE SET labels_json = excluded.labels_json,
             admin_labels_json = excluded.admin_labels_json, agent_version = excluded.agent_version,
             enrolled_ms = excluded.enrolled_ms, revoked_ms = 0`,
          [c.cluster, toJsonText(c.labels), toJsonText(c.adminLabels), c.agentVersion, c.nowMs],
        );
        await replaceLabels(tx, c.cluster, c.labels);
        await insertCertificate(tx, { ...c.certificate, cluster: c.cluster, revokedMs: 0 });
        if (c.natsUserPublicKey) {
          const added = await tx.run(
            'INSERT INTO nats_users (public_key, cluster, issued_ms, revoked_ms) VALUES (?, ?, ?, 0) ON CONFLICT (public_key) DO NOTHING',
            [c.natsUserPublicKey, c.cluster, c.nowMs],
          );
          if (added.changes !== 1)
            throw new ConflictError(
              `NATS user key ${c.natsUserPublicKey} already has credentials; enroll with a new key`,
            );
        }
        if (c.audit) await writeAudit(tx, c.audit, c.nowMs);
        return true;
      }),
  };
}
