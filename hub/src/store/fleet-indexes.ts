/**
 * Indexes for fleet-wide reads at 10,000 clusters × 20 apps.
 *
 * - `drifts_open_detected`: the drift list (`GET /api/v1/drift`, open drift by default) is
 *   "newest first, 500 at most" with an optional label selector. Without it the store read
 *   every drift row and sorted them (SQLite: `SCAN drifts` + `USE TEMP B-TREE FOR ORDER BY`);
 *   with it both stores walk the index in the answer's order and stop at the limit, testing
 *   each row's cluster against the selector's label list on the way. Its column order is the
 *   ORDER BY's, so no sort step remains.
 *
 * Apps are paged by their primary key (cluster, app), which needs no index of its own.
 * Creating an index on existing rows needs no data change, so an upgraded hub keeps its drift.
 */
export const FLEET_INDEXES_MIGRATION = {
  version: 10,
  name: 'fleet-wide drift list: index in answer order',
  sql: `
CREATE INDEX drifts_open_detected ON drifts (healed, detected_ms DESC, cluster, drift_id);
`,
};
