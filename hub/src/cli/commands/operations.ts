/** `driftless sync` and `driftless refresh`: for an app, a cluster, or every cluster of `-l`. */
import { CliError, defineCommand, UsageError } from '../command.ts';
import { selectorFlag } from '../flags.ts';
import type { HubClient } from '../client.ts';
import { getApp, getCluster } from '../lookup.ts';
import { col, renderTable, type Row } from '../table.ts';

type Operation = 'sync' | 'refresh';

/** Sends `op` to what the arguments name; resolves to the hub's answer, one row per cluster. */
async function operate(
  op: Operation,
  client: HubClient,
  args: string[],
  selector: string,
): Promise<Row[]> {
  if (args.length > 1) throw new UsageError(`${op}: unexpected argument "${args[1]}"`);
  const [target] = args;
  if (target && selector)
    throw new UsageError(`${op}: give either CLUSTER[/APP] or -l SELECTOR, not both`);
  if (!target && !selector)
    throw new UsageError(`${op}: give CLUSTER, CLUSTER/APP or -l SELECTOR (e.g. -l env=staging)`);
  if (selector) {
    const { items } = await client.call<{ items: Row[] }>('POST', `/api/v1/${op}`, { selector });
    return items;
  }
  const [cluster, app, extra] = target!.split('/');
  if (!cluster || extra !== undefined || app === '')
    throw new UsageError(`${op}: "${target}" is not CLUSTER or CLUSTER/APP`);
  // Named first, so an unknown cluster or app gets the same message as everywhere.
  if (app) await getApp(client, cluster, app);
  else await getCluster(client, cluster);
  const path = app
    ? `/api/v1/clusters/${encodeURIComponent(cluster)}/apps/${encodeURIComponent(app)}/${op}`
    : `/api/v1/clusters/${encodeURIComponent(cluster)}/${op}`;
  const sent = await client.call<Row>('POST', path, {});
  return [{ cluster, app: app ?? '', sent: sent['sent'] as boolean, reason: '' }];
}

const DESCRIPTIONS: Record<Operation, string> = {
  sync: `Asks the agent to sync now instead of at its next poll (the hub sends a hint down the
agent's own stream; it never touches the cluster). A manual app still waits for an approval.
Audited. Needs the operator role. With -l, every matching cluster that is connected gets it;
the answer lists the others with why (not connected, revoked), and the exit code is 1 if any
was not sent.`,
  refresh: `Asks the agent to re-read Git now (a new commit, without waiting for the next poll
or a webhook). The agent reads one repository for all its apps, so refreshing an app refreshes
its cluster's other apps too. Audited. Needs the operator role. With -l, as for sync.`,
};

const operationCommand = (op: Operation) =>
  defineCommand({
    name: op,
    usage: 'CLUSTER | CLUSTER/APP | -l SELECTOR',
    summary:
      op === 'sync'
        ? 'sync an app, a cluster, or every cluster matching -l, now'
        : 'make an app, a cluster, or every cluster matching -l re-read Git now',
    description: `${DESCRIPTIONS[op]}

Examples:
  driftless ${op} prod/podinfo
  driftless ${op} dev
  driftless ${op} -l env=staging`,
    flags: { selector: selectorFlag },
    async run({ client, args, flags, print }) {
      const items = await operate(op, client, args, flags.selector);
      print(items, () =>
        renderTable(items, [
          col('cluster', (r) => r['cluster']),
          col('app', (r) => r['app'] || '(all)'),
          col('sent', (r) => (r['sent'] ? 'yes' : 'no')),
          col('message', (r) => r['reason']),
        ]),
      );
      const missed = items.filter((r) => !r['sent']);
      if (missed.length > 0)
        throw new CliError(
          `${op}: not sent to ${missed.map((r) => `${r['cluster']} (${r['reason']})`).join(', ')}`,
        );
      return 0;
    },
  });

/** Sync and refresh. */
export const operationCommands = [operationCommand('sync'), operationCommand('refresh')];
