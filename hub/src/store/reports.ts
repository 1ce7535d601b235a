import { ConflictError, NotFoundError } from '../errors.ts';
import type { Db, Dialect, Queryable, Statement } from './db.ts';
import { markRemovedApps, upsertConfigState } from './config-state.ts';
import {
  allStatements,
  boolColumn,
  fromJsonText,
  insertEach,
  upsertJson,
  numberColumn,
  optionalCondition,
  sqlBool,
  toJsonText,
  whereAll,
  type ColumnWriters,
  type Row,
} from './rows.ts';
import { selectorSql } from './selector.ts';
import { clusterFilter } from './selector-plan.ts';
import type { AppRecord, DriftRecord, Report, SelectorTerm, SyncRecord } from './types.ts';

/** Filters of {@link ReportStore.listDrift}. */
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

/** Filters and page of {@link ReportStore.listApps}. */
export interface AppQuery {
  cluster?: string;
  app?: string;
  selector?: SelectorTerm[];
  /** Only apps after this one in (cluster, app) order: the next page. */
  after?: { cluster: string; app: string };
  /** At most this many; default all. */
  limit?: number;
}

/** How many apps of one cluster are in one state: a row of {@link ReportStore.countApps}. */
export interface AppStateCount {
  cluster: string;
  syncStatus: AppRecord['syncStatus'];
  health: AppRecord['health'];
  apps: number;
}

/** Filters of {@link ReportStore.listHistory}. */
export interface HistoryQuery {
  selector?: SelectorTerm[];
  cluster?: string;
  app?: string;
  /** Only this sync (with `cluster`: one row read by its key). */
  syncId?: string;
  /** Newest first; default 100. */
  limit?: number;
}

/** What {@link ReportStore.appHealth} reads of one app. */
export type AppHealth = Pick<AppRecord, 'health' | 'healthMessage' | 'revision' | 'gone'>;

/** What {@link ReportStore.driftState} counts of one app's open drift. */
export interface DriftState {
  /** Drift records of the app not healed. */
  open: number;
  /** Whether any of them is a fight with another controller (has `fight`). */
  fighting: boolean;
}

/** Result of {@link ReportStore.ingest}. */
export interface IngestResult {
  /** False when the seq was already stored: a replay that changed nothing. */
  applied: boolean;
  /** The highest agent seq stored for the cluster, to ack. */
  lastSeq: number;
}

/** One report for {@link ReportStore.ingestMany}: the arguments of {@link ReportStore.ingest}. */
export interface IngestItem {
  cluster: string;
  seq: number;
  report: Report;
  nowMs: number;
}

/** What became of one {@link IngestItem}: what `ingest` would return, or the error it would throw. */
export type IngestOutcome = { ok: true; result: IngestResult } | { ok: false; error: Error };

/**
 * A report came before the one right after the cluster's last stored seq. The hub stores
 * (and so acks) only a contiguous prefix of an agent's reports, so a lost report is resent
 * rather than skipped; the agent resends from the hub's Ack after a reconnect.
 */
export class ReportOutOfOrderError extends ConflictError {
  override name = 'ReportOutOfOrderError';
  /** The highest seq stored: the agent must resend from the one after it. */
  readonly lastSeq: number;

  constructor(cluster: string, seq: number, lastSeq: number) {
    super(
      `report seq ${seq} from cluster ${cluster} is out of order: the hub has every report up to seq ${lastSeq} and needs ${lastSeq + 1} next; reconnect to resend`,
    );
    this.lastSeq = lastSeq;
  }
}

/** What agents report: app states, drift, sync history and gaps. */
export interface ReportStore {
  /**
   * Stores one sequenced report if it is the next one (seq = last stored + 1); a seq stored
   * before changes nothing (a replay); a later one throws {@link ReportOutOfOrderError}.
   */
  ingest(cluster: string, seq: number, report: Report, nowMs: number): Promise<IngestResult>;
  /**
   * Stores several reports in one transaction, in the given order (so seq n and n + 1 of one
   * cluster may share it). Each item's outcome is what {@link ingest} would give: a replay, a
   * {@link ReportOutOfOrderError} or an unknown cluster affects that item only. Any other
   * failure (a write the database refuses, a lost connection) rolls every item back and
   * throws a StoreError; the caller then stores them one by one.
   */
  ingestMany(items: readonly IngestItem[]): Promise<IngestOutcome[]>;
  /** Apps ordered by cluster and app; `app` (with `cluster`) reads one app's row alone. */
  listApps(query: AppQuery): Promise<AppRecord[]>;
  /**
   * Apps still in their cluster's config, counted per cluster, sync status and health; states
   * no app is in are left out. One grouped read (the fleet gauges at each scrape).
   */
  countApps(): Promise<AppStateCount[]>;
  listDrift(q: DriftQuery): Promise<DriftRecord[]>;
  /**
   * One app's health columns (undefined when the cluster has no such app): what a health
   * notification is decided from, without reading the rest of the row.
   */
  appHealth(cluster: string, app: string): Promise<AppHealth | undefined>;
  /**
   * How many drift records of one app are open and whether one is a fight: one count over the
   * (cluster, app) index, what a drift notification is decided from; `listDrift` reads the
   * records themselves when there is something to announce.
   */
  driftState(cluster: string, app: string): Promise<DriftState>;
  listHistory(q: HistoryQuery): Promise<SyncRecord[]>;
  /**
   * Deletes sync history finished before `olderThanMs` (0: none by age), and beyond the
   * newest `keepPerApp` entries of each app (0: none by count); healed drift and report gaps
   * older than `olderThanMs` too. Returns how many history entries went.
   */
  pruneHistory(q: { olderThanMs: number; keepPerApp: number }): Promise<number>;
}

/** A reported record with the cluster it came from and when it was received. */
interface Received<T> {
  cluster: string;
  nowMs: number;
  value: T;
}

type AppReport = Extract<Report, { kind: 'app' }>['app'];
type SyncReport = Extract<Report, { kind: 'sync' }>['sync'];
type DriftReport = Extract<Report, { kind: 'drift' }>['drift'];
type GapReport = Extract<Report, { kind: 'gap' }>['gap'];

// Each table's columns, written once: a new field is a line here, one in the reader below,
// and a migration.
const APP_COLUMNS: ColumnWriters<Received<AppReport>> = [
  ['cluster', (r) => r.cluster],
  ['app', (r) => r.value.app],
  ['revision', (r) => r.value.revision],
  ['sync_status', (r) => r.value.syncStatus],
  ['sync_mode', (r) => r.value.syncMode],
  ['health', (r) => r.value.health],
  ['health_message', (r) => r.value.healthMessage],
  ['drift_count', (r) => r.value.driftCount],
  ['plan_digest', (r) => r.value.planDigest],
  ['pending_plan_json', (r) => toJsonText(r.value.pendingPlan)],
  ['message', (r) => r.value.message],
  ['last_sync_ms', (r) => r.value.lastSyncMs],
  ['suspension_json', (r) => toJsonText(r.value.suspension ?? null)],
  ['updated_ms', (r) => r.nowMs],
  // A report of an app brings it back if a Hello had marked it gone.
  ['gone', () => 0],
];

const SYNC_COLUMNS: ColumnWriters<Received<SyncReport>> = [
  ['cluster', (r) => r.cluster],
  ['sync_id', (r) => r.value.syncId],
  ['app', (r) => r.value.app],
  ['revision', (r) => r.value.revision],
  ['result', (r) => r.value.result],
  ['error', (r) => r.value.error],
  ['plan_digest', (r) => r.value.planDigest],
  ['objects_json', (r) => toJsonText(r.value.objects)],
  ['steps_json', (r) => toJsonText(r.value.steps)],
  ['trace_id', (r) => r.value.traceId],
  ['started_ms', (r) => r.value.startedMs],
  ['finished_ms', (r) => r.value.finishedMs],
  ['health', (r) => r.value.health],
  ['retryable', (r) => sqlBool(r.value.retryable)],
  ['approval_id', (r) => r.value.approvalId],
  ['received_ms', (r) => r.nowMs],
];

const DRIFT_COLUMNS: ColumnWriters<Received<DriftReport>> = [
  ['cluster', (r) => r.cluster],
  ['drift_id', (r) => r.value.driftId],
  ['app', (r) => r.value.app],
  ['object_json', (r) => toJsonText(r.value.object)],
  ['object_ref', (r) => r.value.objectRef],
  ['drift_type', (r) => r.value.type],
  ['fields_json', (r) => toJsonText(r.value.fields)],
  ['changed_by', (r) => r.value.changedBy],
  ['detected_ms', (r) => r.value.detectedMs],
  ['healed', (r) => sqlBool(r.value.healed)],
  ['healed_ms', (r) => r.value.healedMs],
  ['message', (r) => r.value.message],
  ['last_sync_trace_id', (r) => r.value.lastSyncTraceId],
  ['updated_ms', (r) => r.nowMs],
  ['closed_by', (r) => r.value.closedBy ?? ''],
  ['fight_json', (r) => toJsonText(r.value.fight ?? null)],
  ['changed_ms', (r) => r.value.changedMs ?? 0],
  ['changed_source', (r) => r.value.changedSource ?? ''],
];

const GAP_COLUMNS: ColumnWriters<Received<GapReport>> = [
  ['cluster', (r) => r.cluster],
  ['first_seq', (r) => r.value.firstSeq],
  ['last_seq', (r) => r.value.lastSeq],
  ['count', (r) => r.value.count],
  ['summary', (r) => r.value.summary],
  ['received_ms', (r) => r.nowMs],
];

const toApp = (r: Row): AppRecord => ({
  cluster: String(r['cluster']),
  app: String(r['app']),
  revision: String(r['revision']),
  syncStatus: String(r['sync_status']) as AppRecord['syncStatus'],
  syncMode: String(r['sync_mode']) as AppRecord['syncMode'],
  health: String(r['health']) as AppRecord['health'],
  healthMessage: String(r['health_message']),
  driftCount: numberColumn(r['drift_count']),
  planDigest: String(r['plan_digest']),
  pendingPlan: fromJsonText<unknown[]>(r['pending_plan_json'], []),
  message: String(r['message']),
  lastSyncMs: numberColumn(r['last_sync_ms']),
  updatedMs: numberColumn(r['updated_ms']),
  gone: boolColumn(r['gone']),
  suspension: fromJsonText(r['suspension_json'], null),
});

/** A `drifts` row as its record (JSON columns parsed). */
export const driftFromRow = (r: Row): DriftRecord => ({
  cluster: String(r['cluster']),
  driftId: String(r['drift_id']),
  app: String(r['app']),
  object: fromJsonText(r['object_json'], {
    group: '',
    version: '',
    kind: '',
    namespace: '',
    name: '',
  }),
  objectRef: String(r['object_ref']),
  type: String(r['drift_type']) as DriftRecord['type'],
  fields: fromJsonText(r['fields_json'], []),
  changedBy: String(r['changed_by']),
  detectedMs: numberColumn(r['detected_ms']),
  healed: boolColumn(r['healed']),
  healedMs: numberColumn(r['healed_ms']),
  message: String(r['message']),
  lastSyncTraceId: String(r['last_sync_trace_id']),
  updatedMs: numberColumn(r['updated_ms']),
  closedBy: String(r['closed_by']),
  fight: fromJsonText<DriftRecord['fight']>(r['fight_json'], null),
  changedMs: numberColumn(r['changed_ms']),
  changedSource: String(r['changed_source']) as DriftRecord['changedSource'],
  fought: boolColumn(r['fought']),
});

const toSync = (r: Row): SyncRecord => ({
  cluster: String(r['cluster']),
  syncId: String(r['sync_id']),
  app: String(r['app']),
  revision: String(r['revision']),
  result: String(r['result']) as SyncRecord['result'],
  error: String(r['error']),
  planDigest: String(r['plan_digest']),
  objects: fromJsonText(r['objects_json'], []),
  steps: fromJsonText(r['steps_json'], []),
  traceId: String(r['trace_id']),
  startedMs: numberColumn(r['started_ms']),
  finishedMs: numberColumn(r['finished_ms']),
  health: String(r['health']) as SyncRecord['health'],
  retryable: boolColumn(r['retryable']),
  approvalId: String(r['approval_id']),
  receivedMs: numberColumn(r['received_ms']),
});

/** Most clusters one statement of {@link ingestInTx} names. */
const MAX_CLUSTERS_PER_STATEMENT = 500;

/** `fought` of a drift row: set by a report naming a fight, and kept once set. */
const FOUGHT: ColumnWriters<Received<DriftReport> & { fought: 0 | 1 }> = [
  ['fought', (r) => r.fought],
];

/** How a drift row is written: updated, `fought` kept once set. */
const DRIFT_UPSERT = {
  update: true,
  notUpdated: ['fought'],
  also: ['fought = CASE WHEN excluded.fought = 1 THEN 1 ELSE drifts.fought END'],
};

/**
 * The rows of stored reports, gathered per table: of one key, the last report's row (a
 * replayed sync or gap: the first). On PostgreSQL each table's rows are one statement
 * ({@link upsertJson}); on SQLite one prepared single-row statement per row
 * ({@link insertEach}). A config report writes at once, after the rows gathered before it,
 * since it may mark apps gone that an earlier report of the batch brought back.
 */
class ReportRows {
  readonly #tx: Queryable | undefined;
  readonly #dialect: Dialect;
  #apps: Received<AppReport>[] = [];
  #syncs: Received<SyncReport>[] = [];
  #drifts: (Received<DriftReport> & { fought: 0 | 1 })[] = [];
  #gaps: Received<GapReport>[] = [];

  /** `tx`: where {@link flush} and config reports write; none for {@link upserts} alone. */
  constructor(tx: Queryable | undefined, dialect: Dialect) {
    this.#tx = tx;
    this.#dialect = dialect;
  }

  async add(cluster: string, report: Report, nowMs: number): Promise<void> {
    if (report.kind !== 'config') return this.gather(cluster, report, nowMs);
    await this.flush();
    await upsertConfigState(this.#tx!, cluster, report.config, nowMs);
    return markRemovedApps(this.#tx!, cluster, report.config, nowMs);
  }

  /** Gathers the row of a report that is not a config report (those write at once: {@link add}). */
  gather(cluster: string, report: Exclude<Report, { kind: 'config' }>, nowMs: number): void {
    switch (report.kind) {
      case 'app':
        return void this.#apps.push({ cluster, nowMs, value: report.app });
      case 'sync':
        return void this.#syncs.push({ cluster, nowMs, value: report.sync });
      case 'drift':
        return void this.#drifts.push({
          cluster,
          nowMs,
          value: report.drift,
          // A fight ends before its episode closes, and the closing report carries none:
          // remember that there was one, for the drift ledger.
          fought: report.drift.fight ? 1 : 0,
        });
      case 'gap':
        return void this.#gaps.push({ cluster, nowMs, value: report.gap });
    }
  }

  /** Of several reports of one drift, the last is written; `fought` if any named a fight. */
  #driftRows() {
    const fought = new Set<string>();
    for (const d of this.#drifts) if (d.fought) fought.add(`${d.cluster}\n${d.value.driftId}`);
    return this.#drifts.map((d) =>
      fought.has(`${d.cluster}\n${d.value.driftId}`) ? { ...d, fought: 1 as const } : d,
    );
  }

  /** PostgreSQL: the rows gathered as one upsert per table that has any, and forgets them. */
  upserts(): Statement[] {
    const statements = [
      upsertJson('apps', ['cluster', 'app'], APP_COLUMNS, this.#apps, { update: true }),
      // DO NOTHING: a sync id is unique per attempt, a second copy is the same result.
      upsertJson('sync_history', ['cluster', 'sync_id'], SYNC_COLUMNS, this.#syncs, {
        update: false,
      }),
      upsertJson(
        'drifts',
        ['cluster', 'drift_id'],
        [...DRIFT_COLUMNS, ...FOUGHT],
        this.#driftRows(),
        DRIFT_UPSERT,
      ),
      upsertJson('report_gaps', ['cluster', 'first_seq'], GAP_COLUMNS, this.#gaps, {
        update: false,
      }),
    ].filter((st) => st !== undefined);
    this.#clear();
    return statements;
  }

  /** Writes the rows gathered; with `also`, statements issued together with them. */
  async flush(also: Promise<unknown>[] = []): Promise<void> {
    const tx = this.#tx!;
    // Different tables: issued together (one round trip on PostgreSQL, which pipelines).
    const statements = [...also];
    if (this.#dialect === 'postgres') {
      for (const st of this.upserts()) statements.push(tx.run(st.sql, st.params));
      return allStatements(statements);
    }
    statements.push(
      insertEach(tx, 'apps', ['cluster', 'app'], APP_COLUMNS, this.#apps, { update: true }),
    );
    statements.push(
      insertEach(tx, 'sync_history', ['cluster', 'sync_id'], SYNC_COLUMNS, this.#syncs, {
        update: false,
      }),
    );
    statements.push(
      insertEach(
        tx,
        'drifts',
        ['cluster', 'drift_id'],
        [...DRIFT_COLUMNS, ...FOUGHT],
        this.#driftRows(),
        DRIFT_UPSERT,
      ),
    );
    statements.push(
      insertEach(tx, 'report_gaps', ['cluster', 'first_seq'], GAP_COLUMNS, this.#gaps, {
        update: false,
      }),
    );
    await allStatements(statements);
    this.#clear();
  }

  #clear(): void {
    this.#apps = [];
    this.#syncs = [];
    this.#drifts = [];
    this.#gaps = [];
  }
}

/**
 * Stores `items` in one round trip when they qualify (PostgreSQL's {@link Db.batch}): no
 * config report (its writes read first), and each cluster's reports in `items` follow each
 * other (seq n, n + 1, …). The first of each cluster is taken to follow the seq stored, as it
 * does while agents send in order and one replica holds their streams; the first statement
 * bumps every cluster's seq where it is the one expected and fails when any is not, which
 * rolls the whole batch back. Undefined when the items do not qualify or the batch was rolled
 * back: the caller then reads the stored seqs first ({@link ingestInTx}). The UPDATE's row
 * locks and its recheck of the seq under them keep two replicas from storing one seq twice.
 */
async function ingestOptimistic(
  db: Db,
  items: readonly IngestItem[],
): Promise<IngestOutcome[] | undefined> {
  if (!db.batch) return undefined;
  const clusters = new Map<string, { name: string; expect: number; seq: number; seen: number }>();
  const rows = new ReportRows(undefined, db.dialect);
  for (const { cluster, seq, report, nowMs } of items) {
    if (report.kind === 'config') return undefined;
    const c = clusters.get(cluster);
    if (c === undefined)
      clusters.set(cluster, { name: cluster, expect: seq - 1, seq, seen: nowMs });
    else if (seq === c.seq + 1) {
      c.seq = seq;
      c.seen = nowMs;
    } else return undefined;
    rows.gather(cluster, report, nowMs);
  }
  const bumps = [...clusters.values()];
  try {
    await db.batch([
      { sql: BUMP_EXPECTED_SEQS, params: [JSON.stringify(bumps), bumps.length] },
      ...rows.upserts(),
    ]);
  } catch {
    // A seq not the one expected, or anything else: the careful path decides each item.
    return undefined;
  }
  return items.map(({ seq }) => ({ ok: true, result: { applied: true, lastSeq: seq } }));
}

/**
 * Sets each named cluster's seq (and last seen time) where the stored one is `expect`, and
 * fails (an integer cast of a message) unless every one was: see {@link ingestOptimistic}.
 * `name = ANY(ARRAY(…))` has the planner read the named clusters by key: it does not know how
 * many rows the JSON holds, and joined with it alone it scanned the whole table (2.5 against
 * 1.3 ms for 256 of 10,000 clusters).
 */
const BUMP_EXPECTED_SEQS = `WITH v AS (
    SELECT * FROM json_to_recordset(CAST(? AS JSON)) AS v(name TEXT, expect BIGINT, seq BIGINT, seen BIGINT)),
  bumped AS (
    UPDATE clusters SET last_agent_seq = v.seq, last_seen_ms = v.seen FROM v
    WHERE clusters.name = ANY(ARRAY(SELECT v.name FROM v))
      AND clusters.name = v.name AND clusters.last_agent_seq = v.expect RETURNING 1)
  SELECT CAST(CASE WHEN COUNT(*) = ? THEN '0'
    ELSE 'a stored report seq is not the one the batch follows' END AS INTEGER) AS checked
  FROM bumped`;

/**
 * Stores reports in order inside one transaction. A refused item (replay, out of order,
 * unknown cluster) wrote nothing, so it is an outcome and the transaction goes on; any error
 * thrown aborts it.
 *
 * In a few statements whatever the number of items: one read of the clusters' last stored seq
 * (on PostgreSQL `FOR UPDATE`, in name order: the row locks serialise two replicas ingesting
 * for the same cluster), each item decided against it in order (so seq n and n + 1 of one
 * cluster may share the batch), one update of the seqs, and the stored reports' rows per table.
 */
async function ingestInTx(
  tx: Queryable,
  dialect: Dialect,
  items: readonly IngestItem[],
): Promise<IngestOutcome[]> {
  const names = [...new Set(items.map((i) => i.cluster))].sort();
  const last = new Map<string, number>();
  for (let i = 0; i < names.length; i += MAX_CLUSTERS_PER_STATEMENT) {
    const chunk = names.slice(i, i + MAX_CLUSTERS_PER_STATEMENT);
    const rows = await tx.all<Row>(
      `SELECT name, last_agent_seq FROM clusters WHERE name IN (${chunk.map(() => '?').join(', ')})
       ${dialect === 'postgres' ? 'ORDER BY name FOR UPDATE' : ''}`,
      chunk,
    );
    for (const r of rows) last.set(String(r['name']), numberColumn(r['last_agent_seq']));
  }
  const out: IngestOutcome[] = [];
  const bumped = new Map<string, { seq: number; nowMs: number }>();
  const rows = new ReportRows(tx, dialect);
  for (const { cluster, seq, report, nowMs } of items) {
    const lastSeq = last.get(cluster);
    if (lastSeq === undefined) {
      out.push({ ok: false, error: new NotFoundError(`cluster ${cluster}: not found`) });
      continue;
    }
    if (seq === lastSeq + 1) {
      last.set(cluster, seq);
      bumped.set(cluster, { seq, nowMs });
      await rows.add(cluster, report, nowMs);
      out.push({ ok: true, result: { applied: true, lastSeq: seq } });
      continue;
    }
    out.push(
      seq > lastSeq
        ? { ok: false, error: new ReportOutOfOrderError(cluster, seq, lastSeq) }
        : { ok: true, result: { applied: false, lastSeq } },
    );
  }
  const bumps = [...bumped];
  // The seq bumps and the rows go out together (one round trip on PostgreSQL).
  const statements: Promise<unknown>[] = [];
  // SQLite runs `UPDATE … FROM (VALUES …)` through a temporary table, about 6 times slower
  // than the same rows updated one by one with a prepared statement (no round trips here).
  if (dialect === 'sqlite')
    for (const [name, b] of bumps)
      await tx.run('UPDATE clusters SET last_agent_seq = ?, last_seen_ms = ? WHERE name = ?', [
        b.seq,
        b.nowMs,
        name,
      ]);
  else
    for (let i = 0; i < bumps.length; i += MAX_CLUSTERS_PER_STATEMENT) {
      const chunk = bumps.slice(i, i + MAX_CLUSTERS_PER_STATEMENT);
      // VALUES columns are column1, column2, … in both dialects.
      statements.push(
        tx.run(
          `UPDATE clusters SET last_agent_seq = v.column2, last_seen_ms = v.column3
       FROM (VALUES ${chunk.map(() => '(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))').join(', ')}) AS v
       WHERE clusters.name = v.column1`,
          chunk.flatMap(([name, b]) => [name, b.seq, b.nowMs]),
        ),
      );
    }
  await rows.flush(statements);
  return out;
}

/** Most apps one statement of {@link appHealthReads} reads. */
const MAX_APPS_PER_READ = 500;

/**
 * `appHealth` with the reads asked for in the same I/O turn sharing one statement (the
 * notifier reads the app of each report of many clusters at once): `(cluster, app) IN
 * (VALUES …)`, one key lookup per app, one round trip to PostgreSQL for all of them. Each
 * caller gets its own row, read when the turn's statement runs.
 */
function appHealthReads(db: Db): ReportStore['appHealth'] {
  type Asked = {
    cluster: string;
    app: string;
    resolve: (r: AppHealth | undefined) => void;
    reject: (err: unknown) => void;
  };
  let queue: Asked[] = [];
  const key = (cluster: string, app: string) => `${cluster}\n${app}`;
  const read = async (asked: Asked[]) => {
    const pairs = new Map(asked.map((a) => [key(a.cluster, a.app), a]));
    let rows: Row[];
    try {
      rows = await db.all<Row>(
        `SELECT cluster, app, health, health_message, revision, gone FROM apps
         WHERE (cluster, app) IN (VALUES ${[...pairs.values()].map(() => '(CAST(? AS TEXT), CAST(? AS TEXT))').join(', ')})`,
        [...pairs.values()].flatMap((a) => [a.cluster, a.app]),
      );
    } catch (err) {
      for (const a of asked) a.reject(err);
      return;
    }
    const found = new Map<string, AppHealth>();
    for (const r of rows)
      found.set(key(String(r['cluster']), String(r['app'])), {
        health: String(r['health']) as AppRecord['health'],
        healthMessage: String(r['health_message']),
        revision: String(r['revision']),
        gone: boolColumn(r['gone']),
      });
    for (const a of asked) {
      const h = found.get(key(a.cluster, a.app));
      a.resolve(h && { ...h });
    }
  };
  const flush = () => {
    const asked = queue;
    queue = [];
    for (let i = 0; i < asked.length; i += MAX_APPS_PER_READ)
      void read(asked.slice(i, i + MAX_APPS_PER_READ));
  };
  return (cluster, app) =>
    new Promise((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ cluster, app, resolve, reject });
    });
}

/** The {@link ReportStore} over `db`. */
export function reportStore(db: Db): ReportStore {
  return {
    ingest: async (cluster, seq, report, nowMs) => {
      const items = [{ cluster, seq, report, nowMs }];
      const [outcome] =
        (await ingestOptimistic(db, items)) ??
        (await db.tx((tx) => ingestInTx(tx, db.dialect, items)));
      if (!outcome!.ok) throw outcome!.error;
      return outcome!.result;
    },
    ingestMany: async (items) =>
      items.length === 0
        ? []
        : ((await ingestOptimistic(db, items)) ??
          (await db.tx((tx) => ingestInTx(tx, db.dialect, items)))),
    listApps: async ({ cluster, app, selector = [], after, limit }) => {
      const sel = selectorSql('cluster', selector);
      const where = whereAll([
        optionalCondition('cluster = ?', cluster),
        optionalCondition('app = ?', app),
        // A row-value comparison walks the primary key (cluster, app) from the cursor on.
        after
          ? { sql: '(cluster, app) > (?, ?)', params: [after.cluster, after.app] }
          : { sql: '', params: [] },
        sel,
      ]);
      const rows = await db.all<Row>(
        `SELECT * FROM apps ${where.sql} ORDER BY cluster, app${limit === undefined ? '' : ' LIMIT ?'}`,
        limit === undefined ? where.params : [...where.params, limit],
      );
      return rows.map(toApp);
    },
    countApps: async () => {
      const rows = await db.all<Row>(
        `SELECT cluster, sync_status, health, COUNT(*) AS n FROM apps WHERE gone = ?
         GROUP BY cluster, sync_status, health ORDER BY cluster, sync_status, health`,
        [sqlBool(false)],
      );
      return rows.map((r) => ({
        cluster: String(r['cluster']),
        syncStatus: String(r['sync_status']) as AppRecord['syncStatus'],
        health: String(r['health']) as AppRecord['health'],
        apps: numberColumn(r['n']),
      }));
    },
    listDrift: async (query) => {
      const filter = await clusterFilter(db, 'drifts.cluster', query.selector ?? []);
      if (filter.none) return [];
      // Few matching clusters: unary + keeps SQLite off the open-drift index, so it reads
      // those clusters' rows by key and sorts them (see clusterFilter).
      const plain = filter.few ? '+' : '';
      const where = whereAll([
        filter.where,
        optionalCondition('cluster = ?', query.cluster),
        optionalCondition('app = ?', query.app),
        optionalCondition(
          `${plain}healed = ?`,
          query.open === undefined ? undefined : sqlBool(!query.open),
        ),
      ]);
      const rows = await db.all<Row>(
        `SELECT * FROM drifts ${where.sql} ORDER BY ${plain}detected_ms DESC, cluster, drift_id LIMIT ?`,
        [...where.params, query.limit ?? 500],
      );
      return rows.map(driftFromRow);
    },
    pruneHistory: ({ olderThanMs, keepPerApp }) =>
      db.tx(async (tx) => {
        let deleted = 0;
        if (olderThanMs > 0) {
          deleted += (await tx.run('DELETE FROM sync_history WHERE finished_ms < ?', [olderThanMs]))
            .changes;
          await tx.run('DELETE FROM drifts WHERE healed = 1 AND updated_ms < ?', [olderThanMs]);
          await tx.run('DELETE FROM report_gaps WHERE received_ms < ?', [olderThanMs]);
        }
        if (keepPerApp > 0)
          deleted += (
            await tx.run(
              `DELETE FROM sync_history WHERE (cluster, sync_id) IN (
                 SELECT cluster, sync_id FROM (
                   SELECT cluster, sync_id, ROW_NUMBER() OVER (
                     PARTITION BY cluster, app ORDER BY finished_ms DESC, sync_id DESC) AS n
                   FROM sync_history) ranked
                 WHERE n > ?)`,
              [keepPerApp],
            )
          ).changes;
        return deleted;
      }),
    appHealth: appHealthReads(db),
    driftState: async (cluster, app) => {
      // fight_json is 'null' when the record has no fight ('' only if written by hand).
      const r = await db.get<Row>(
        `SELECT COUNT(*) AS n, COUNT(CASE WHEN fight_json NOT IN ('null', '') THEN 1 END) AS f
         FROM drifts WHERE cluster = ? AND app = ? AND healed = ?`,
        [cluster, app, sqlBool(false)],
      );
      return { open: numberColumn(r?.['n']), fighting: numberColumn(r?.['f']) > 0 };
    },
    listHistory: async (query) => {
      const where = whereAll([
        selectorSql('cluster', query.selector ?? []),
        optionalCondition('cluster = ?', query.cluster),
        optionalCondition('app = ?', query.app),
        optionalCondition('sync_id = ?', query.syncId),
      ]);
      // A cluster's sync id names one row (the key): nothing to sort (a sort costs SQLite more
      // than reading the row).
      const order =
        query.cluster !== undefined && query.syncId !== undefined
          ? ''
          : 'ORDER BY finished_ms DESC, cluster, sync_id';
      const rows = await db.all<Row>(`SELECT * FROM sync_history ${where.sql} ${order} LIMIT ?`, [
        ...where.params,
        query.limit ?? 100,
      ]);
      return rows.map(toSync);
    },
  };
}
