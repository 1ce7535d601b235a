/** `driftless cluster …`: list, show, revoke, allow enrollment again. */
import { defineCommand, oneArg } from '../command.ts';
import { selectorFlag } from '../flags.ts';
import { getCluster, listClusters } from '../lookup.ts';
import { col, fieldsText, labelsText, renderTable, timeText, type Row } from '../table.ts';
import { appColumns, configText, staleFootnote, stalenessOf } from '../views.ts';

const connectedText = (c: Row) =>
  c['revoked'] ? `revoked at ${timeText(c['revokedAt'])}` : c['connected'] ? 'yes' : 'no';

/** Cluster commands. */
export const clusterCommands = [
  defineCommand({
    name: 'cluster list',
    usage: '[-l SELECTOR]',
    summary: 'list clusters',
    flags: { selector: selectorFlag },
    async run({ client, flags, print }) {
      const items = await listClusters(client, flags.selector);
      print(items, () =>
        renderTable(items, [
          col('name', (r) => r['name']),
          col('connected', (r) => (r['revoked'] ? 'revoked' : r['connected'] ? 'yes' : 'no')),
          col('agent', (r) => r['agentVersion']),
          col('config', (r) => configText(r['config'])),
          col('last seen', (r) => timeText(r['lastSeen'])),
          col('labels', (r) => labelsText(r['labels'])),
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'cluster get',
    usage: 'NAME',
    summary: 'show a cluster: connection, repository and branch, config, apps',
    flags: {},
    async run({ client, args, print }) {
      const c = await getCluster(client, oneArg('cluster get', args, 'the cluster NAME'));
      const stale = stalenessOf([c]);
      print(c, () =>
        [
          fieldsText([
            ['Name', c['name']],
            ['Connected', connectedText(c)],
            ['Agent', c['agentVersion']],
            ['Repository', c['repoUrl']],
            ['Branch', c['branch']],
            ['Last seen', timeText(c['lastSeen'])],
            ['Enrolled', timeText(c['enrolledAt'])],
            ['Labels', labelsText(c['labels'])],
            ['Config', configText(c['config'], true)],
          ]),
          renderTable(c['apps'] as Row[], appColumns(false, stale)) +
            staleFootnote(c['apps'] as Row[], stale),
        ].join('\n'),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'cluster revoke',
    usage: 'NAME',
    summary: 'revoke a cluster: closes its stream, refuses it from then on (admin)',
    flags: {},
    async run({ client, args, print }) {
      const name = oneArg('cluster revoke', args, 'the cluster NAME');
      const c = await client.call<Row>(
        'POST',
        `/api/v1/clusters/${encodeURIComponent(name)}/revoke`,
      );
      print(
        c,
        () =>
          `Cluster ${c['name']} revoked: its stream is closed and its certificates are refused.\n`,
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'cluster allow-enroll',
    usage: 'NAME',
    summary: 'let a revoked cluster enroll again, with a new token (admin)',
    flags: {},
    async run({ client, args, print }) {
      const name = oneArg('cluster allow-enroll', args, 'the cluster NAME');
      const c = await client.call<Row>(
        'POST',
        `/api/v1/clusters/${encodeURIComponent(name)}/allow-enrollment`,
      );
      print(
        c,
        () =>
          `Cluster ${c['name']} may enroll again: create a token with driftless token create --cluster ${c['name']}.\n`,
      );
      return 0;
    },
  }),
];
