import { ConflictError, NotFoundError } from '../errors.ts';
import type { Db, Queryable, SqlValue } from './db.ts';
import { migrate } from './migrations.ts';
import { selectorSql } from './selector.ts';
import { listConfigStates, upsertConfigState } from './config-state.ts';
import type {
  ConfigStateRecord,
  ApiTokenRecord,
  AppRecord,
  ApprovalRecord,
  AuditEntry,
  AuditRecord,
  CertificateRecord,
  ClusterRecord,
  DriftRecord,
  EnrollmentTokenRecord,
  Labels,
  Report,
  Role,
  SelectorTerm,
  SyncRecord,
} from './types.ts';

/** Filters of {@link Store.listDrift}. */
export interface DriftQuery {
  /** Only clusters whose labels match. */
  selector?: SelectorTerm[];
  cluster?: string;
  app?: string;
  /** true: only unhealed; false: only healed; undefined: both. */
  open?: boolean;
  /** Newest first; default 500. */
  limit?: number;
}

/** Filters of {@link Store.listHistory}. */
export interface HistoryQuery {
  selector?: SelectorTerm[];
  cluster?: string;
  app?: string;
  /** Newest first; default 100. */
  limit?: number;
}

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
  nowMs: number;
}

/** Result of {@link Store.ingest}. */
export interface IngestResult {
  /** False when the seq was already stored: a replay that changed nothing. */
  applied: boolean;
  /** The highest agent seq stored for the cluster, to ack. */
  lastSeq: number;
}

/**
 * The hub's state. One interface, two implementations of the same SQL
 * ({@link openStore} over SQLite or PostgreSQL). Methods that write on a
 * person's behalf take an {@link AuditEntry} and write it in the same
 * transaction, so the audit log can never miss a write.
 */
export interface Store {
  close(): Promise<void>;
  /** Cheap query for /readyz. */
  ping(): Promise<void>;

  createEnrollmentToken(token: EnrollmentTokenRecord, audit: AuditEntry): Promise<void>;
  getEnrollmentToken(id: string): Promise<EnrollmentTokenRecord | undefined>;
  listEnrollmentTokens(): Promise<EnrollmentTokenRecord[]>;
  revokeEnrollmentToken(id: string, nowMs: number, audit: AuditEntry): Promise<void>;
  /**
   * Uses the token once, creates or updates the cluster and records the
   * certificate, atomically. Returns false (writing nothing) when the token was
   * used up, revoked or expired in the meantime.
   */
  completeEnrollment(c: EnrollmentCompletion): Promise<boolean>;
  recordCertificate(cert: CertificateRecord): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;

  getCluster(name: string): Promise<ClusterRecord | undefined>;
  listClusters(selector?: SelectorTerm[]): Promise<ClusterRecord[]>;
  /** Revokes the cluster and every certificate issued to it. */
  revokeCluster(name: string, nowMs: number, audit: AuditEntry): Promise<void>;
  /**
   * Records a Hello: version, connected, labels (the agent's, with the token's
   * labels winning), the repository and branch it follows; apps not in `apps`
   * are marked gone (unless `apps` is empty: the agent does not know them yet).
   */
  recordHello(
    name: string,
    hello: {
      agentVersion: string;
      labels: Labels;
      apps: string[];
      /** Stored without user info, so a URL with a token in it never reaches the store. */
      repoUrl: string;
      branch: string;
    },
    nowMs: number,
  ): Promise<void>;
  setConnected(name: string, connected: boolean, nowMs: number): Promise<void>;
  /** Marks every cluster disconnected (a hub starting up has no streams). */
  resetConnected(): Promise<void>;
  touch(name: string, nowMs: number): Promise<void>;

  /** Stores one sequenced report unless its seq was stored before (then changes nothing). */
  ingest(cluster: string, seq: number, report: Report, nowMs: number): Promise<IngestResult>;
  listApps(q: { cluster?: string; selector?: SelectorTerm[] }): Promise<AppRecord[]>;
  listDrift(q: DriftQuery): Promise<DriftRecord[]>;
  listHistory(q: HistoryQuery): Promise<SyncRecord[]>;
  /** The driftless.yaml state of one cluster, or of every cluster that reported one. */
  listConfigStates(q: { cluster?: string }): Promise<ConfigStateRecord[]>;

  /** Stores an approval under the cluster's next hub seq. */
  createApproval(
    a: Omit<ApprovalRecord, 'hubSeq' | 'deliveredMs' | 'acked'>,
    audit: AuditEntry,
  ): Promise<ApprovalRecord>;
  listApprovals(q: { cluster?: string; pending?: boolean }): Promise<ApprovalRecord[]>;
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

  createApiToken(token: ApiTokenRecord, audit: AuditEntry | undefined): Promise<void>;
  getApiToken(id: string): Promise<ApiTokenRecord | undefined>;
  listApiTokens(): Promise<ApiTokenRecord[]>;
  revokeApiToken(id: string, nowMs: number, audit: AuditEntry): Promise<void>;
  countApiTokens(): Promise<number>;

  /** Audits a write that has no row of its own (e.g. a sync-now hint). */
  audit(entry: AuditEntry, nowMs: number): Promise<void>;
  listAudit(q: { limit?: number; actor?: string }): Promise<AuditRecord[]>;
  /** Every row of every table, for inspection (and the no-secrets test). */
  dump(): Promise<Record<string, unknown[]>>;
}

const json = (v: unknown) => JSON.stringify(v);
const parse = <T>(text: unknown, fallback: T): T => {
  try {
    return typeof text === 'string' ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
};
const num = (v: unknown) => Number(v ?? 0);
const bool = (v: unknown) => Number(v) === 1;
const b = (v: boolean) => (v ? 1 : 0);

type R = Record<string, unknown>;

const toCluster = (r: R): ClusterRecord => ({
  name: String(r['name']),
  labels: parse<Labels>(r['labels_json'], {}),
  agentVersion: String(r['agent_version']),
  connected: bool(r['connected']),
  lastSeenMs: num(r['last_seen_ms']),
  enrolledMs: num(r['enrolled_ms']),
  revokedMs: num(r['revoked_ms']),
  lastAgentSeq: num(r['last_agent_seq']),
  hubSeq: num(r['hub_seq']),
  ackedHubSeq: num(r['acked_hub_seq']),
  repoUrl: String(r['repo_url']),
  branch: String(r['branch']),
});

const toApp = (r: R): AppRecord => ({
  cluster: String(r['cluster']),
  app: String(r['app']),
  revision: String(r['revision']),
  syncStatus: String(r['sync_status']) as AppRecord['syncStatus'],
  syncMode: String(r['sync_mode']) as AppRecord['syncMode'],
  health: String(r['health']) as AppRecord['health'],
  healthMessage: String(r['health_message']),
  driftCount: num(r['drift_count']),
  planDigest: String(r['plan_digest']),
  pendingPlan: parse<unknown[]>(r['pending_plan_json'], []),
  message: String(r['message']),
  lastSyncMs: num(r['last_sync_ms']),
  updatedMs: num(r['updated_ms']),
  gone: bool(r['gone']),
});

const toDrift = (r: R): DriftRecord => ({
  cluster: String(r['cluster']),
  driftId: String(r['drift_id']),
  app: String(r['app']),
  object: parse(r['object_json'], { group: '', version: '', kind: '', namespace: '', name: '' }),
  objectRef: String(r['object_ref']),
  type: String(r['drift_type']) as DriftRecord['type'],
  fields: parse(r['fields_json'], []),
  changedBy: String(r['changed_by']),
  detectedMs: num(r['detected_ms']),
  healed: bool(r['healed']),
  healedMs: num(r['healed_ms']),
  message: String(r['message']),
  lastSyncTraceId: String(r['last_sync_trace_id']),
  updatedMs: num(r['updated_ms']),
});

const toSync = (r: R): SyncRecord => ({
  cluster: String(r['cluster']),
  syncId: String(r['sync_id']),
  app: String(r['app']),
  revision: String(r['revision']),
  result: String(r['result']) as SyncRecord['result'],
  error: String(r['error']),
  planDigest: String(r['plan_digest']),
  objects: parse(r['objects_json'], []),
  steps: parse(r['steps_json'], []),
  traceId: String(r['trace_id']),
  startedMs: num(r['started_ms']),
  finishedMs: num(r['finished_ms']),
  health: String(r['health']) as SyncRecord['health'],
  retryable: bool(r['retryable']),
  approvalId: String(r['approval_id']),
  receivedMs: num(r['received_ms']),
});

const toEnrollmentToken = (r: R): EnrollmentTokenRecord => ({
  id: String(r['id']),
  secretHash: String(r['secret_hash']),
  cluster: String(r['cluster']),
  labels: parse<Labels>(r['labels_json'], {}),
  createdMs: num(r['created_ms']),
  createdBy: String(r['created_by']),
  expiresMs: num(r['expires_ms']),
  maxUses: num(r['max_uses']),
  uses: num(r['uses']),
  revokedMs: num(r['revoked_ms']),
  lastUsedMs: num(r['last_used_ms']),
});

const toApiToken = (r: R): ApiTokenRecord => ({
  id: String(r['id']),
  secretHash: String(r['secret_hash']),
  name: String(r['name']),
  role: String(r['role']) as Role,
  createdMs: num(r['created_ms']),
  createdBy: String(r['created_by']),
  revokedMs: num(r['revoked_ms']),
});

const toCert = (r: R): CertificateRecord => ({
  serial: String(r['serial']),
  cluster: String(r['cluster']),
  issuedMs: num(r['issued_ms']),
  notAfterMs: num(r['not_after_ms']),
  revokedMs: num(r['revoked_ms']),
});

const toApproval = (r: R): ApprovalRecord => ({
  id: String(r['id']),
  cluster: String(r['cluster']),
  app: String(r['app']),
  revision: String(r['revision']),
  planDigest: String(r['plan_digest']),
  approvedBy: String(r['approved_by']),
  approvedMs: num(r['approved_ms']),
  hubSeq: num(r['hub_seq']),
  deliveredMs: num(r['delivered_ms']),
  acked: num(r['hub_seq']) <= num(r['acked_hub_seq']),
});

const toAudit = (r: R): AuditRecord => ({
  id: num(r['id']),
  atMs: num(r['at_ms']),
  actor: String(r['actor']),
  action: String(r['action']),
  target: String(r['target']),
  details: parse(r['details_json'], {}),
});

async function writeAudit(q: Queryable, e: AuditEntry, nowMs: number): Promise<void> {
  await q.run(
    'INSERT INTO audit_log (at_ms, actor, action, target, details_json) VALUES (?, ?, ?, ?, ?)',
    [nowMs, e.actor, e.action, e.target, json(e.details ?? {})],
  );
}

/**
 * `url` without user info (`https://user:token@host/x` → `https://host/x`, and
 * `user@host:path` kept only as `host:path`), so a credential an agent was
 * configured with by mistake is not stored or shown.
 */
function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    // scp-like `git@host:org/repo.git`: the user is a login name, not a secret, but drop any
    // `user:password@` all the same.
    return url.replace(/^[^@/]*@/, '');
  }
}

async function replaceLabels(q: Queryable, cluster: string, labels: Labels): Promise<void> {
  await q.run('DELETE FROM cluster_labels WHERE cluster = ?', [cluster]);
  for (const [k, v] of Object.entries(labels))
    await q.run('INSERT INTO cluster_labels (cluster, key, value) VALUES (?, ?, ?)', [
      cluster,
      k,
      v,
    ]);
}

/** Builds `WHERE a AND b ...` from optional conditions. */
function where(conds: { sql: string; params: SqlValue[] }[]): { sql: string; params: SqlValue[] } {
  const used = conds.filter((c) => c.sql);
  return {
    sql: used.length ? `WHERE ${used.map((c) => c.sql).join(' AND ')}` : '',
    params: used.flatMap((c) => c.params),
  };
}

const TABLES = [
  'schema_migrations',
  'clusters',
  'cluster_labels',
  'certificates',
  'enrollment_tokens',
  'api_tokens',
  'apps',
  'drifts',
  'sync_history',
  'report_gaps',
  'approvals',
  'audit_log',
  'cluster_config',
];

/** The {@link Store} over any {@link Db}; runs the migrations first. */
export async function createSqlStore(db: Db): Promise<Store> {
  await migrate(db);
  const clusterOrThrow = async (q: Queryable, name: string) => {
    const row = await q.get('SELECT name FROM clusters WHERE name = ?', [name]);
    if (!row) throw new NotFoundError(`cluster ${name}: not found`);
  };

  return {
    close: () => db.close(),
    ping: async () => {
      await db.get('SELECT 1 AS one');
    },

    createEnrollmentToken: (t, audit) =>
      db.tx(async (q) => {
        await q.run(
          `INSERT INTO enrollment_tokens (id, secret_hash, cluster, labels_json, created_ms, created_by, expires_ms, max_uses, uses, revoked_ms, last_used_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)`,
          [
            t.id,
            t.secretHash,
            t.cluster,
            json(t.labels),
            t.createdMs,
            t.createdBy,
            t.expiresMs,
            t.maxUses,
          ],
        );
        await writeAudit(q, audit, t.createdMs);
      }),
    getEnrollmentToken: async (id) => {
      const r = await db.get<R>('SELECT * FROM enrollment_tokens WHERE id = ?', [id]);
      return r && toEnrollmentToken(r);
    },
    listEnrollmentTokens: async () =>
      (await db.all<R>('SELECT * FROM enrollment_tokens ORDER BY created_ms DESC, id')).map(
        toEnrollmentToken,
      ),
    revokeEnrollmentToken: (id, nowMs, audit) =>
      db.tx(async (q) => {
        const row = await q.get<R>('SELECT revoked_ms FROM enrollment_tokens WHERE id = ?', [id]);
        if (!row) throw new NotFoundError(`enrollment token ${id}: not found`);
        if (num(row['revoked_ms']) !== 0)
          throw new ConflictError(`enrollment token ${id}: already revoked`);
        await q.run('UPDATE enrollment_tokens SET revoked_ms = ? WHERE id = ?', [nowMs, id]);
        await writeAudit(q, audit, nowMs);
      }),
    completeEnrollment: (c) =>
      db.tx(async (q) => {
        const used = await q.run(
          `UPDATE enrollment_tokens SET uses = uses + 1, last_used_ms = ?
           WHERE id = ? AND uses < max_uses AND revoked_ms = 0 AND expires_ms > ? AND cluster = ?`,
          [c.nowMs, c.tokenId, c.nowMs, c.cluster],
        );
        if (used.changes !== 1) return false;
        await q.run(
          `INSERT INTO clusters (name, labels_json, admin_labels_json, agent_version, enrolled_ms, revoked_ms)
           VALUES (?, ?, ?, ?, ?, 0)
           ON CONFLICT (name) DO UPDATE SET labels_json = excluded.labels_json,
             admin_labels_json = excluded.admin_labels_json, agent_version = excluded.agent_version,
             enrolled_ms = excluded.enrolled_ms, revoked_ms = 0`,
          [c.cluster, json(c.labels), json(c.adminLabels), c.agentVersion, c.nowMs],
        );
        await replaceLabels(q, c.cluster, c.labels);
        await q.run(
          'INSERT INTO certificates (serial, cluster, issued_ms, not_after_ms, revoked_ms) VALUES (?, ?, ?, ?, 0)',
          [c.certificate.serial, c.cluster, c.certificate.issuedMs, c.certificate.notAfterMs],
        );
        return true;
      }),
    recordCertificate: async (cert) => {
      await db.run(
        'INSERT INTO certificates (serial, cluster, issued_ms, not_after_ms, revoked_ms) VALUES (?, ?, ?, ?, ?)',
        [cert.serial, cert.cluster, cert.issuedMs, cert.notAfterMs, cert.revokedMs],
      );
    },
    getCertificate: async (serial) => {
      const r = await db.get<R>('SELECT * FROM certificates WHERE serial = ?', [serial]);
      return r && toCert(r);
    },

    getCluster: async (name) => {
      const r = await db.get<R>('SELECT * FROM clusters WHERE name = ?', [name]);
      return r && toCluster(r);
    },
    listClusters: async (selector = []) => {
      const sel = selectorSql('name', selector);
      return (
        await db.all<R>(`SELECT * FROM clusters WHERE ${sel.sql} ORDER BY name`, sel.params)
      ).map(toCluster);
    },
    revokeCluster: (name, nowMs, audit) =>
      db.tx(async (q) => {
        await clusterOrThrow(q, name);
        await q.run('UPDATE clusters SET revoked_ms = ?, connected = 0 WHERE name = ?', [
          nowMs,
          name,
        ]);
        await q.run('UPDATE certificates SET revoked_ms = ? WHERE cluster = ? AND revoked_ms = 0', [
          nowMs,
          name,
        ]);
        await writeAudit(q, audit, nowMs);
      }),
    recordHello: (name, hello, nowMs) =>
      db.tx(async (q) => {
        const row = await q.get<R>('SELECT admin_labels_json FROM clusters WHERE name = ?', [name]);
        if (!row) throw new NotFoundError(`cluster ${name}: not found`);
        const labels = { ...hello.labels, ...parse<Labels>(row['admin_labels_json'], {}) };
        await q.run(
          `UPDATE clusters SET agent_version = ?, labels_json = ?, connected = 1, last_seen_ms = ?, repo_url = ?, branch = ? WHERE name = ?`,
          [
            hello.agentVersion,
            json(labels),
            nowMs,
            withoutCredentials(hello.repoUrl),
            hello.branch,
            name,
          ],
        );
        await replaceLabels(q, name, labels);
        // An empty list means the agent does not know its apps yet (it just
        // started and has not read driftless.yaml): mark nothing gone.
        const known =
          hello.apps.length === 0
            ? []
            : await q.all<R>('SELECT app, gone FROM apps WHERE cluster = ?', [name]);
        const listed = new Set(hello.apps);
        for (const r of known) {
          const gone = !listed.has(String(r['app']));
          if (gone !== bool(r['gone']))
            await q.run('UPDATE apps SET gone = ?, updated_ms = ? WHERE cluster = ? AND app = ?', [
              b(gone),
              nowMs,
              name,
              String(r['app']),
            ]);
        }
      }),
    setConnected: async (name, connected, nowMs) => {
      await db.run('UPDATE clusters SET connected = ?, last_seen_ms = ? WHERE name = ?', [
        b(connected),
        nowMs,
        name,
      ]);
    },
    resetConnected: async () => {
      await db.run('UPDATE clusters SET connected = 0 WHERE connected = 1');
    },
    touch: async (name, nowMs) => {
      await db.run('UPDATE clusters SET last_seen_ms = ? WHERE name = ?', [nowMs, name]);
    },

    ingest: (cluster, seq, report, nowMs) =>
      db.tx(async (q) => {
        // The conditional bump is the idempotency check and, on PostgreSQL, also the row lock
        // that serialises two replicas ingesting for the same cluster.
        const bumped = await q.run(
          'UPDATE clusters SET last_agent_seq = ?, last_seen_ms = ? WHERE name = ? AND last_agent_seq < ?',
          [seq, nowMs, cluster, seq],
        );
        if (bumped.changes !== 1) {
          const row = await q.get<R>('SELECT last_agent_seq FROM clusters WHERE name = ?', [
            cluster,
          ]);
          if (!row) throw new NotFoundError(`cluster ${cluster}: not found`);
          return { applied: false, lastSeq: num(row['last_agent_seq']) };
        }
        await applyReport(q, cluster, report, nowMs);
        return { applied: true, lastSeq: seq };
      }),
    listApps: async ({ cluster, selector = [] }) => {
      const sel = selectorSql('cluster', selector);
      const w = where([
        {
          sql: cluster === undefined ? '' : 'cluster = ?',
          params: cluster === undefined ? [] : [cluster],
        },
        { sql: sel.sql, params: sel.params },
      ]);
      return (await db.all<R>(`SELECT * FROM apps ${w.sql} ORDER BY cluster, app`, w.params)).map(
        toApp,
      );
    },
    listDrift: async (dq) => {
      const sel = selectorSql('cluster', dq.selector ?? []);
      const w = where([
        { sql: sel.sql, params: sel.params },
        opt('cluster = ?', dq.cluster),
        opt('app = ?', dq.app),
        opt('healed = ?', dq.open === undefined ? undefined : b(!dq.open)),
      ]);
      return (
        await db.all<R>(
          `SELECT * FROM drifts ${w.sql} ORDER BY detected_ms DESC, cluster, drift_id LIMIT ?`,
          [...w.params, dq.limit ?? 500],
        )
      ).map(toDrift);
    },
    listConfigStates: (cq) => listConfigStates(db, cq),
    listHistory: async (hq) => {
      const sel = selectorSql('cluster', hq.selector ?? []);
      const w = where([
        { sql: sel.sql, params: sel.params },
        opt('cluster = ?', hq.cluster),
        opt('app = ?', hq.app),
      ]);
      return (
        await db.all<R>(
          `SELECT * FROM sync_history ${w.sql} ORDER BY finished_ms DESC, cluster, sync_id LIMIT ?`,
          [...w.params, hq.limit ?? 100],
        )
      ).map(toSync);
    },

    createApproval: (a, audit) =>
      db.tx(async (q) => {
        const row = await q.get<R>(
          'UPDATE clusters SET hub_seq = hub_seq + 1 WHERE name = ? RETURNING hub_seq, acked_hub_seq',
          [a.cluster],
        );
        if (!row) throw new NotFoundError(`cluster ${a.cluster}: not found`);
        const hubSeq = num(row['hub_seq']);
        await q.run(
          `INSERT INTO approvals (id, cluster, app, revision, plan_digest, approved_by, approved_ms, hub_seq, delivered_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`,
          [a.id, a.cluster, a.app, a.revision, a.planDigest, a.approvedBy, a.approvedMs, hubSeq],
        );
        await writeAudit(q, audit, a.approvedMs);
        return { ...a, hubSeq, deliveredMs: 0, acked: false };
      }),
    listApprovals: async ({ cluster, pending }) => {
      const w = where([
        opt('a.cluster = ?', cluster),
        { sql: pending ? 'a.hub_seq > c.acked_hub_seq' : '', params: [] },
      ]);
      return (
        await db.all<R>(
          `SELECT a.*, c.acked_hub_seq FROM approvals a JOIN clusters c ON c.name = a.cluster ${w.sql}
           ORDER BY a.approved_ms DESC, a.id`,
          w.params,
        )
      ).map(toApproval);
    },
    unackedApprovals: async (cluster, afterHubSeq) =>
      (
        await db.all<R>(
          `SELECT a.*, c.acked_hub_seq FROM approvals a JOIN clusters c ON c.name = a.cluster
           WHERE a.cluster = ? AND a.hub_seq > ?
             AND a.hub_seq = (SELECT MAX(b.hub_seq) FROM approvals b WHERE b.cluster = a.cluster AND b.app = a.app)
           ORDER BY a.hub_seq`,
          [cluster, afterHubSeq],
        )
      ).map(toApproval),
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
      const row = await db.get<R>(
        'UPDATE clusters SET hub_seq = hub_seq + 1 WHERE name = ? RETURNING hub_seq',
        [cluster],
      );
      if (!row) throw new NotFoundError(`cluster ${cluster}: not found`);
      return num(row['hub_seq']);
    },

    createApiToken: (t, audit) =>
      db.tx(async (q) => {
        await q.run(
          'INSERT INTO api_tokens (id, secret_hash, name, role, created_ms, created_by, revoked_ms) VALUES (?, ?, ?, ?, ?, ?, 0)',
          [t.id, t.secretHash, t.name, t.role, t.createdMs, t.createdBy],
        );
        if (audit) await writeAudit(q, audit, t.createdMs);
      }),
    getApiToken: async (id) => {
      const r = await db.get<R>('SELECT * FROM api_tokens WHERE id = ?', [id]);
      return r && toApiToken(r);
    },
    listApiTokens: async () =>
      (await db.all<R>('SELECT * FROM api_tokens ORDER BY created_ms, id')).map(toApiToken),
    revokeApiToken: (id, nowMs, audit) =>
      db.tx(async (q) => {
        const row = await q.get<R>('SELECT revoked_ms FROM api_tokens WHERE id = ?', [id]);
        if (!row) throw new NotFoundError(`API token ${id}: not found`);
        if (num(row['revoked_ms']) !== 0)
          throw new ConflictError(`API token ${id}: already revoked`);
        await q.run('UPDATE api_tokens SET revoked_ms = ? WHERE id = ?', [nowMs, id]);
        await writeAudit(q, audit, nowMs);
      }),
    countApiTokens: async () =>
      num((await db.get<R>('SELECT COUNT(*) AS n FROM api_tokens'))?.['n']),

    audit: (entry, nowMs) => db.tx((q) => writeAudit(q, entry, nowMs)),
    listAudit: async ({ limit, actor }) => {
      const w = where([opt('actor = ?', actor)]);
      return (
        await db.all<R>(`SELECT * FROM audit_log ${w.sql} ORDER BY id DESC LIMIT ?`, [
          ...w.params,
          limit ?? 200,
        ])
      ).map(toAudit);
    },
    dump: async () => {
      const out: Record<string, unknown[]> = {};
      for (const t of TABLES) out[t] = await db.all(`SELECT * FROM ${t}`);
      return out;
    },
  };
}

function opt(sql: string, value: SqlValue | undefined): { sql: string; params: SqlValue[] } {
  return value === undefined ? { sql: '', params: [] } : { sql, params: [value] };
}

async function applyReport(q: Queryable, cluster: string, report: Report, nowMs: number) {
  switch (report.kind) {
    case 'app': {
      const a = report.app;
      await q.run(
        `INSERT INTO apps (cluster, app, revision, sync_status, sync_mode, health, health_message, drift_count,
           plan_digest, pending_plan_json, message, last_sync_ms, updated_ms, gone)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
         ON CONFLICT (cluster, app) DO UPDATE SET revision = excluded.revision,
           sync_status = excluded.sync_status, sync_mode = excluded.sync_mode, health = excluded.health,
           health_message = excluded.health_message, drift_count = excluded.drift_count,
           plan_digest = excluded.plan_digest, pending_plan_json = excluded.pending_plan_json,
           message = excluded.message, last_sync_ms = excluded.last_sync_ms,
           updated_ms = excluded.updated_ms, gone = 0`,
        [
          cluster,
          a.app,
          a.revision,
          a.syncStatus,
          a.syncMode,
          a.health,
          a.healthMessage,
          a.driftCount,
          a.planDigest,
          json(a.pendingPlan),
          a.message,
          a.lastSyncMs,
          nowMs,
        ],
      );
      return;
    }
    case 'sync': {
      const s = report.sync;
      // DO NOTHING: a sync id is unique per attempt, a second copy is the same result.
      await q.run(
        `INSERT INTO sync_history (cluster, sync_id, app, revision, result, error, plan_digest, objects_json,
           steps_json, trace_id, started_ms, finished_ms, health, retryable, approval_id, received_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cluster, sync_id) DO NOTHING`,
        [
          cluster,
          s.syncId,
          s.app,
          s.revision,
          s.result,
          s.error,
          s.planDigest,
          json(s.objects),
          json(s.steps),
          s.traceId,
          s.startedMs,
          s.finishedMs,
          s.health,
          b(s.retryable),
          s.approvalId,
          nowMs,
        ],
      );
      return;
    }
    case 'drift': {
      const d = report.drift;
      await q.run(
        `INSERT INTO drifts (cluster, drift_id, app, object_json, object_ref, drift_type, fields_json, changed_by,
           detected_ms, healed, healed_ms, message, last_sync_trace_id, updated_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (cluster, drift_id) DO UPDATE SET app = excluded.app, object_json = excluded.object_json,
           object_ref = excluded.object_ref, drift_type = excluded.drift_type, fields_json = excluded.fields_json,
           changed_by = excluded.changed_by, detected_ms = excluded.detected_ms, healed = excluded.healed,
           healed_ms = excluded.healed_ms, message = excluded.message,
           last_sync_trace_id = excluded.last_sync_trace_id, updated_ms = excluded.updated_ms`,
        [
          cluster,
          d.driftId,
          d.app,
          json(d.object),
          d.objectRef,
          d.type,
          json(d.fields),
          d.changedBy,
          d.detectedMs,
          b(d.healed),
          d.healedMs,
          d.message,
          d.lastSyncTraceId,
          nowMs,
        ],
      );
      return;
    }
    case 'config':
      return upsertConfigState(q, cluster, report.config, nowMs);
    case 'gap': {
      const g = report.gap;
      await q.run(
        `INSERT INTO report_gaps (cluster, first_seq, last_seq, count, summary, received_ms) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (cluster, first_seq) DO NOTHING`,
        [cluster, g.firstSeq, g.lastSeq, g.count, g.summary, nowMs],
      );
      return;
    }
  }
}
