import { apiTokenStore, type ApiTokenStore } from './api-tokens.ts';
import { approvalStore, type ApprovalStore } from './approvals.ts';
import { auditStore, type AuditStore } from './audit.ts';
import { certificateStore, type CertificateStore } from './certificates.ts';
import { clusterStore, type ClusterStore } from './clusters.ts';
import { commitStatusStore, type CommitStatusStore } from './commit-statuses.ts';
import { configStateStore, type ConfigStateStore } from './config-state.ts';
import type { Db } from './db.ts';
import { enrollmentTokenStore, type EnrollmentTokenStore } from './enrollment-tokens.ts';
import { ledgerStore, type LedgerStore } from './ledger.ts';
import { migrate } from './migrations.ts';
import { notificationStore, type NotificationStore } from './notifications.ts';
import { reportStore, type ReportStore } from './reports.ts';
import { suspensionStore, type SuspensionStore } from './suspensions.ts';

/**
 * The hub's state. One interface, two implementations of the same SQL
 * ({@link openStore} over SQLite or PostgreSQL), made of one store per kind of
 * record. Methods that write on a person's behalf take an {@link AuditEntry}
 * and write it in the same transaction, so the audit log can never miss a write.
 */
export interface Store
  extends
    EnrollmentTokenStore,
    CertificateStore,
    ClusterStore,
    ReportStore,
    LedgerStore,
    ConfigStateStore,
    ApprovalStore,
    SuspensionStore,
    ApiTokenStore,
    AuditStore,
    NotificationStore,
    CommitStatusStore {
  close(): Promise<void>;
  /** Cheap query for /readyz. */
  ping(): Promise<void>;
}

/** The {@link Store} over any {@link Db}; runs the migrations first. */
export async function createSqlStore(db: Db): Promise<Store> {
  await migrate(db);
  return {
    close: () => db.close(),
    ping: async () => {
      await db.get('SELECT 1 AS one');
    },
    ...enrollmentTokenStore(db),
    ...certificateStore(db),
    ...clusterStore(db),
    ...reportStore(db),
    ...ledgerStore(db),
    ...configStateStore(db),
    ...approvalStore(db),
    ...suspensionStore(db),
    ...apiTokenStore(db),
    ...auditStore(db),
    ...commitStatusStore(db),
    ...notificationStore(db),
  };
}
