/** How the CLI shows the hub's apps, clusters and plans in tables (shared by several verbs). */
import { clip, col, shortDigest, shortRev, timeText, type Column, type Row } from './table.ts';

/** What an app's MESSAGE column says: its message, else why it is not healthy. */
export function appMessage(a: Row): string {
  return clip(a['message'] || a['healthMessage'] || '', 80);
}

/**
 * Why a cluster's apps show only what its agent last reported: it is revoked, or its agent is
 * not connected (since when); '' while the agent reports. The hub keeps an app's last report
 * when its agent goes away, so "synced, healthy" may be hours old and nobody vouches for it.
 */
export function notReportingText(c: Row): string {
  if (c['revoked']) return `cluster ${c['name']} is revoked`;
  if (c['connected']) return '';
  const seen = c['lastSeen'] ? ` (last seen ${timeText(c['lastSeen'])})` : '';
  return `the agent of cluster ${c['name']} is not connected${seen}`;
}

/** Per cluster name, why its apps' states are only last reported ('' while its agent reports). */
export type Staleness = (cluster: string) => string;

/** The {@link Staleness} of these clusters; a cluster not among them counts as reporting. */
export const stalenessOf =
  (clusters: readonly Row[]): Staleness =>
  (name) => {
    const c = clusters.find((x) => x['name'] === name);
    return c ? notReportingText(c) : '';
  };

/** Marks a state as last reported by an agent that does not report now. */
const STALE = ' (stale)';

/**
 * The footnote under an app table with stale rows: what "(stale)" means and, per cluster,
 * why; '' when every row's agent reports.
 */
export function staleFootnote(
  apps: readonly Row[],
  stale: Staleness,
  meaning = 'what the agent last reported, not what runs now',
): string {
  const reasons = [...new Set(apps.map((a) => stale(a['cluster'] as string)).filter(Boolean))];
  if (!reasons.length) return '';
  return `\n(stale): ${meaning}: ${reasons.join('; ')}\n`;
}

/**
 * Columns of an app table; with `withCluster`, the cluster first. Sync and health of an app
 * whose agent does not report now (see `stale`) are marked "(stale)".
 */
export function appColumns(withCluster: boolean, stale: Staleness = () => ''): Column<Row>[] {
  const mark = (r: Row) => (stale(r['cluster'] as string) ? STALE : '');
  return [
    ...(withCluster ? [col('cluster', (r) => r['cluster'])] : []),
    col('app', (r) => r['app'] + (r['gone'] ? ' (gone)' : '')),
    col('revision', (r) => shortRev(r['revision'])),
    col('sync', (r) => `${r['syncStatus']}${mark(r)}`),
    col('mode', (r) => r['syncMode']),
    col('health', (r) => `${r['health']}${mark(r)}`),
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
