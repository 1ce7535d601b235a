/** `driftless token …` (enrollment tokens) and `driftless api-token …` (API tokens). */
import { defineCommand, oneArg } from '../command.ts';
import { clusterFlag, durationText } from '../flags.ts';
import { col, labelsText, renderTable, timeText, type Row } from '../table.ts';
import { UsageError } from '../command.ts';

const need = (value: string, flag: string, command: string) => {
  if (!value) throw new UsageError(`${command}: ${flag} is required`);
  return value;
};

/** Enrollment and API token commands. */
export const tokenCommands = [
  defineCommand({
    name: 'token create',
    usage: '--cluster NAME [--labels k=v,...] [--ttl 1h] [--uses 1]',
    summary: 'create an enrollment token (printed once)',
    flags: {
      cluster: { ...clusterFlag, help: 'The cluster the token enrolls (its name is bound to it).' },
      labels: { type: 'string', default: '', help: 'Cluster labels, as k=v,k2=v2.' },
      ttl: {
        type: 'string',
        default: '1h',
        help: 'How long the token is valid, e.g. 30m, 1h, 24h.',
      },
      uses: { type: 'number', default: 1, help: 'How many enrollments the token allows.' },
    },
    async run({ client, flags, print }) {
      const t = await client.call<Row>('POST', '/api/v1/tokens', {
        cluster: need(flags.cluster, '--cluster', 'token create'),
        labels: flags.labels,
        ttl: durationText('--ttl', flags.ttl),
        uses: flags.uses,
      });
      print(t, () =>
        [
          `Enrollment token for cluster ${t['cluster']} (id ${t['id']}, expires ${timeText(t['expiresAt'])}, ${t['maxUses']} use(s)):`,
          '',
          `  ${t['token']}`,
          '',
          'It is shown only now; the hub keeps only its hash. Give it to the agent of that cluster.',
          '',
        ].join('\n'),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'token list',
    usage: '',
    summary: 'list enrollment tokens',
    flags: {},
    async run({ client, print }) {
      const { items } = await client.call<{ items: Row[] }>('GET', '/api/v1/tokens');
      print(items, () =>
        renderTable(items, [
          col('id', (r) => r['id']),
          col('cluster', (r) => r['cluster']),
          col('state', (r) => r['state']),
          col('uses', (r) => `${r['uses']}/${r['maxUses']}`),
          col('expires', (r) => timeText(r['expiresAt'])),
          col('labels', (r) => labelsText(r['labels'])),
          col('created by', (r) => r['createdBy']),
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'token revoke',
    usage: 'ID',
    summary: 'revoke an enrollment token',
    flags: {},
    async run({ client, args, print }) {
      const id = oneArg('token revoke', args, 'the token ID');
      const t = await client.call<Row>('POST', `/api/v1/tokens/${encodeURIComponent(id)}/revoke`);
      print(t, () => `Enrollment token ${t['id']} revoked.\n`);
      return 0;
    },
  }),
  defineCommand({
    name: 'api-token create',
    usage: '--name N --role R',
    summary: 'create an API token (admin; printed once)',
    flags: {
      name: { type: 'string', default: '', help: 'Name of the new API token.' },
      role: {
        type: 'string',
        default: 'viewer',
        help: 'Role of the new API token: viewer, operator, approver or admin.',
      },
    },
    async run({ client, flags, print }) {
      const t = await client.call<Row>('POST', '/api/v1/api-tokens', {
        name: need(flags.name, '--name', 'api-token create'),
        role: flags.role,
      });
      print(
        t,
        () =>
          `API token ${t['id']} (${t['name']}, role ${t['role']}), shown only now:\n\n  ${t['token']}\n\n`,
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'api-token list',
    usage: '',
    summary: 'list API tokens (admin)',
    flags: {},
    async run({ client, print }) {
      const { items } = await client.call<{ items: Row[] }>('GET', '/api/v1/api-tokens');
      print(items, () =>
        renderTable(items, [
          col('id', (r) => r['id']),
          col('name', (r) => r['name']),
          col('role', (r) => r['role']),
          col('state', (r) => r['state']),
          col('created', (r) => timeText(r['createdAt'])),
          col('created by', (r) => r['createdBy']),
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'api-token revoke',
    usage: 'ID',
    summary: 'revoke an API token (admin)',
    flags: {},
    async run({ client, args, print }) {
      const id = oneArg('api-token revoke', args, 'the token ID');
      const t = await client.call<Row>(
        'POST',
        `/api/v1/api-tokens/${encodeURIComponent(id)}/revoke`,
      );
      print(t, () => `API token ${t['id']} revoked.\n`);
      return 0;
    },
  }),
];
