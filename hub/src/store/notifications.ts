import { ConflictError, NotFoundError } from '../errors.ts';
import type { Db, Queryable } from './db.ts';
import { fromJsonText, numberColumn, toJsonText, writeAudit, type Row } from './rows.ts';
import type { AuditEntry } from './types.ts';

/** Where notifications go: the kinds of destination the hub can send to. */
export type DestinationKind = 'slack' | 'teams' | 'webhook' | 'alertmanager';

/** How much a notification matters; rules pass events at or above their minimum. */
export type NotificationSeverity = 'info' | 'warning' | 'error';

/** A notification destination. Its secret part is stored sealed, never in `config`. */
export interface DestinationRecord {
  name: string;
  kind: DestinationKind;
  /** Non-secret settings (e.g. `channel`, an Alertmanager `url`, the host of a webhook URL). */
  config: Record<string, string>;
  /** The sealed secret (JSON of the secret fields), '' when the destination has none. */
  sealedSecret: string;
  createdMs: number;
  createdBy: string;
}

/** A rule (route): which events go to which destination. */
export interface RuleRecord {
  id: string;
  destination: string;
  /** Event kinds (e.g. `sync.failed`); empty means every kind. */
  events: string[];
  /** Cluster label selector text (`env=prod`); '' selects every cluster. */
  selector: string;
  /** App names; empty means every app (and events about no app). */
  apps: string[];
  minSeverity: NotificationSeverity;
  /** Messages at most per window; 0 sends every one. */
  rateLimitMax: number;
  /** The window of `rateLimitMax`, ms. */
  rateLimitWindowMs: number;
  createdMs: number;
  createdBy: string;
}

/** State of one delivery: waiting to be sent, sent, given up, or held back by a rate limit. */
export type DeliveryStatus = 'pending' | 'sent' | 'failed' | 'held';

/** One send attempt of a delivery. */
export interface DeliveryAttempt {
  atMs: number;
  outcome: 'sent' | 'failed';
  /** Why it failed (no secret, nor what the destination answered); '' when sent. */
  error: string;
  /**
   * What the destination answered (the first line of its body, or Slack's error code); ''
   * when none. Admins only: the destination may be an address only the hub reaches.
   */
  answer: string;
}

/** One notification to one rule's destination. */
export interface DeliveryRecord {
  id: number;
  /** The notification's key (the same on every replica); unique together with `ruleId`. */
  eventKey: string;
  ruleId: string;
  destination: string;
  /** The notification as built when it was queued. */
  event: Record<string, unknown>;
  status: DeliveryStatus;
  attempts: DeliveryAttempt[];
  nextAttemptMs: number;
  lastError: string;
  /** What the destination answered to the last attempt (see {@link DeliveryAttempt.answer}). */
  lastAnswer: string;
  /** For a held delivery: the id of the summary delivery that reported it; 0 until then. */
  summaryId: number;
  createdMs: number;
  updatedMs: number;
}

/** Outcome of {@link NotificationStore.enqueueDelivery}. */
export type EnqueueResult = 'queued' | 'held' | 'duplicate';

/** Outcome of {@link NotificationStore.transition}. */
export interface TransitionResult {
  /** Whether this call moved the subject to the new state (exactly one replica sees true). */
  changed: boolean;
  /** The state before; '' when the subject was new. */
  previous: string;
  /** Counts the subject's changes; with the subject it names one episode. */
  episode: number;
}

/** Notification destinations, rules, the delivery log and the states events are derived from. */
export interface NotificationStore {
  /** Throws ConflictError when the name is taken. */
  createDestination(d: DestinationRecord, audit: AuditEntry): Promise<void>;
  getDestination(name: string): Promise<DestinationRecord | undefined>;
  listDestinations(): Promise<DestinationRecord[]>;
  /** Deletes the destination and its rules; NotFoundError when unknown. */
  deleteDestination(name: string, nowMs: number, audit: AuditEntry): Promise<void>;
  /** Throws NotFoundError when the destination is unknown, ConflictError when the id is taken. */
  createRule(r: RuleRecord, audit: AuditEntry): Promise<void>;
  listRules(q?: { destination?: string }): Promise<RuleRecord[]>;
  /** NotFoundError when unknown. */
  deleteRule(id: string, nowMs: number, audit: AuditEntry): Promise<void>;
  /**
   * Moves `subject` (e.g. `health:prod/web`) to `state` unless it is there already,
   * atomically: of several replicas deriving the same change, one sees `changed`.
   */
  transition(subject: string, state: string, nowMs: number): Promise<TransitionResult>;
  /** The current state of a subject, '' when unknown. */
  getState(subject: string): Promise<string>;
  /**
   * Queues a delivery once per (eventKey, ruleId): a second call (another replica,
   * a replay) is a `duplicate`. Beyond the rule's rate limit it is stored `held`.
   */
  enqueueDelivery(
    d: Pick<DeliveryRecord, 'eventKey' | 'ruleId' | 'destination' | 'event'>,
    limit: { max: number; windowMs: number },
    nowMs: number,
  ): Promise<EnqueueResult>;
  /**
   * Claims up to `limit` pending deliveries due at `nowMs` for `owner` until
   * `nowMs + leaseMs`; a delivery is claimed by one owner at a time.
   */
  claimDeliveries(q: {
    owner: string;
    nowMs: number;
    leaseMs: number;
    limit: number;
  }): Promise<DeliveryRecord[]>;
  /**
   * Records an attempt of a claimed delivery and its new status (`pending` with
   * `nextAttemptMs` to retry). Ignored (false) when `owner` no longer holds the claim.
   */
  recordAttempt(
    id: number,
    owner: string,
    attempt: DeliveryAttempt,
    next: { status: DeliveryStatus; nextAttemptMs: number },
  ): Promise<boolean>;
  /** Newest first; default limit 100. */
  listDeliveries(q: {
    destination?: string;
    ruleId?: string;
    status?: DeliveryStatus;
    limit?: number;
  }): Promise<DeliveryRecord[]>;
  /**
   * Deletes finished deliveries (sent, failed, held and summarised) last
   * updated before `olderThanMs`; returns how many.
   */
  pruneDeliveries(olderThanMs: number): Promise<number>;
  /**
   * Held deliveries of rules whose rate-limit window has passed since the
   * oldest of them and no summary reported yet, grouped by rule.
   */
  heldForSummary(nowMs: number): Promise<Map<string, DeliveryRecord[]>>;
  /**
   * Queues the summary of `held` (once: keyed by the held ids) and marks them
   * reported; false when another replica did it first.
   */
  enqueueSummary(
    rule: Pick<RuleRecord, 'id' | 'destination'>,
    held: readonly DeliveryRecord[],
    event: Record<string, unknown>,
    nowMs: number,
  ): Promise<boolean>;
}

/** Schema of notifications (hub store migration 6). */
export const NOTIFICATIONS_MIGRATION = {
  version: 6,
  name: 'notification destinations, rules, deliveries and event states',
  sql: `
CREATE TABLE notify_destinations (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  config_json TEXT NOT NULL DEFAULT '{}',
  -- AES-256-GCM sealed (hub/src/secrets); the key is not in the database.
  sealed_secret TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE TABLE notify_rules (
  id TEXT PRIMARY KEY,
  destination TEXT NOT NULL REFERENCES notify_destinations(name) ON DELETE CASCADE,
  events_json TEXT NOT NULL DEFAULT '[]',
  selector TEXT NOT NULL DEFAULT '',
  apps_json TEXT NOT NULL DEFAULT '[]',
  min_severity TEXT NOT NULL DEFAULT 'info',
  rate_limit_max INTEGER NOT NULL DEFAULT 0,
  rate_limit_window_ms BIGINT NOT NULL DEFAULT 0,
  created_ms BIGINT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX notify_rules_destination ON notify_rules (destination);
-- The last state of each subject events are derived from (a sync, an app's health, a drift
-- episode); a compare-and-set on it makes one replica the one that announces a change.
CREATE TABLE notify_state (
  subject TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  episode BIGINT NOT NULL DEFAULT 1,
  updated_ms BIGINT NOT NULL
);
CREATE TABLE notify_deliveries (
  id {{id}},
  event_key TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  destination TEXT NOT NULL,
  event_json TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts_json TEXT NOT NULL DEFAULT '[]',
  next_attempt_ms BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  claimed_by TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL DEFAULT 0,
  summary_id BIGINT NOT NULL DEFAULT 0,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  UNIQUE (event_key, rule_id)
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (status, next_attempt_ms);
CREATE INDEX notify_deliveries_rule ON notify_deliveries (rule_id, created_ms);
`,
};

const toDestination = (r: Row): DestinationRecord => ({
  name: String(r['name']),
  kind: String(r['kind']) as DestinationKind,
  config: fromJsonText(r['config_json'], {}),
  sealedSecret: String(r['sealed_secret']),
  createdMs: numberColumn(r['created_ms']),
  createdBy: String(r['created_by']),
});

const toRule = (r: Row): RuleRecord => ({
  id: String(r['id']),
  destination: String(r['destination']),
  events: fromJsonText(r['events_json'], []),
  selector: String(r['selector']),
  apps: fromJsonText(r['apps_json'], []),
  minSeverity: String(r['min_severity']) as NotificationSeverity,
  rateLimitMax: numberColumn(r['rate_limit_max']),
  rateLimitWindowMs: numberColumn(r['rate_limit_window_ms']),
  createdMs: numberColumn(r['created_ms']),
  createdBy: String(r['created_by']),
});

const toDelivery = (r: Row): DeliveryRecord => ({
  id: numberColumn(r['id']),
  eventKey: String(r['event_key']),
  ruleId: String(r['rule_id']),
  destination: String(r['destination']),
  event: fromJsonText(r['event_json'], {}),
  status: String(r['status']) as DeliveryStatus,
  attempts: fromJsonText<DeliveryAttempt[]>(r['attempts_json'], []).map((a) => ({
    ...a,
    answer: a.answer ?? '',
  })),
  nextAttemptMs: numberColumn(r['next_attempt_ms']),
  lastError: String(r['last_error']),
  lastAnswer: String(r['last_answer']),
  summaryId: numberColumn(r['summary_id']),
  createdMs: numberColumn(r['created_ms']),
  updatedMs: numberColumn(r['updated_ms']),
});

/** The {@link NotificationStore} over `db`. */
export function notificationStore(db: Db): NotificationStore {
  const transitions = groupedTransitions(db);
  return {
    createDestination: (d, audit) =>
      db.tx(async (tx) => {
        const { changes } = await tx.run(
          `INSERT INTO notify_destinations (name, kind, config_json, sealed_secret, created_ms, created_by)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
          [d.name, d.kind, toJsonText(d.config), d.sealedSecret, d.createdMs, d.createdBy],
        );
        if (changes === 0) throw new ConflictError(`destination ${d.name}: already exists`);
        await writeAudit(tx, audit, d.createdMs);
      }),
    getDestination: async (name) => {
      const r = await db.get<Row>('SELECT * FROM notify_destinations WHERE name = ?', [name]);
      return r && toDestination(r);
    },
    listDestinations: async () =>
      (await db.all<Row>('SELECT * FROM notify_destinations ORDER BY name')).map(toDestination),
    deleteDestination: (name, nowMs, audit) =>
      db.tx(async (tx) => {
        // Rules first: SQLite enforces the foreign key's cascade only when told to.
        await tx.run('DELETE FROM notify_rules WHERE destination = ?', [name]);
        const { changes } = await tx.run('DELETE FROM notify_destinations WHERE name = ?', [name]);
        if (changes === 0) throw new NotFoundError(`destination ${name}: not found`);
        await writeAudit(tx, audit, nowMs);
      }),
    createRule: (r, audit) =>
      db.tx(async (tx) => {
        const dest = await tx.get('SELECT name FROM notify_destinations WHERE name = ?', [
          r.destination,
        ]);
        if (!dest) throw new NotFoundError(`rule ${r.id}: destination ${r.destination} not found`);
        const { changes } = await tx.run(
          `INSERT INTO notify_rules (id, destination, events_json, selector, apps_json, min_severity,
             rate_limit_max, rate_limit_window_ms, created_ms, created_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
          [
            r.id,
            r.destination,
            toJsonText(r.events),
            r.selector,
            toJsonText(r.apps),
            r.minSeverity,
            r.rateLimitMax,
            r.rateLimitWindowMs,
            r.createdMs,
            r.createdBy,
          ],
        );
        if (changes === 0) throw new ConflictError(`rule ${r.id}: already exists`);
        await writeAudit(tx, audit, r.createdMs);
      }),
    listRules: async (q = {}) =>
      (q.destination
        ? await db.all<Row>('SELECT * FROM notify_rules WHERE destination = ? ORDER BY id', [
            q.destination,
          ])
        : await db.all<Row>('SELECT * FROM notify_rules ORDER BY id')
      ).map(toRule),
    deleteRule: (id, nowMs, audit) =>
      db.tx(async (tx) => {
        const { changes } = await tx.run('DELETE FROM notify_rules WHERE id = ?', [id]);
        if (changes === 0) throw new NotFoundError(`rule ${id}: not found`);
        await writeAudit(tx, audit, nowMs);
      }),
    transition: (subject, state, nowMs) => transitions(subject, state, nowMs),
    getState: async (subject) => {
      const r = await db.get<Row>('SELECT state FROM notify_state WHERE subject = ?', [subject]);
      return typeof r?.['state'] === 'string' ? r['state'] : '';
    },
    enqueueDelivery: (d, limit, nowMs) =>
      db.tx(async (tx) => {
        const exists = await tx.get(
          'SELECT id FROM notify_deliveries WHERE event_key = ? AND rule_id = ?',
          [d.eventKey, d.ruleId],
        );
        if (exists) return 'duplicate';
        let status: DeliveryStatus = 'pending';
        if (limit.max > 0) {
          const recent = await tx.get<Row>(
            `SELECT COUNT(*) AS n FROM notify_deliveries
             WHERE rule_id = ? AND status <> 'held' AND created_ms > ?`,
            [d.ruleId, nowMs - limit.windowMs],
          );
          if (numberColumn(recent?.['n']) >= limit.max) status = 'held';
        }
        const { changes } = await tx.run(
          `INSERT INTO notify_deliveries (event_key, rule_id, destination, event_json, status,
             next_attempt_ms, created_ms, updated_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_key, rule_id) DO NOTHING`,
          [d.eventKey, d.ruleId, d.destination, toJsonText(d.event), status, nowMs, nowMs, nowMs],
        );
        if (changes === 0) return 'duplicate';
        return status === 'held' ? 'held' : 'queued';
      }),
    claimDeliveries: async ({ owner, nowMs, leaseMs, limit }) => {
      const due = await db.all<Row>(
        `SELECT id FROM notify_deliveries
         WHERE status = 'pending' AND next_attempt_ms <= ? AND lease_until_ms <= ?
         ORDER BY next_attempt_ms, id LIMIT ?`,
        [nowMs, nowMs, limit],
      );
      const claimed: DeliveryRecord[] = [];
      for (const r of due) {
        // The compare-and-set: of replicas racing for the row, one updates it.
        const { changes } = await db.run(
          `UPDATE notify_deliveries SET claimed_by = ?, lease_until_ms = ?
           WHERE id = ? AND status = 'pending' AND lease_until_ms <= ?`,
          [owner, nowMs + leaseMs, numberColumn(r['id']), nowMs],
        );
        if (changes === 0) continue;
        const row = await db.get<Row>('SELECT * FROM notify_deliveries WHERE id = ?', [
          numberColumn(r['id']),
        ]);
        if (row) claimed.push(toDelivery(row));
      }
      return claimed;
    },
    recordAttempt: (id, owner, attempt, next) =>
      db.tx(async (tx) => {
        const row = await tx.get<Row>(
          'SELECT attempts_json FROM notify_deliveries WHERE id = ? AND claimed_by = ?',
          [id, owner],
        );
        if (!row) return false;
        const attempts = [...fromJsonText<DeliveryAttempt[]>(row['attempts_json'], []), attempt];
        const { changes } = await tx.run(
          `UPDATE notify_deliveries SET status = ?, attempts_json = ?, next_attempt_ms = ?,
             last_error = ?, last_answer = ?, claimed_by = '', lease_until_ms = 0, updated_ms = ?
           WHERE id = ? AND claimed_by = ?`,
          [
            next.status,
            toJsonText(attempts),
            next.nextAttemptMs,
            attempt.error,
            attempt.answer,
            attempt.atMs,
            id,
            owner,
          ],
        );
        return changes === 1;
      }),
    listDeliveries: async (q) => {
      const conds: string[] = [];
      const params: (string | number)[] = [];
      for (const [column, value] of [
        ['destination', q.destination],
        ['rule_id', q.ruleId],
        ['status', q.status],
      ] as const) {
        if (value === undefined) continue;
        conds.push(`${column} = ?`);
        params.push(value);
      }
      const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
      const rows = await db.all<Row>(
        `SELECT * FROM notify_deliveries ${where} ORDER BY id DESC LIMIT ?`,
        [...params, q.limit ?? 100],
      );
      return rows.map(toDelivery);
    },
    pruneDeliveries: async (olderThanMs) => {
      const { changes } = await db.run(
        `DELETE FROM notify_deliveries WHERE updated_ms < ?
         AND (status IN ('sent', 'failed') OR (status = 'held' AND summary_id <> 0))`,
        [olderThanMs],
      );
      return changes;
    },
    heldForSummary: async (nowMs) => {
      const rows = await db.all<Row>(
        `SELECT d.* FROM notify_deliveries d JOIN notify_rules r ON r.id = d.rule_id
         WHERE d.status = 'held' AND d.summary_id = 0 ORDER BY d.id`,
      );
      const rules = new Map(
        (await db.all<Row>('SELECT * FROM notify_rules')).map((r) => [String(r['id']), toRule(r)]),
      );
      const out = new Map<string, DeliveryRecord[]>();
      for (const d of rows.map(toDelivery)) {
        const list = out.get(d.ruleId) ?? [];
        list.push(d);
        out.set(d.ruleId, list);
      }
      for (const [ruleId, held] of out) {
        const rule = rules.get(ruleId);
        const oldest = held[0]?.createdMs ?? nowMs;
        if (!rule || oldest + rule.rateLimitWindowMs > nowMs) out.delete(ruleId);
      }
      return out;
    },
    enqueueSummary: (rule, held, event, nowMs) =>
      db.tx(async (tx) => {
        const ids = held.map((h) => h.id);
        const key = `summary:${rule.id}:${ids[0]}-${ids[ids.length - 1]}`;
        const { changes } = await tx.run(
          `INSERT INTO notify_deliveries (event_key, rule_id, destination, event_json, status,
             next_attempt_ms, created_ms, updated_ms)
           VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (event_key, rule_id) DO NOTHING`,
          [key, rule.id, rule.destination, toJsonText(event), nowMs, nowMs, nowMs],
        );
        if (changes === 0) return false;
        const summary = await tx.get<Row>(
          'SELECT id FROM notify_deliveries WHERE event_key = ? AND rule_id = ?',
          [key, rule.id],
        );
        for (const id of ids)
          await tx.run(
            'UPDATE notify_deliveries SET summary_id = ?, updated_ms = ? WHERE id = ? AND summary_id = 0',
            [numberColumn(summary?.['id']), nowMs, id],
          );
        return true;
      }),
  };
}

/** Most transitions in one transaction of {@link groupedTransitions}. */
const MAX_GROUPED_TRANSITIONS = 256;

/**
 * Group commit of transitions: those asked for in the same I/O turn (the notifier derives the
 * reports of many clusters at once) share one transaction, each still its own
 * compare-and-set with its own result. When the shared transaction fails, each is tried
 * again alone, so one failure stays with its caller.
 */
function groupedTransitions(
  db: Db,
): (subject: string, state: string, nowMs: number) => Promise<TransitionResult> {
  type Asked = {
    subject: string;
    state: string;
    nowMs: number;
    resolve: (r: TransitionResult) => void;
    reject: (err: unknown) => void;
  };
  const queue: Asked[] = [];
  const alone = (a: Asked) =>
    db.tx((tx) => transition(tx, a.subject, a.state, a.nowMs)).then(a.resolve, a.reject);
  const commit = async (group: Asked[]) => {
    if (group.length === 1) return alone(group[0]!);
    let results: TransitionResult[];
    try {
      results = await db.tx((tx) => transitionMany(tx, group));
    } catch {
      for (const a of group) await alone(a);
      return;
    }
    group.forEach((a, i) => a.resolve(results[i]!));
  };
  const flush = () => {
    while (queue.length > 0) void commit(queue.splice(0, MAX_GROUPED_TRANSITIONS));
  };
  return (subject, state, nowMs) =>
    new Promise<TransitionResult>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ subject, state, nowMs, resolve, reject });
    });
}

/** Most subjects one statement of {@link transitionMany} names (SQLite allows 32,766 parameters). */
const MAX_SUBJECTS_PER_STATEMENT = 500;

/**
 * Several transitions in one transaction, each with the outcome {@link transition} would give
 * it, in fewer statements: one read of every subject's row, one insert of the new subjects
 * (`RETURNING` says which rows this call inserted: a replica racing to insert the same subject
 * inserts it once), and an update only for a subject whose state changes. A subject named
 * twice takes the one-at-a-time path for the whole group, so each sees the one before it.
 */
async function transitionMany(
  tx: Queryable,
  asked: readonly { subject: string; state: string; nowMs: number }[],
): Promise<TransitionResult[]> {
  const subjects = asked.map((a) => a.subject);
  if (new Set(subjects).size !== subjects.length) {
    const out: TransitionResult[] = [];
    for (const a of asked) out.push(await transition(tx, a.subject, a.state, a.nowMs));
    return out;
  }
  const rows = new Map<string, Row>();
  for (let i = 0; i < subjects.length; i += MAX_SUBJECTS_PER_STATEMENT) {
    const chunk = subjects.slice(i, i + MAX_SUBJECTS_PER_STATEMENT);
    for (const r of await tx.all<Row>(
      `SELECT subject, state, episode FROM notify_state WHERE subject IN (${chunk.map(() => '?').join(', ')})`,
      chunk,
    ))
      rows.set(String(r['subject']), r);
  }
  const fresh = asked.filter((a) => !rows.has(a.subject));
  const inserted = new Set<string>();
  for (let i = 0; i < fresh.length; i += MAX_SUBJECTS_PER_STATEMENT) {
    const chunk = fresh.slice(i, i + MAX_SUBJECTS_PER_STATEMENT);
    for (const r of await tx.all<Row>(
      `INSERT INTO notify_state (subject, state, episode, updated_ms)
       VALUES ${chunk.map(() => '(?, ?, 1, ?)').join(', ')}
       ON CONFLICT (subject) DO NOTHING RETURNING subject`,
      chunk.flatMap((a) => [a.subject, a.state, a.nowMs]),
    ))
      inserted.add(String(r['subject']));
  }
  const out: TransitionResult[] = [];
  for (const a of asked) {
    const row = rows.get(a.subject);
    out.push(
      row
        ? await transitionFrom(tx, row, a.subject, a.state, a.nowMs)
        : { changed: inserted.has(a.subject), previous: '', episode: 1 },
    );
  }
  return out;
}

async function transition(
  tx: Queryable,
  subject: string,
  state: string,
  nowMs: number,
): Promise<TransitionResult> {
  const row = await tx.get<Row>('SELECT state, episode FROM notify_state WHERE subject = ?', [
    subject,
  ]);
  if (!row) {
    const { changes } = await tx.run(
      `INSERT INTO notify_state (subject, state, episode, updated_ms) VALUES (?, ?, 1, ?)
       ON CONFLICT (subject) DO NOTHING`,
      [subject, state, nowMs],
    );
    return { changed: changes === 1, previous: '', episode: 1 };
  }
  return transitionFrom(tx, row, subject, state, nowMs);
}

/** The compare-and-set of a subject whose row (state, episode) was read in this transaction. */
async function transitionFrom(
  tx: Queryable,
  row: Row,
  subject: string,
  state: string,
  nowMs: number,
): Promise<TransitionResult> {
  const previous = String(row['state']);
  const episode = numberColumn(row['episode']);
  if (previous === state) return { changed: false, previous, episode };
  const { changes } = await tx.run(
    `UPDATE notify_state SET state = ?, episode = episode + 1, updated_ms = ?
     WHERE subject = ? AND state = ? AND episode = ?`,
    [state, nowMs, subject, previous, episode],
  );
  return { changed: changes === 1, previous, episode: episode + 1 };
}
