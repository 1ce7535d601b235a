/**
 * A fleet written straight into a migrated hub store, without agents: clusters with labels,
 * their apps and drift records, in transactions of 250 clusters. For the fleet-size read
 * benchmarks (hub-drift-query, hub-first-paint).
 */
import type { Db } from '../../../hub/src/store/db.ts';

/** Options of {@link seedFleet}. */
export interface FleetSeedOptions {
  clusters: number;
  /** Apps per cluster. */
  apps: number;
  /** Drift records per cluster, every other one healed. */
  drifts: number;
}

/** The name of cluster `i`: `fleet-00042`. */
export const fleetClusterName = (i: number): string => `fleet-${String(i).padStart(5, '0')}`;

/** The labels of cluster `i`: a quarter `env=prod` (all in `region=us`), half `region=eu`. */
export const fleetLabels = (i: number): Record<string, string> => ({
  env: i % 4 === 0 ? 'prod' : 'dev',
  region: i % 2 ? 'eu' : 'us',
});

const appName = (a: number) => `app-${String(a).padStart(2, '0')}`;

/** Writes the fleet into `db` (migrated, without those clusters). */
export async function seedFleet(db: Db, o: FleetSeedOptions): Promise<void> {
  const now = Date.now();
  for (let b = 0; b < o.clusters; b += 250)
    await db.tx(async (tx) => {
      for (let i = b; i < Math.min(o.clusters, b + 250); i++) {
        const name = fleetClusterName(i);
        const labels = fleetLabels(i);
        await tx.run(
          'INSERT INTO clusters (name, labels_json, enrolled_ms, last_seen_ms) VALUES (?, ?, ?, ?)',
          [name, JSON.stringify(labels), now, now],
        );
        for (const [key, value] of Object.entries(labels))
          await tx.run('INSERT INTO cluster_labels (cluster, key, value) VALUES (?, ?, ?)', [
            name,
            key,
            value,
          ]);
        // One statement for the cluster's apps (PostgreSQL at load: 20× fewer round trips).
        await tx.run(
          `INSERT INTO apps (cluster, app, revision, sync_status, health, updated_ms) VALUES ${Array.from({ length: o.apps }, () => "(?, ?, ?, 'synced', 'healthy', ?)").join(', ')}`,
          Array.from({ length: o.apps }, (_, a) => [name, appName(a), 'a'.repeat(40), now]).flat(),
        );
        for (let d = 0; d < o.drifts; d++)
          await tx.run(
            `INSERT INTO drifts (cluster, drift_id, app, object_json, object_ref, drift_type, fields_json,
               changed_by, detected_ms, healed, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [
              name,
              `d${d}`,
              appName(d % o.apps),
              JSON.stringify({
                group: 'apps',
                version: 'v1',
                kind: 'Deployment',
                namespace: 'ns',
                name: `w${d}`,
              }),
              `apps/v1 Deployment ns/w${d}`,
              'modified',
              JSON.stringify([{ path: 'spec.replicas', desiredJson: '3', liveJson: '5' }]),
              'kubectl-edit',
              // Spread over time, so "newest first" is a real order, not insertion order.
              1_700_000_000_000 + ((i * 7919 + d * 104729) % (o.clusters * o.drifts)) * 1000,
              d % 2,
              now,
            ],
          );
      }
    });
  if (db.dialect === 'postgres') await db.exec('ANALYZE');
}
