import { ConflictError, NotFoundError } from '../errors.ts';
import type { Db, Queryable } from './db.ts';
import { numberColumn, optionalCondition, whereAll, writeAudit, type Row } from './rows.ts';
import type { AuditEntry } from './types.ts';

/** The Git hosts whose commit-status APIs the hub knows. */
export type GitHostKind = 'github' | 'gitlab' | 'gitea';

/** The states a commit status takes here; each host's API names them its own way. */
export type CommitState = 'pending' | 'success' | 'failure' | 'superseded';

/** A repository host the hub posts commit statuses to, with its token sealed. */
export interface StatusHostRecord {
  /** The name a person gave it (`github`, `gitlab-internal`). */
  name: string;
  kind: GitHostKind;
  /**
   * Which repository URLs it serves: `host[:port][/path-prefix]`, compared with the host (and
   * path) of each cluster's repository URL, https and ssh alike.
   */
  match: string;
  /** API base URL, e.g. `https://api.github.com`, `https://gitlab.example.com/api/v4`. */
  apiUrl: string;
  /** The token as sealed at rest; never leaves the hub. */
  tokenSealed: string;
  createdMs: number;
  createdBy: string;
  updatedMs: number;
}

/** The identity of one commit status: a commit of a repository, in one context. */
export interface CommitStatusKey {
  /** The repository URL as the cluster follows it (credentials stripped). */
  repoUrl: string;
  sha: string;
  /** `driftless/<cluster>` or `driftless/<label>:<value>`. */
  context: string;
}

/** What the hub wants a commit's status to say (the engine decides it). */
export interface DesiredStatus {
  state: CommitState;
  description: string;
  targetUrl: string;
  /** The host (by name) that receives it. */
  host: string;
  /** The project path on that host (`owner/repo`, `group/sub/project`). */
  repoPath: string;
  /** For `superseded`: the commit that took its place. */
  supersededBy: string;
}

/** A commit status as stored: what is wanted, what was posted, and the retry state. */
export interface CommitStatusRecord extends CommitStatusKey, DesiredStatus {
  /** Grows with every change of the wanted state or description. */
  version: number;
  /** The version last posted successfully (0: none yet). */
  postedVersion: number;
  postedState: CommitState | '';
  postedMs: number;
  /** Failed attempts at the current version. */
  attempts: number;
  /** Not before this time (ms), after a failure. */
  nextAttemptMs: number;
  /** The last failure, '' after a success; never what the host answered. */
  lastError: string;
  /** What the host answered to the last failed post (its `message`); admins only. */
  lastAnswer: string;
  createdMs: number;
  updatedMs: number;
}

/** One attempt to post a status, for the API's delivery log. */
export interface StatusPostRecord extends CommitStatusKey {
  id: number;
  atMs: number;
  host: string;
  state: CommitState;
  description: string;
  /** `posted`, or `failed` with `error` (and the HTTP status when one came). */
  result: 'posted' | 'failed';
  httpStatus: number;
  error: string;
  /** What the host answered (its `message`), '' for none; admins only. */
  answer: string;
  attempt: number;
}

/** Host tokens, the statuses the hub wants on commits, and the log of posts. */
export interface CommitStatusStore {
  listStatusHosts(): Promise<StatusHostRecord[]>;
  getStatusHost(name: string): Promise<StatusHostRecord | undefined>;
  /**
   * Creates or replaces a host (audited in the same transaction). On replace the statuses
   * waiting on the host are retried at once (a fixed token should not wait out a backoff).
   */
  putStatusHost(host: StatusHostRecord, audit: AuditEntry): Promise<'created' | 'updated'>;
  /** Throws NotFoundError for an unknown host. */
  deleteStatusHost(name: string, nowMs: number, audit: AuditEntry): Promise<void>;
  /** The statuses of a context (and repository, and commit), newest first. */
  listCommitStatuses(q: {
    context?: string;
    repoUrl?: string;
    sha?: string;
    states?: CommitState[];
    limit?: number;
  }): Promise<CommitStatusRecord[]>;
  /**
   * Sets what a commit's status should say, when the stored state is one of `from` (or there
   * is none and `from` includes `none`). A change of state, description or target bumps the
   * version (so it is posted); the same content changes nothing. Returns whether it changed.
   */
  setDesiredStatus(
    key: CommitStatusKey,
    desired: DesiredStatus,
    from: readonly (CommitState | 'none')[],
    nowMs: number,
  ): Promise<boolean>;
  /**
   * Claims up to `limit` statuses whose wanted version is not posted and whose backoff has
   * passed, for `owner` until `leaseUntilMs`: another replica claims none of them meanwhile.
   */
  claimDueStatuses(
    owner: string,
    nowMs: number,
    leaseUntilMs: number,
    limit: number,
  ): Promise<CommitStatusRecord[]>;
  /** Records a post of `version` and releases the claim; logs it. */
  recordStatusPosted(
    claim: CommitStatusRecord,
    owner: string,
    nowMs: number,
    httpStatus: number,
  ): Promise<void>;
  /** Records a failed post, the next attempt's time, and releases the claim; logs it. */
  recordStatusFailed(
    claim: CommitStatusRecord,
    owner: string,
    nowMs: number,
    failure: { error: string; answer: string; httpStatus: number; nextAttemptMs: number },
  ): Promise<void>;
  /**
   * Forgets the statuses of commits nothing changed since `olderThanMs` (and that no replica
   * is posting right now); returns how many. Their statuses stay on the Git host.
   */
  pruneCommitStatuses(olderThanMs: number, nowMs: number): Promise<number>;
  /** The newest posts first (default 100). */
  listStatusPosts(q: {
    limit?: number;
    repoUrl?: string;
    sha?: string;
  }): Promise<StatusPostRecord[]>;
}

/** Host tokens (sealed), wanted and posted commit statuses, and the post log. */
export const COMMIT_STATUS_MIGRATION = {
  version: 7,
  name: 'Git commit statuses: host tokens, wanted and posted states, post log',
  sql: `
CREATE TABLE commit_status_hosts (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  url_match TEXT NOT NULL,
  api_url TEXT NOT NULL,
  token_sealed TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE TABLE commit_statuses (
  repo_url TEXT NOT NULL,
  sha TEXT NOT NULL,
  context TEXT NOT NULL,
  host TEXT NOT NULL,
  repo_path TEXT NOT NULL,
  state TEXT NOT NULL,
  description TEXT NOT NULL,
  target_url TEXT NOT NULL,
  superseded_by TEXT NOT NULL DEFAULT '',
  version INTEGER NOT NULL,
  posted_version INTEGER NOT NULL DEFAULT 0,
  posted_state TEXT NOT NULL DEFAULT '',
  posted_ms BIGINT NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  claim_owner TEXT NOT NULL DEFAULT '',
  claim_until_ms BIGINT NOT NULL DEFAULT 0,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (repo_url, sha, context)
);
CREATE INDEX commit_statuses_due ON commit_statuses (next_attempt_ms);
CREATE INDEX commit_statuses_context ON commit_statuses (context, repo_url);
CREATE INDEX commit_statuses_updated ON commit_statuses (updated_ms);
CREATE TABLE commit_status_posts (
  id {{id}},
  at_ms BIGINT NOT NULL,
  repo_url TEXT NOT NULL,
  sha TEXT NOT NULL,
  context TEXT NOT NULL,
  host TEXT NOT NULL,
  state TEXT NOT NULL,
  description TEXT NOT NULL,
  result TEXT NOT NULL,
  http_status INTEGER NOT NULL,
  error TEXT NOT NULL,
  attempt INTEGER NOT NULL
);
`,
};

/** Posts kept in the log; older ones are deleted as new ones come. */
export const STATUS_POST_LOG_SIZE = 1000;

const toHost = (r: Row): StatusHostRecord => ({
  name: String(r['name']),
  kind: String(r['kind']) as GitHostKind,
  match: String(r['url_match']),
  apiUrl: String(r['api_url']),
  tokenSealed: String(r['token_sealed']),
  createdMs: numberColumn(r['created_ms']),
  createdBy: String(r['created_by']),
  updatedMs: numberColumn(r['updated_ms']),
});

const toStatus = (r: Row): CommitStatusRecord => ({
  repoUrl: String(r['repo_url']),
  sha: String(r['sha']),
  context: String(r['context']),
  host: String(r['host']),
  repoPath: String(r['repo_path']),
  state: String(r['state']) as CommitState,
  description: String(r['description']),
  targetUrl: String(r['target_url']),
  supersededBy: String(r['superseded_by']),
  version: numberColumn(r['version']),
  postedVersion: numberColumn(r['posted_version']),
  postedState: String(r['posted_state']) as CommitState | '',
  postedMs: numberColumn(r['posted_ms']),
  attempts: numberColumn(r['attempts']),
  nextAttemptMs: numberColumn(r['next_attempt_ms']),
  lastError: String(r['last_error']),
  lastAnswer: String(r['last_answer']),
  createdMs: numberColumn(r['created_ms']),
  updatedMs: numberColumn(r['updated_ms']),
});

const toPost = (r: Row): StatusPostRecord => ({
  id: numberColumn(r['id']),
  atMs: numberColumn(r['at_ms']),
  repoUrl: String(r['repo_url']),
  sha: String(r['sha']),
  context: String(r['context']),
  host: String(r['host']),
  state: String(r['state']) as CommitState,
  description: String(r['description']),
  result: String(r['result']) as StatusPostRecord['result'],
  httpStatus: numberColumn(r['http_status']),
  error: String(r['error']),
  answer: String(r['answer']),
  attempt: numberColumn(r['attempt']),
});

const KEY_WHERE = 'repo_url = ? AND sha = ? AND context = ?';
const keyParams = (k: CommitStatusKey) => [k.repoUrl, k.sha, k.context];

/** Appends one post to the log and trims the log to {@link STATUS_POST_LOG_SIZE}. */
async function logPost(
  tx: Queryable,
  claim: CommitStatusRecord,
  nowMs: number,
  result: { result: 'posted' | 'failed'; httpStatus: number; error: string; answer: string },
): Promise<void> {
  await tx.run(
    `INSERT INTO commit_status_posts (at_ms, repo_url, sha, context, host, state, description,
       result, http_status, error, answer, attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      nowMs,
      ...keyParams(claim),
      claim.host,
      claim.state,
      claim.description,
      result.result,
      result.httpStatus,
      result.error,
      result.answer,
      claim.attempts + 1,
    ],
  );
  const newest = await tx.get<Row>('SELECT MAX(id) AS id FROM commit_status_posts');
  const cut = numberColumn(newest?.['id']) - STATUS_POST_LOG_SIZE;
  if (cut > 0) await tx.run('DELETE FROM commit_status_posts WHERE id <= ?', [cut]);
}

/**
 * How long one read of the hosts serves later reads, ms. The commit-status engine reads them for
 * every cluster a report comes from (tens of thousands of reads a minute in a big fleet), and
 * they change only through the API: this process's own writes drop the cached read at once; a
 * write on another replica is seen within this time, as if the read had been made a moment
 * before it (the engine's periodic resync looks at every cluster again anyway).
 */
export const STATUS_HOSTS_CACHE_MS = 1000;

/** The {@link CommitStatusStore} over `db`. */
export function commitStatusStore(db: Db): CommitStatusStore {
  let hosts: { atMs: number; rows: Promise<StatusHostRecord[]> } | undefined;
  const readHosts = (): Promise<StatusHostRecord[]> => {
    const now = performance.now();
    if (!hosts || now - hosts.atMs > STATUS_HOSTS_CACHE_MS) {
      const entry = {
        atMs: now,
        rows: db
          .all<Row>('SELECT * FROM commit_status_hosts ORDER BY name')
          .then((rows) => rows.map(toHost)),
      };
      // A failed read is not kept: the next caller asks again.
      entry.rows.catch(() => {
        if (hosts === entry) hosts = undefined;
      });
      hosts = entry;
    }
    return hosts.rows;
  };
  /** Runs a write to the hosts and drops the cached read (also when the write fails). */
  const writingHosts = async <T>(write: Promise<T>): Promise<T> => {
    try {
      return await write;
    } finally {
      hosts = undefined;
    }
  };
  return {
    // Copies: a caller may sort or change the list it gets.
    listStatusHosts: async () => (await readHosts()).map((h) => ({ ...h })),
    getStatusHost: async (name) => {
      const r = await db.get<Row>('SELECT * FROM commit_status_hosts WHERE name = ?', [name]);
      return r && toHost(r);
    },
    putStatusHost: (h, audit) =>
      writingHosts(
        db.tx(async (tx) => {
          const clash = await tx.get<Row>(
            'SELECT name FROM commit_status_hosts WHERE url_match = ? AND name <> ?',
            [h.match, h.name],
          );
          if (clash)
            throw new ConflictError(
              `commit-status host ${h.name}: host ${String(clash['name'])} already matches ${h.match}`,
            );
          const old = await tx.get<Row>('SELECT name FROM commit_status_hosts WHERE name = ?', [
            h.name,
          ]);
          if (old) {
            await tx.run(
              `UPDATE commit_status_hosts SET kind = ?, url_match = ?, api_url = ?, token_sealed = ?,
               updated_ms = ? WHERE name = ?`,
              [h.kind, h.match, h.apiUrl, h.tokenSealed, h.updatedMs, h.name],
            );
            await tx.run(
              'UPDATE commit_statuses SET next_attempt_ms = 0 WHERE host = ? AND posted_version < version',
              [h.name],
            );
          } else
            await tx.run(
              `INSERT INTO commit_status_hosts (name, kind, url_match, api_url, token_sealed, created_ms,
               created_by, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
              [
                h.name,
                h.kind,
                h.match,
                h.apiUrl,
                h.tokenSealed,
                h.createdMs,
                h.createdBy,
                h.updatedMs,
              ],
            );
          await writeAudit(tx, audit, h.updatedMs);
          return old ? 'updated' : 'created';
        }),
      ),
    deleteStatusHost: (name, nowMs, audit) =>
      writingHosts(
        db.tx(async (tx) => {
          const gone = await tx.run('DELETE FROM commit_status_hosts WHERE name = ?', [name]);
          if (gone.changes !== 1) throw new NotFoundError(`commit-status host ${name}: not found`);
          await writeAudit(tx, audit, nowMs);
        }),
      ),
    listCommitStatuses: async (q) => {
      const states = q.states ?? [];
      const where = whereAll([
        optionalCondition('context = ?', q.context),
        optionalCondition('repo_url = ?', q.repoUrl),
        optionalCondition('sha = ?', q.sha),
        states.length
          ? { sql: `state IN (${states.map(() => '?').join(', ')})`, params: states }
          : { sql: '', params: [] },
      ]);
      const rows = await db.all<Row>(
        `SELECT * FROM commit_statuses ${where.sql} ORDER BY updated_ms DESC, sha LIMIT ?`,
        [...where.params, q.limit ?? 500],
      );
      return rows.map(toStatus);
    },
    setDesiredStatus: (key, d, from, nowMs) =>
      db.tx(async (tx) => {
        const row = await tx.get<Row>(`SELECT * FROM commit_statuses WHERE ${KEY_WHERE}`, [
          ...keyParams(key),
        ]);
        if (!row) {
          if (!from.includes('none')) return false;
          await tx.run(
            `INSERT INTO commit_statuses (repo_url, sha, context, host, repo_path, state,
               description, target_url, superseded_by, version, created_ms, updated_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (repo_url, sha, context) DO NOTHING`,
            [
              ...keyParams(key),
              d.host,
              d.repoPath,
              d.state,
              d.description,
              d.targetUrl,
              d.supersededBy,
              nowMs,
              nowMs,
            ],
          );
          return true;
        }
        const cur = toStatus(row);
        if (!from.includes(cur.state)) return false;
        const same =
          cur.state === d.state &&
          cur.description === d.description &&
          cur.targetUrl === d.targetUrl &&
          cur.host === d.host &&
          cur.repoPath === d.repoPath;
        if (same) return false;
        // The version guard makes two replicas deciding at once bump it only once.
        const changed = await tx.run(
          `UPDATE commit_statuses SET host = ?, repo_path = ?, state = ?, description = ?,
             target_url = ?, superseded_by = ?, version = version + 1, attempts = 0,
             next_attempt_ms = 0, updated_ms = ? WHERE ${KEY_WHERE} AND version = ?`,
          [
            d.host,
            d.repoPath,
            d.state,
            d.description,
            d.targetUrl,
            d.supersededBy,
            nowMs,
            ...keyParams(key),
            cur.version,
          ],
        );
        return changed.changes === 1;
      }),
    claimDueStatuses: async (owner, nowMs, leaseUntilMs, limit) => {
      const due = await db.all<Row>(
        `SELECT * FROM commit_statuses WHERE posted_version < version AND next_attempt_ms <= ?
           AND claim_until_ms <= ? ORDER BY updated_ms LIMIT ?`,
        [nowMs, nowMs, limit],
      );
      const claimed: CommitStatusRecord[] = [];
      for (const r of due.map(toStatus)) {
        // Conditional on the row being unclaimed at this version: one replica wins it.
        const won = await db.run(
          `UPDATE commit_statuses SET claim_owner = ?, claim_until_ms = ?
             WHERE ${KEY_WHERE} AND version = ? AND claim_until_ms <= ?`,
          [owner, leaseUntilMs, ...keyParams(r), r.version, nowMs],
        );
        if (won.changes === 1) claimed.push(r);
      }
      return claimed;
    },
    recordStatusPosted: (claim, owner, nowMs, httpStatus) =>
      db.tx(async (tx) => {
        await tx.run(
          `UPDATE commit_statuses SET posted_version = ?, posted_state = ?, posted_ms = ?,
             attempts = 0, next_attempt_ms = 0, last_error = '', last_answer = '', claim_owner = '',
             claim_until_ms = 0 WHERE ${KEY_WHERE} AND claim_owner = ?`,
          [claim.version, claim.state, nowMs, ...keyParams(claim), owner],
        );
        await logPost(tx, claim, nowMs, {
          result: 'posted',
          httpStatus,
          error: '',
          answer: '',
        });
      }),
    recordStatusFailed: (claim, owner, nowMs, f) =>
      db.tx(async (tx) => {
        // Only while the version is the one tried: a newer wanted state starts afresh.
        await tx.run(
          `UPDATE commit_statuses SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ?,
             last_answer = ? WHERE ${KEY_WHERE} AND claim_owner = ? AND version = ?`,
          [f.nextAttemptMs, f.error, f.answer, ...keyParams(claim), owner, claim.version],
        );
        await tx.run(
          `UPDATE commit_statuses SET claim_owner = '', claim_until_ms = 0
             WHERE ${KEY_WHERE} AND claim_owner = ?`,
          [...keyParams(claim), owner],
        );
        await logPost(tx, claim, nowMs, {
          result: 'failed',
          httpStatus: f.httpStatus,
          error: f.error,
          answer: f.answer,
        });
      }),
    pruneCommitStatuses: async (olderThanMs, nowMs) =>
      (
        await db.run('DELETE FROM commit_statuses WHERE updated_ms < ? AND claim_until_ms <= ?', [
          olderThanMs,
          nowMs,
        ])
      ).changes,
    listStatusPosts: async (q) => {
      const where = whereAll([
        optionalCondition('repo_url = ?', q.repoUrl),
        optionalCondition('sha = ?', q.sha),
      ]);
      const rows = await db.all<Row>(
        `SELECT * FROM commit_status_posts ${where.sql} ORDER BY id DESC LIMIT ?`,
        [...where.params, q.limit ?? 100],
      );
      return rows.map(toPost);
    },
  };
}
