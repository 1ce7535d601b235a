import { redactUrl } from '@driftless/common';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { Db, Queryable } from './db.ts';
import {
  boolColumn,
  fromJsonText,
  numberColumn,
  sqlBool,
  toJsonText,
  writeAudit,
  type Row,
} from './rows.ts';
import { selectorSql } from './selector.ts';
import type { AuditEntry, ClusterRecord, Labels, NatsUserRecord, SelectorTerm } from './types.ts';

/** What a Hello records about a cluster. */
export interface HelloRecord {
  agentVersion: string;
  labels: Labels;
  apps: string[];
  /** Stored by `redactUrl` (no user info, query or fragment), so a token never reaches the store. */
  repoUrl: string;
  branch: string;
  /**
   * The last hub seq the agent acked (its Hello's `last_acked_hub_seq`), recorded as
   * `ackHubSeq` records an ack; absent: left as it is.
   */
  ackedHubSeq?: number;
}

/** A page of {@link ClusterStore.listClusters}: clusters named after `after`, `limit` at most. */
export interface ClusterPage {
  /** Only clusters whose name sorts after this one (the last name of the previous page). */
  after?: string;
  /** At most this many; every one when absent. */
  limit?: number;
}

/** Enrolled clusters: identity, labels, liveness, revocation. */
export interface ClusterStore {
  getCluster(name: string): Promise<ClusterRecord | undefined>;
  /**
   * Clusters matching `selector`, in name order; with `page`, only those after `page.after`
   * and at most `page.limit` of them (keyset paging by name; every one when absent).
   */
  listClusters(selector?: SelectorTerm[], page?: ClusterPage): Promise<ClusterRecord[]>;
  /**
   * Revokes the cluster, every certificate and NATS user issued to it and every enrollment
   * token still open for its name, and blocks new enrollment of the name (until
   * {@link allowEnrollment}); audited with the number of tokens revoked.
   */
  revokeCluster(name: string, nowMs: number, audit: AuditEntry): Promise<void>;
  /**
   * Lets a revoked cluster's name enroll again (with a new token). Throws NotFoundError for
   * an unknown cluster, ConflictError when its enrollment is not blocked.
   */
  allowEnrollment(name: string, nowMs: number, audit: AuditEntry): Promise<void>;
  /** Records a NATS user key issued to a cluster. */
  recordNatsUser(user: NatsUserRecord): Promise<void>;
  /** Every NATS user key revoked with its cluster (for the account JWT's revocations). */
  listRevokedNatsUsers(): Promise<NatsUserRecord[]>;
  /**
   * Records a Hello: version, connected, labels (the agent's, with the token's
   * labels winning), the repository and branch it follows; apps not in `apps`
   * are marked gone (unless `apps` is empty: the agent does not know them yet), the hub seq
   * it acked. Resolves with the highest agent seq stored for the cluster (what the Hello's ack
   * names); throws NotFoundError for an unknown cluster.
   */
  recordHello(name: string, hello: HelloRecord, nowMs: number): Promise<{ lastAgentSeq: number }>;
  setConnected(name: string, connected: boolean, nowMs: number): Promise<void>;
  /** Marks every cluster disconnected (a hub starting up has no streams). */
  resetConnected(): Promise<void>;
  /** A heartbeat of a live link: the last-seen time, and connected (another replica may have said not). */
  touch(name: string, nowMs: number): Promise<void>;
}

const toCluster = (r: Row): ClusterRecord => ({
  name: String(r['name']),
  labels: fromJsonText<Labels>(r['labels_json'], {}),
  agentVersion: String(r['agent_version']),
  connected: boolColumn(r['connected']),
  lastSeenMs: numberColumn(r['last_seen_ms']),
  enrolledMs: numberColumn(r['enrolled_ms']),
  revokedMs: numberColumn(r['revoked_ms']),
  lastAgentSeq: numberColumn(r['last_agent_seq']),
  hubSeq: numberColumn(r['hub_seq']),
  ackedHubSeq: numberColumn(r['acked_hub_seq']),
  repoUrl: String(r['repo_url']),
  branch: String(r['branch']),
  enrollmentBlocked: boolColumn(r['enrollment_blocked']),
});

/** Throws NotFoundError unless the cluster exists. */
export async function clusterMustExist(tx: Queryable, name: string): Promise<void> {
  const row = await tx.get('SELECT name FROM clusters WHERE name = ?', [name]);
  if (!row) throw new NotFoundError(`cluster ${name}: not found`);
}

/** Replaces the cluster's rows of the label index (what selectors query). */
export async function replaceLabels(tx: Queryable, cluster: string, labels: Labels): Promise<void> {
  await tx.run('DELETE FROM cluster_labels WHERE cluster = ?', [cluster]);
  for (const [key, value] of Object.entries(labels))
    await tx.run('INSERT INTO cluster_labels (cluster, key, value) VALUES (?, ?, ?)', [
      cluster,
      key,
      value,
    ]);
}

/** Marks the cluster's apps missing from `listed` gone, and listed ones back. */
async function markGoneApps(tx: Queryable, cluster: string, listed: Set<string>, nowMs: number) {
  const known = await tx.all<Row>('SELECT app, gone FROM apps WHERE cluster = ?', [cluster]);
  for (const r of known) {
    const app = String(r['app']);
    const gone = !listed.has(app);
    if (gone !== boolColumn(r['gone']))
      await tx.run('UPDATE apps SET gone = ?, updated_ms = ? WHERE cluster = ? AND app = ?', [
        sqlBool(gone),
        nowMs,
        cluster,
        app,
      ]);
  }
}

/** What `ackHubSeq` does (see approvals.ts), inside the caller's transaction. */
async function ackHubSeq(q: Queryable, cluster: string, hubSeq: number): Promise<void> {
  // Never beyond what was handed out: a confused agent cannot ack the future away.
  await q.run(
    'UPDATE clusters SET acked_hub_seq = ? WHERE name = ? AND acked_hub_seq < ? AND hub_seq >= ?',
    [hubSeq, cluster, hubSeq, hubSeq],
  );
}

/**
 * `recordHello` on PostgreSQL: one statement (atomic by itself, one round trip) instead of a
 * transaction of a read and several writes. The labels are merged in the database (the
 * token's win: `||` keeps the right-hand value of a key), the label index keeps the rows that
 * did not change, and only apps whose `gone` changes are written.
 */
async function recordHelloInOneStatement(
  db: Db,
  name: string,
  hello: HelloRecord,
  nowMs: number,
): Promise<{ lastAgentSeq: number }> {
  const acked = hello.ackedHubSeq ?? -1;
  const row = await db.get<Row>(RECORD_HELLO, [
    hello.agentVersion,
    toJsonText(hello.labels),
    nowMs,
    hello.repoUrl ? redactUrl(hello.repoUrl) : '',
    hello.branch,
    acked,
    acked,
    acked,
    name,
    toJsonText(hello.apps),
    nowMs,
    // An empty list means the agent does not know its apps yet: mark nothing gone.
    sqlBool(hello.apps.length > 0),
  ]);
  if (!row) throw new NotFoundError(`cluster ${name}: not found`);
  return { lastAgentSeq: numberColumn(row['last_agent_seq']) };
}

/** The statement of {@link recordHelloInOneStatement} (PostgreSQL). */
const RECORD_HELLO = `WITH c AS (
    UPDATE clusters SET agent_version = ?,
      labels_json = CAST(CAST(? AS JSONB) || CAST(admin_labels_json AS JSONB) AS TEXT),
      connected = 1, last_seen_ms = ?, repo_url = ?, branch = ?,
      acked_hub_seq = CASE WHEN acked_hub_seq < ? AND hub_seq >= ? THEN ? ELSE acked_hub_seq END
    WHERE name = ?
    RETURNING name, CAST(labels_json AS JSONB) AS labels, last_agent_seq),
  dropped AS (
    DELETE FROM cluster_labels USING c WHERE cluster_labels.cluster = c.name
      AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(c.labels) AS k(key) WHERE k.key = cluster_labels.key)),
  kept AS (
    INSERT INTO cluster_labels (cluster, key, value)
    SELECT c.name, l.key, l.value FROM c, jsonb_each_text(c.labels) AS l
    ON CONFLICT (cluster, key) DO UPDATE SET value = excluded.value
    WHERE cluster_labels.value <> excluded.value),
  listed AS (SELECT json_array_elements_text(CAST(? AS JSON)) AS app),
  gone AS (
    UPDATE apps SET gone = CASE WHEN apps.app IN (SELECT app FROM listed) THEN 0 ELSE 1 END,
      updated_ms = ?
    FROM c WHERE apps.cluster = c.name AND ? = 1
      AND apps.gone <> CASE WHEN apps.app IN (SELECT app FROM listed) THEN 0 ELSE 1 END)
  SELECT last_agent_seq FROM c`;

/** The {@link ClusterStore} over `db`. */
export function clusterStore(db: Db): ClusterStore {
  return {
    getCluster: async (name) => {
      const r = await db.get<Row>('SELECT * FROM clusters WHERE name = ?', [name]);
      return r && toCluster(r);
    },
    listClusters: async (selector = [], page = {}) => {
      const sel = selectorSql('name', selector);
      // `name > ?` walks the primary key from the cursor on, so a page costs its own rows.
      const after = page.after === undefined ? '' : ' AND name > ?';
      const limit = page.limit === undefined ? '' : ' LIMIT ?';
      const rows = await db.all<Row>(
        `SELECT * FROM clusters WHERE ${sel.sql}${after} ORDER BY name${limit}`,
        [
          ...sel.params,
          ...(page.after === undefined ? [] : [page.after]),
          ...(page.limit === undefined ? [] : [page.limit]),
        ],
      );
      return rows.map(toCluster);
    },
    revokeCluster: (name, nowMs, audit) =>
      db.tx(async (tx) => {
        await clusterMustExist(tx, name);
        await tx.run(
          'UPDATE clusters SET revoked_ms = ?, connected = 0, enrollment_blocked = 1 WHERE name = ?',
          [nowMs, name],
        );
        await tx.run(
          'UPDATE certificates SET revoked_ms = ? WHERE cluster = ? AND revoked_ms = 0',
          [nowMs, name],
        );
        // Every key of the cluster, revoked before or not: a key enrolled again before the hub
        // refused reused keys got new credentials after its first revocation time.
        await tx.run('UPDATE nats_users SET revoked_ms = ? WHERE cluster = ?', [nowMs, name]);
        // A token with uses left would let the agent enroll again at once.
        const tokens = await tx.run(
          'UPDATE enrollment_tokens SET revoked_ms = ? WHERE cluster = ? AND revoked_ms = 0',
          [nowMs, name],
        );
        await writeAudit(
          tx,
          { ...audit, details: { ...audit.details, enrollmentTokensRevoked: tokens.changes } },
          nowMs,
        );
      }),
    allowEnrollment: (name, nowMs, audit) =>
      db.tx(async (tx) => {
        const row = await tx.get<Row>('SELECT enrollment_blocked FROM clusters WHERE name = ?', [
          name,
        ]);
        if (!row) throw new NotFoundError(`cluster ${name}: not found`);
        if (!boolColumn(row['enrollment_blocked']))
          throw new ConflictError(`cluster ${name}: its enrollment is not blocked`);
        await tx.run('UPDATE clusters SET enrollment_blocked = 0 WHERE name = ?', [name]);
        await writeAudit(tx, audit, nowMs);
      }),
    recordNatsUser: async (user) => {
      await db.run(
        'INSERT INTO nats_users (public_key, cluster, issued_ms, revoked_ms) VALUES (?, ?, ?, ?) ON CONFLICT (public_key) DO NOTHING',
        [user.publicKey, user.cluster, user.issuedMs, user.revokedMs],
      );
    },
    listRevokedNatsUsers: async () =>
      (await db.all<Row>('SELECT * FROM nats_users WHERE revoked_ms <> 0 ORDER BY public_key')).map(
        (r) => ({
          publicKey: String(r['public_key']),
          cluster: String(r['cluster']),
          issuedMs: numberColumn(r['issued_ms']),
          revokedMs: numberColumn(r['revoked_ms']),
        }),
      ),
    recordHello:
      db.dialect === 'postgres'
        ? (name, hello, nowMs) => recordHelloInOneStatement(db, name, hello, nowMs)
        : (name, hello, nowMs) =>
            db.tx(async (tx) => {
              const row = await tx.get<Row>(
                'SELECT admin_labels_json, last_agent_seq FROM clusters WHERE name = ?',
                [name],
              );
              if (!row) throw new NotFoundError(`cluster ${name}: not found`);
              const labels = {
                ...hello.labels,
                ...fromJsonText<Labels>(row['admin_labels_json'], {}),
              };
              await tx.run(
                `UPDATE clusters SET agent_version = ?, labels_json = ?, connected = 1, last_seen_ms = ?, repo_url = ?, branch = ? WHERE name = ?`,
                [
                  hello.agentVersion,
                  toJsonText(labels),
                  nowMs,
                  hello.repoUrl ? redactUrl(hello.repoUrl) : '',
                  hello.branch,
                  name,
                ],
              );
              await replaceLabels(tx, name, labels);
              // An empty list means the agent does not know its apps yet (it just
              // started and has not read driftless.yaml): mark nothing gone.
              if (hello.apps.length > 0) await markGoneApps(tx, name, new Set(hello.apps), nowMs);
              if (hello.ackedHubSeq !== undefined) await ackHubSeq(tx, name, hello.ackedHubSeq);
              return { lastAgentSeq: numberColumn(row['last_agent_seq']) };
            }),
    setConnected: async (name, connected, nowMs) => {
      await db.run('UPDATE clusters SET connected = ?, last_seen_ms = ? WHERE name = ?', [
        sqlBool(connected),
        nowMs,
        name,
      ]);
    },
    resetConnected: async () => {
      await db.run('UPDATE clusters SET connected = 0 WHERE connected = 1');
    },
    touch: async (name, nowMs) => {
      await db.run('UPDATE clusters SET last_seen_ms = ?, connected = ? WHERE name = ?', [
        nowMs,
        sqlBool(true),
        name,
      ]);
    },
  };
}
