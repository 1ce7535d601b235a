import type { Db } from './db.ts';
import { numberColumn, type Condition, type Row } from './rows.ts';
import { selectorSql } from './selector.ts';
import type { SelectorTerm } from './types.ts';

/**
 * How a fleet-wide list ("newest first, N at most", walked in an index's order) filters on a
 * label selector, chosen per query from how many clusters can match.
 *
 * - SQLite, many clusters match: one `EXISTS` probe of `cluster_labels`' primary key per row
 *   walked. The list form (`cluster IN (SELECT …)`) would first build the list of every
 *   matching cluster, which costs more than the ~500–2,000 probes of the walk (2 terms over
 *   10,000 clusters: 5.5 vs 1.9 ms).
 * - SQLite, few clusters match (at most {@link SELECTOR_PLAN_DEFAULTS.fewClusters}): the list
 *   form, and `few` tells the caller to read those clusters' rows by their key and sort them
 *   rather than walk the whole index past rows of other clusters (10 of 10,000 clusters:
 *   0.1 instead of 3.5–10 ms).
 * - PostgreSQL: the matching clusters are read first (as the text of one array) and passed
 *   back as one array constant; the planner then hashes it and walks the index (or, for a
 *   few clusters, reads them by key).
 *   With the subquery instead it chose a nested loop probing `cluster_labels` per row, or
 *   misjudged two terms and sorted every matching row (30–120 ms vs 2–4 ms at 10,000
 *   clusters).
 *
 * Both answers are the selector's: the rows of exactly the clusters whose labels match.
 */
export interface ClusterFilter {
  /** The condition on the cluster column; empty SQL when there is no selector. */
  where: Condition;
  /** No cluster can match: the answer is empty without reading rows. */
  none: boolean;
  /** SQLite: few clusters match; read them by key and sort instead of walking an index. */
  few: boolean;
}

/** Defaults of {@link clusterFilter}. */
export const SELECTOR_PLAN_DEFAULTS = {
  /** At most this many matching clusters count as few (see {@link ClusterFilter.few}). */
  fewClusters: 500,
} as const;

/** Options of {@link clusterFilter}. */
export interface SelectorPlanOptions {
  fewClusters?: number;
}

const resolve = (o: SelectorPlanOptions) => ({ ...SELECTOR_PLAN_DEFAULTS, ...o });

/** `column` (a cluster name, qualified when the query joins) in one `EXISTS` probe per term. */
export function selectorProbeSql(column: string, terms: readonly SelectorTerm[]): Condition {
  const parts: string[] = [];
  const params: string[] = [];
  for (const t of terms) {
    const byValue = t.op === '=' || t.op === '!=';
    parts.push(
      `${t.op === '=' || t.op === 'exists' ? '' : 'NOT '}EXISTS (SELECT 1 FROM cluster_labels WHERE cluster_labels.cluster = ${column} AND cluster_labels.key = ?${byValue ? ' AND cluster_labels.value = ?' : ''})`,
    );
    params.push(t.key, ...(byValue ? [t.value] : []));
  }
  return { sql: parts.join(' AND '), params };
}

/**
 * At most how many clusters match: the fewest carrying one of the terms that require a label
 * (`key=value`, `key`); undefined when no term requires one (only `!=` and `!key`).
 */
async function matchBound(db: Db, terms: readonly SelectorTerm[]): Promise<number | undefined> {
  let bound: number | undefined;
  for (const t of terms) {
    if (t.op !== '=' && t.op !== 'exists') continue;
    // Counted in the (key, value) index alone.
    const row = await db.get<Row>(
      t.op === '='
        ? 'SELECT count(*) AS n FROM cluster_labels WHERE key = ? AND value = ?'
        : 'SELECT count(*) AS n FROM cluster_labels WHERE key = ?',
      t.op === '=' ? [t.key, t.value] : [t.key],
    );
    const n = numberColumn(row?.['n']);
    bound = bound === undefined ? n : Math.min(bound, n);
  }
  return bound;
}

/**
 * The selector's filter on `column` for a list walked in index order (see
 * {@link ClusterFilter}). `column` names the cluster column qualified by its table
 * (`drifts.cluster`), since the probes are correlated subqueries.
 */
export async function clusterFilter(
  db: Db,
  column: string,
  terms: readonly SelectorTerm[],
  options: SelectorPlanOptions = {},
): Promise<ClusterFilter> {
  const { fewClusters } = resolve(options);
  if (terms.length === 0) return { where: { sql: '', params: [] }, none: false, few: false };
  if (db.dialect === 'postgres') {
    // The server writes the array's text itself: one row back, not one per cluster.
    const sel = selectorSql('name', terms);
    const row = await db.get<Row>(
      `SELECT array_agg(name)::text AS names FROM clusters WHERE ${sel.sql}`,
      sel.params,
    );
    const names = row?.['names'];
    if (typeof names !== 'string')
      return { where: { sql: '', params: [] }, none: true, few: false };
    return {
      where: { sql: `${column} = ANY(?::text[])`, params: [names] },
      none: false,
      few: false,
    };
  }
  const bound = await matchBound(db, terms);
  if (bound === 0) return { where: { sql: '', params: [] }, none: true, few: false };
  if (bound !== undefined && bound <= fewClusters)
    return { where: selectorSql(column, terms), none: false, few: true };
  return { where: selectorProbeSql(column, terms), none: false, few: false };
}
