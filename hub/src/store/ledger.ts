import type { Db, Dialect, SqlValue } from './db.ts';
import {
  fromJsonText,
  numberColumn,
  optionalCondition,
  whereAll,
  type Condition,
  type Row,
} from './rows.ts';
import { selectorSql } from './selector.ts';
import type { SelectorTerm } from './types.ts';

/**
 * The drift ledger's queries: counts over the drift records of a time window, aggregated in SQL
 * (the same text on SQLite and PostgreSQL, but for the JSON expansion of the fields), and the
 * episodes themselves, bounded or paged, for percentiles and the CSV export. The numbers are
 * put together in `hub/src/ledger/`.
 */

/** Which drift records the ledger looks at: detected in [fromMs, toMs), and the filters. */
export interface LedgerQuery {
  fromMs: number;
  toMs: number;
  /** Only clusters whose labels match. */
  selector?: SelectorTerm[];
  cluster?: string;
  app?: string;
  /** The field manager that changed the objects ('' for "unknown"). */
  manager?: string;
}

/** Episode counts by how they stand (see {@link LedgerCounts}). */
export interface EpisodeCounts {
  episodes: number;
  /** Closed by the agent's heal. */
  healed: number;
  /** Closed another way (sync, reverted, left Git, deleted by Kubernetes). */
  closed: number;
  /** Still open, not in a fight. */
  open: number;
  /** Some report of the episode named a fight with another controller. */
  fights: number;
}

/** Counts per UTC day (`day` is days since the epoch). */
export interface DayCounts extends EpisodeCounts {
  day: number;
}

/** Counts per field manager. */
export interface ManagerCounts extends EpisodeCounts {
  manager: string;
  /** Distinct objects it changed. */
  objects: number;
}

/** How often a field (of a kind) drifted. */
export interface FieldCounts {
  kind: string;
  path: string;
  episodes: number;
  fights: number;
  /** Distinct managers that changed it. */
  managers: number;
}

/** An object that drifted `episodes` times in the window. */
export interface ObjectCounts extends EpisodeCounts {
  cluster: string;
  app: string;
  objectRef: string;
  /** Distinct managers that changed it. */
  managers: number;
  lastDetectedMs: number;
}

/** What {@link LedgerStore.ledgerCounts} answers. */
export interface LedgerCounts {
  total: EpisodeCounts;
  /** Closed episodes by `closedBy` (heal, sync, reverted, left-git, deleted-by-kubernetes, ''). */
  byClosedBy: Record<string, number>;
  days: DayCounts[];
  managers: ManagerCounts[];
  fields: FieldCounts[];
  objects: ObjectCounts[];
}

/** One drift episode, as the ledger needs it. */
export interface LedgerEpisode {
  cluster: string;
  driftId: string;
  app: string;
  objectRef: string;
  kind: string;
  type: string;
  changedBy: string;
  /** Field paths that drifted. */
  paths: string[];
  detectedMs: number;
  /** When the change happened; 0 when unknown. */
  changedMs: number;
  changedSource: string;
  healed: boolean;
  /** When it closed; 0 while open. */
  healedMs: number;
  closedBy: string;
  /** Some report of the episode named a fight with another controller. */
  fought: boolean;
}

/** Where {@link LedgerStore.listLedgerEpisodes} goes on from: the last episode of a page. */
export interface EpisodeCursor {
  detectedMs: number;
  cluster: string;
  driftId: string;
}

/** The drift ledger's reads. */
export interface LedgerStore {
  /** Counts for the window; `top` bounds the managers, fields and objects lists. */
  ledgerCounts(q: LedgerQuery, top: number): Promise<LedgerCounts>;
  /**
   * Episodes of the window, oldest first, `limit` at most, after `after` (keyset paging);
   * `newestFirst` turns the order round (for a bounded sample of the newest).
   */
  listLedgerEpisodes(
    q: LedgerQuery,
    page: { limit: number; after?: EpisodeCursor; newestFirst?: boolean },
  ): Promise<LedgerEpisode[]>;
}

// A fight is sticky (`fought`), and a record from before `fought` existed still has fight_json.
const FIGHT = "(d.fought = 1 OR d.fight_json <> 'null')";
const COUNTS = `COUNT(*) AS episodes,
  SUM(CASE WHEN ${FIGHT} THEN 1 ELSE 0 END) AS fights,
  SUM(CASE WHEN NOT ${FIGHT} AND d.healed = 1 AND d.closed_by = 'heal' THEN 1 ELSE 0 END) AS healed,
  SUM(CASE WHEN NOT ${FIGHT} AND d.healed = 1 AND d.closed_by <> 'heal' THEN 1 ELSE 0 END) AS closed,
  SUM(CASE WHEN NOT ${FIGHT} AND d.healed = 0 THEN 1 ELSE 0 END) AS open`;

/** The JSON expansion of a drift's fields and its object kind, per dialect. */
const FIELDS_SQL: Record<Dialect, { from: string; path: string; kind: string }> = {
  sqlite: {
    from: 'drifts d, json_each(d.fields_json) f',
    path: "json_extract(f.value, '$.path')",
    kind: "json_extract(d.object_json, '$.kind')",
  },
  postgres: {
    from: 'drifts d CROSS JOIN LATERAL json_array_elements(d.fields_json::json) AS f(value)',
    path: "f.value ->> 'path'",
    kind: "d.object_json::json ->> 'kind'",
  },
};

const KIND_SQL: Record<Dialect, string> = {
  sqlite: "json_extract(d.object_json, '$.kind')",
  postgres: "d.object_json::json ->> 'kind'",
};

function whereOf(q: LedgerQuery, extra: Condition[] = []): Condition {
  const sel = selectorSql('d.cluster', q.selector ?? []);
  return whereAll([
    { sql: 'd.detected_ms >= ? AND d.detected_ms < ?', params: [q.fromMs, q.toMs] },
    sel,
    optionalCondition('d.cluster = ?', q.cluster),
    optionalCondition('d.app = ?', q.app),
    optionalCondition('d.changed_by = ?', q.manager),
    ...extra,
  ]);
}

/** A text column that may be NULL (a JSON field that is missing). */
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

const episodeCounts = (r: Row): EpisodeCounts => ({
  episodes: numberColumn(r['episodes']),
  healed: numberColumn(r['healed']),
  closed: numberColumn(r['closed']),
  open: numberColumn(r['open']),
  fights: numberColumn(r['fights']),
});

const toEpisode = (r: Row): LedgerEpisode => ({
  cluster: String(r['cluster']),
  driftId: String(r['drift_id']),
  app: String(r['app']),
  objectRef: String(r['object_ref']),
  kind: text(r['kind']),
  type: String(r['drift_type']),
  changedBy: String(r['changed_by']),
  paths: fromJsonText<{ path?: unknown }[]>(r['fields_json'], []).map((f) => String(f.path)),
  detectedMs: numberColumn(r['detected_ms']),
  changedMs: numberColumn(r['changed_ms']),
  changedSource: text(r['changed_source']),
  healed: numberColumn(r['healed']) === 1,
  healedMs: numberColumn(r['healed_ms']),
  closedBy: String(r['closed_by']),
  fought: numberColumn(r['fought']) === 1 || String(r['fight_json']) !== 'null',
});

/** The {@link LedgerStore} over `db`. */
export function ledgerStore(db: Db): LedgerStore {
  return {
    ledgerCounts: async (q, top) => {
      const where = whereOf(q);
      const all = <T>(sql: string, params: SqlValue[] = []) =>
        db.all<Row>(sql, [...where.params, ...params]).then((rows) => rows as T[]);
      const [total] = await all<Row>(`SELECT ${COUNTS} FROM drifts d ${where.sql}`);
      const closedBy = await all<Row>(
        `SELECT d.closed_by AS closed_by, COUNT(*) AS n FROM drifts d ${where.sql} AND d.healed = 1
         GROUP BY d.closed_by ORDER BY d.closed_by`,
      );
      const days = await all<Row>(
        `SELECT d.detected_ms / 86400000 AS day, ${COUNTS} FROM drifts d ${where.sql}
         GROUP BY d.detected_ms / 86400000 ORDER BY day`,
      );
      const managers = await all<Row>(
        `SELECT d.changed_by AS manager, ${COUNTS},
           COUNT(DISTINCT d.cluster || ' ' || d.object_ref) AS objects
         FROM drifts d ${where.sql}
         GROUP BY d.changed_by ORDER BY episodes DESC, manager LIMIT ?`,
        [top],
      );
      const f = FIELDS_SQL[db.dialect];
      const fields = await all<Row>(
        `SELECT ${f.kind} AS kind, ${f.path} AS path, COUNT(*) AS episodes,
           SUM(CASE WHEN ${FIGHT} THEN 1 ELSE 0 END) AS fights,
           COUNT(DISTINCT d.changed_by) AS managers
         FROM ${f.from} ${where.sql}
         GROUP BY ${f.kind}, ${f.path} ORDER BY episodes DESC, kind, path LIMIT ?`,
        [top],
      );
      const objects = await all<Row>(
        `SELECT d.cluster AS cluster, d.app AS app, d.object_ref AS object_ref, ${COUNTS},
           COUNT(DISTINCT d.changed_by) AS managers, MAX(d.detected_ms) AS last_detected_ms
         FROM drifts d ${where.sql}
         GROUP BY d.cluster, d.app, d.object_ref HAVING COUNT(*) >= 2
         ORDER BY episodes DESC, cluster, app, object_ref LIMIT ?`,
        [top],
      );
      return {
        total: episodeCounts(total ?? {}),
        byClosedBy: Object.fromEntries(
          closedBy.map((r) => [String(r['closed_by']), numberColumn(r['n'])]),
        ),
        days: days.map((r) => ({ day: numberColumn(r['day']), ...episodeCounts(r) })),
        managers: managers.map((r) => ({
          manager: String(r['manager']),
          objects: numberColumn(r['objects']),
          ...episodeCounts(r),
        })),
        fields: fields.map((r) => ({
          kind: text(r['kind']),
          path: text(r['path']),
          episodes: numberColumn(r['episodes']),
          fights: numberColumn(r['fights']),
          managers: numberColumn(r['managers']),
        })),
        objects: objects.map((r) => ({
          cluster: String(r['cluster']),
          app: String(r['app']),
          objectRef: String(r['object_ref']),
          managers: numberColumn(r['managers']),
          lastDetectedMs: numberColumn(r['last_detected_ms']),
          ...episodeCounts(r),
        })),
      };
    },
    listLedgerEpisodes: async (q, { limit, after, newestFirst }) => {
      const cmp = newestFirst ? '<' : '>';
      const where = whereOf(
        q,
        after
          ? [
              {
                sql: `(d.detected_ms ${cmp} ? OR (d.detected_ms = ? AND (d.cluster ${cmp} ? OR (d.cluster = ? AND d.drift_id ${cmp} ?))))`,
                params: [
                  after.detectedMs,
                  after.detectedMs,
                  after.cluster,
                  after.cluster,
                  after.driftId,
                ],
              },
            ]
          : [],
      );
      const dir = newestFirst ? 'DESC' : 'ASC';
      const rows = await db.all<Row>(
        `SELECT d.cluster, d.drift_id, d.app, d.object_ref, ${KIND_SQL[db.dialect]} AS kind,
           d.drift_type, d.changed_by, d.fields_json, d.detected_ms, d.changed_ms,
           d.changed_source, d.healed, d.healed_ms, d.closed_by, d.fight_json, d.fought
         FROM drifts d ${where.sql}
         ORDER BY d.detected_ms ${dir}, d.cluster ${dir}, d.drift_id ${dir} LIMIT ?`,
        [...where.params, limit],
      );
      return rows.map(toEpisode);
    },
  };
}

/**
 * Migration 9: when each drift's change happened and where that time comes from (for time to
 * detect), a sticky flag for episodes that were ever a fight, and an index for the ledger's
 * per-cluster and per-app windows.
 */
export const LEDGER_MIGRATION = {
  version: 9,
  name: 'drift change times and fights, for the drift ledger',
  sql: `
ALTER TABLE drifts ADD COLUMN changed_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE drifts ADD COLUMN changed_source TEXT NOT NULL DEFAULT '';
ALTER TABLE drifts ADD COLUMN fought INTEGER NOT NULL DEFAULT 0;
UPDATE drifts SET fought = 1 WHERE fight_json <> 'null';
CREATE INDEX drifts_cluster_app_detected ON drifts (cluster, app, detected_ms);
`,
};
