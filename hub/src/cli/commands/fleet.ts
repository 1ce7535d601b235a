/** `driftless drift` and `driftless history`: fleet-wide lists. */
import { defineCommand } from '../command.ts';
import { appFlag, clusterFlag, limitFlag, query, selectorFlag } from '../flags.ts';
import { requireCluster } from '../lookup.ts';
import { clip, col, renderTable, shortDigest, shortRev, timeText, type Row } from '../table.ts';

/** The columns of a sync history table; `withTarget` adds cluster and app. */
export function historyColumns(withTarget: boolean) {
  return [
    col('finished', (r) => timeText(r['finishedAt'])),
    ...(withTarget ? [col('cluster', (r) => r['cluster']), col('app', (r) => r['app'])] : []),
    col('revision', (r) => shortRev(r['revision'])),
    col('result', (r) => r['result']),
    col('duration', (r) => `${r['durationMs']}ms`),
    col('plan', (r) => shortDigest(r['planDigest'])),
    col('trace', (r) => shortDigest(r['traceId'])),
    col('message', (r) => clip(r['error'], 80)),
  ];
}

/** Drift and history commands. */
export const fleetCommands = [
  defineCommand({
    name: 'drift',
    usage: '[-l SELECTOR] [--cluster C] [--app A] [--state open|healed|all]',
    summary: 'list drift across the fleet',
    flags: {
      selector: selectorFlag,
      cluster: clusterFlag,
      app: appFlag,
      state: { type: 'string', default: 'open', help: 'Which drift to list: open, healed or all.' },
      limit: limitFlag,
    },
    async run({ client, flags, print }) {
      await requireCluster(client, flags.cluster);
      const { items } = await client.call<{ items: Row[] }>(
        'GET',
        `/api/v1/drift${query({ selector: flags.selector, cluster: flags.cluster, app: flags.app, state: flags.state, limit: flags.limit })}`,
      );
      print(items, () =>
        renderTable(items, [
          col('cluster', (r) => r['cluster']),
          col('app', (r) => r['app']),
          col('object', (r) => r['objectRef']),
          col('type', (r) => r['type']),
          col('fields', (r) => driftFields(r)),
          col('changed by', (r) => r['changedBy']),
          col('detected', (r) => timeText(r['detectedAt'])),
          col('healed', (r) => (r['healed'] ? timeText(r['healedAt']) : 'no')),
          col('message', (r) => clip(r['message'], 60)),
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'history',
    usage: '[--cluster C] [--app A] [-l SELECTOR] [--limit N]',
    summary: 'list sync history across the fleet',
    flags: { cluster: clusterFlag, app: appFlag, selector: selectorFlag, limit: limitFlag },
    async run({ client, flags, print }) {
      await requireCluster(client, flags.cluster);
      const { items } = await client.call<{ items: Row[] }>(
        'GET',
        `/api/v1/history${query({ cluster: flags.cluster, app: flags.app, selector: flags.selector, limit: flags.limit })}`,
      );
      print(items, () => renderTable(items, historyColumns(true)));
      return 0;
    },
  }),
];

/** A drift's fields as `path: Git -> live; …`. */
export function driftFields(r: Row): string {
  return ((r['fields'] ?? []) as Row[])
    .map(
      (x) => `${x['path']}: Git ${JSON.stringify(x['desired'])}, live ${JSON.stringify(x['live'])}`,
    )
    .join('; ');
}
