import { ConflictError, NotFoundError } from '../errors.ts';
import type { Db } from './db.ts';
import { numberColumn, writeAudit, type Row } from './rows.ts';
import type { ApiTokenRecord, AuditEntry, Role } from './types.ts';

/** API tokens of people and automation (hashes only; the secret is shown once). */
export interface ApiTokenStore {
  createApiToken(token: ApiTokenRecord, audit: AuditEntry | undefined): Promise<void>;
  getApiToken(id: string): Promise<ApiTokenRecord | undefined>;
  listApiTokens(): Promise<ApiTokenRecord[]>;
  /** Throws NotFoundError for an unknown id, ConflictError when already revoked. */
  revokeApiToken(id: string, nowMs: number, audit: AuditEntry): Promise<void>;
  countApiTokens(): Promise<number>;
}

const toApiToken = (r: Row): ApiTokenRecord => ({
  id: String(r['id']),
  secretHash: String(r['secret_hash']),
  name: String(r['name']),
  role: String(r['role']) as Role,
  createdMs: numberColumn(r['created_ms']),
  createdBy: String(r['created_by']),
  revokedMs: numberColumn(r['revoked_ms']),
});

/** The {@link ApiTokenStore} over `db`. */
export function apiTokenStore(db: Db): ApiTokenStore {
  return {
    createApiToken: (t, audit) =>
      db.tx(async (tx) => {
        await tx.run(
          'INSERT INTO api_tokens (id, secret_hash, name, role, created_ms, created_by, revoked_ms) VALUES (?, ?, ?, ?, ?, ?, 0)',
          [t.id, t.secretHash, t.name, t.role, t.createdMs, t.createdBy],
        );
        if (audit) await writeAudit(tx, audit, t.createdMs);
      }),
    getApiToken: async (id) => {
      const r = await db.get<Row>('SELECT * FROM api_tokens WHERE id = ?', [id]);
      return r && toApiToken(r);
    },
    listApiTokens: async () =>
      (await db.all<Row>('SELECT * FROM api_tokens ORDER BY created_ms, id')).map(toApiToken),
    revokeApiToken: (id, nowMs, audit) =>
      db.tx(async (tx) => {
        const row = await tx.get<Row>('SELECT revoked_ms FROM api_tokens WHERE id = ?', [id]);
        if (!row) throw new NotFoundError(`API token ${id}: not found`);
        if (numberColumn(row['revoked_ms']) !== 0)
          throw new ConflictError(`API token ${id}: already revoked`);
        await tx.run('UPDATE api_tokens SET revoked_ms = ? WHERE id = ?', [nowMs, id]);
        await writeAudit(tx, audit, nowMs);
      }),
    countApiTokens: async () =>
      numberColumn((await db.get<Row>('SELECT COUNT(*) AS n FROM api_tokens'))?.['n']),
  };
}
