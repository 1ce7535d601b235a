import type { Db, Queryable } from './db.ts';
import { numberColumn, type Row } from './rows.ts';
import type { CertificateRecord } from './types.ts';

/** Client certificates the CA issued (serials only, never keys), for Connect's revocation check. */
export interface CertificateStore {
  recordCertificate(cert: CertificateRecord): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
}

const toCertificate = (r: Row): CertificateRecord => ({
  serial: String(r['serial']),
  cluster: String(r['cluster']),
  issuedMs: numberColumn(r['issued_ms']),
  notAfterMs: numberColumn(r['not_after_ms']),
  revokedMs: numberColumn(r['revoked_ms']),
});

/** Inserts one certificate row (inside the caller's transaction, or directly). */
export async function insertCertificate(tx: Queryable, cert: CertificateRecord): Promise<void> {
  await tx.run(
    'INSERT INTO certificates (serial, cluster, issued_ms, not_after_ms, revoked_ms) VALUES (?, ?, ?, ?, ?)',
    [cert.serial, cert.cluster, cert.issuedMs, cert.notAfterMs, cert.revokedMs],
  );
}

/** The {@link CertificateStore} over `db`. */
export function certificateStore(db: Db): CertificateStore {
  return {
    recordCertificate: (cert) => insertCertificate(db, cert),
    getCertificate: async (serial) => {
      const r = await db.get<Row>('SELECT * FROM certificates WHERE serial = ?', [serial]);
      return r && toCertificate(r);
    },
  };
}
