/** `driftless app …`: list, get, diff (the pending plan), history. */
import { defineCommand, oneArg, parseAppRef } from '../command.ts';
import { clusterFlag, limitFlag, query, selectorFlag } from '../flags.ts';
import { appOf, getCluster, listApps, listClusters, pendingPlanOf } from '../lookup.ts';
import { planText } from '../plan-text.ts';
import { fetchAppTree, renderTree } from '../tree.ts';
import {
  col,
  fieldsText,
  renderTable,
  shortDigest,
  shortRev,
  timeText,
  type Row,
} from '../table.ts';
import {
  appColumns,
  appMessage,
  notReportingText,
  planSummary,
  staleFootnote,
  stalenessOf,
} from '../views.ts';
import { driftFields, historyColumns } from './fleet.ts';

/** The app named by the one CLUSTER/APP argument, from the hub (exit 1 when unknown). */
async function appArg(
  command: string,
  ctx: { args: string[]; client: Parameters<typeof getCluster>[0] },
) {
  const { cluster, app } = parseAppRef(command, oneArg(command, ctx.args, 'CLUSTER/APP'));
  const c = await getCluster(ctx.client, cluster);
  return { cluster, app, a: appOf(c, app), stale: notReportingText(c) };
}

/** App commands. */
export const appCommands = [
  defineCommand({
    name: 'app list',
    usage: '[--cluster C] [-l SELECTOR]',
    summary: 'list apps across the fleet',
    flags: { cluster: clusterFlag, selector: selectorFlag },
    async run({ client, flags, print }) {
      const items = await listApps(client, { cluster: flags.cluster, selector: flags.selector });
      const clusters = flags.cluster
        ? [await getCluster(client, flags.cluster)]
        : await listClusters(client, flags.selector);
      const stale = stalenessOf(clusters);
      print(items, () => renderTable(items, appColumns(true, stale)) + staleFootnote(items, stale));
      return 0;
    },
  }),
  defineCommand({
    name: 'app get',
    usage: 'CLUSTER/APP [--tree]',
    summary: 'show an app: status, message, revision, mode, pending plan, open drift',
    description: `JSON and YAML carry the app as GET /api/v1/apps lists it, plus "drift" (its open
drift records) and "pendingPlanSummary".

With --tree: the app's live objects instead, read by the cluster's agent (docs/cli.md).

Example:
  driftless app get prod/podinfo
  driftless app get prod/podinfo --tree`,
    flags: {
      tree: {
        type: 'boolean',
        default: false,
        help: "Print the app's live object tree (managed objects, their children, health, Events).",
      },
    },
    async run(ctx) {
      if (ctx.flags.tree) {
        const { cluster, app } = parseAppRef('app get', oneArg('app get', ctx.args, 'CLUSTER/APP'));
        const tree = await fetchAppTree(ctx.client, cluster, app);
        ctx.print(tree, () => renderTree(tree));
        return 0;
      }
      const { cluster, app, a, stale } = await appArg('app get', ctx);
      const mark = stale ? ' (stale: last reported, not what runs now)' : '';
      const { items: drift } = await ctx.client.call<{ items: Row[] }>(
        'GET',
        `/api/v1/drift${query({ cluster, app, state: 'open' })}`,
      );
      const pending = pendingPlanOf(a);
      const summary = (a['pendingPlan'] as unknown[]).length ? planSummary(a['pendingPlan']) : '';
      ctx.print({ ...a, pendingPlanSummary: summary, drift }, () =>
        [
          fieldsText([
            [
              'App',
              `${a['cluster']}/${a['app']}${a['gone'] ? ' (gone: no longer in driftless.yaml)' : ''}`,
            ],
            ['Sync', `${a['syncStatus']}${mark}`],
            ['Health', `${a['health']}${mark}`],
            ['Agent', stale || 'reporting'],
            ['Mode', a['syncMode']],
            ['Revision', shortRev(a['revision'])],
            ['Message', appMessage(a)],
            ['Last sync', timeText(a['lastSync'])],
            ['Plan', a['planDigest'] ? shortDigest(a['planDigest']) : ''],
            [
              'Pending plan',
              summary
                ? `${summary}${pending ? ` — waits for approval: driftless approve ${a['cluster']}/${a['app']}` : ''} (driftless app diff ${a['cluster']}/${a['app']})`
                : 'none',
            ],
            ['Open drift', drift.length],
          ]),
          ...(drift.length
            ? [
                '',
                renderTable(drift, [
                  col('object', (r) => r['objectRef']),
                  col('type', (r) => r['type']),
                  col('fields', driftFields),
                  col('changed by', (r) => r['changedBy']),
                  col('detected', (r) => timeText(r['detectedAt'])),
                ]),
              ]
            : []),
        ].join('\n'),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'app diff',
    usage: 'CLUSTER/APP',
    summary: 'show the pending plan field by field: Git against the live cluster',
    description: `Each object to update is a unified diff of its changed fields: "-" lines are the
live value, "+" lines what Git declares (YAML). An object to create is shown as its manifest,
one to delete (prune) by name. Only manual and dry-run apps keep a pending plan; an auto app
applies at once, so it has none. Exit code 0 whether or not there is a difference.

JSON and YAML carry {cluster, app, revision, planDigest, plan} with every field's before and
after JSON.

Example:
  driftless app diff prod/podinfo`,
    flags: {},
    async run(ctx) {
      const { cluster, app, a } = await appArg('app diff', ctx);
      const plan = (a['pendingPlan'] ?? []) as Row[];
      const value = {
        cluster,
        app,
        revision: a['revision'] as string,
        planDigest: a['planDigest'] as string,
        plan,
      };
      ctx.print(value, () => {
        if (plan.length === 0)
          return `${a['cluster']}/${a['app']}: no pending plan (${a['syncStatus']} at ${shortRev(a['revision'])}, mode ${a['syncMode']}).\n`;
        return `${a['cluster']}/${a['app']} at ${shortRev(a['revision'])}, plan ${shortDigest(a['planDigest'])}: ${planSummary(plan)}\n\n${planText(plan)}`;
      });
      return 0;
    },
  }),
  defineCommand({
    name: 'app history',
    usage: 'CLUSTER/APP [--limit N]',
    summary: "list an app's syncs, newest first",
    flags: { limit: limitFlag },
    async run(ctx) {
      const { cluster, app } = await appArg('app history', ctx);
      const { items } = await ctx.client.call<{ items: Row[] }>(
        'GET',
        `/api/v1/history${query({ cluster, app, limit: ctx.flags.limit })}`,
      );
      ctx.print(items, () => renderTable(items, historyColumns(false)));
      return 0;
    },
  }),
];
