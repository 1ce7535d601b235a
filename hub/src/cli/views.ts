/** How the CLI shows the hub's apps, clusters and plans in tables (shared by several verbs). */
import { clip, col, shortDigest, shortRev, timeText, type Column, type Row } from './table.ts';

/** What an app's MESSAGE column says: its message, else why it is not healthy. */
export function appMessage(a: Row): string {
  return clip(a['message'] || a['healthMessage'] || '', 80);
}

/** Columns of an app table; with `withCluster`, the cluster first. */
export function appColumns(withCluster: boolean): Column<Row>[] {
  return [
    ...(withCluster ? [col('cluster', (r) => r['cluster'])] : []),
    col('app', (r) => r['app'] + (r['gone'] ? ' (gone)' : '')),
    col('revision', (r) => shortRev(r['revision'])),
    col('sync', (r) => r['syncStatus']),
    col('mode', (r) => r['syncMode']),
    col('health', (r) => r['health']),
    col('drift', (r) => r['driftCount']),
    col('plan', (r) => shortDigest(r['planDigest'])),
    col('last sync', (r) => timeText(r['lastSync'])),
    col('message', appMessage),
  ];
}

/**
 * A cluster's driftless.yaml state in the API's words: `valid`, `unknown`, or `failed`
 * (with the config in force and, in full, the problems).
 */
export function configText(config: unknown, full = false): string {
  const c = (config ?? {}) as { state?: string; appliedRevision?: string; error?: string };
  if (c.state !== 'failed') return c.state ?? 'unknown';
  const running = c.appliedRevision ? `running ${shortRev(c.appliedRevision)}` : 'no app synced';
  return full ? `failed (${running}): ${c.error ?? ''}` : `failed (${running})`;
}

/** Counts of a plan's actions: `1 to create, 2 to update, 0 to delete (3 unchanged)`. */
export function planSummary(plan: unknown): string {
  const entries = (Array.isArray(plan) ? plan : []) as Row[];
  const count = (action: string) => entries.filter((e) => e['action'] === action).length;
  const unchanged = count('unchanged');
  return `${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete${unchanged ? ` (${unchanged} unchanged)` : ''}`;
}
