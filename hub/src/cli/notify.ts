/**
 * `driftless notify …`: notification destinations, rules, the delivery log and test
 * messages (docs/notifications.md). Secrets are given by flag or, better (the process list
 * shows flags), by their environment variable (`DRIFTLESS_CLI_WEBHOOK_URL`, ...), and are
 * never printed back.
 */
import { CliError, defineCommand, oneArg, UsageError } from './command.ts';
import { limitFlag, selectorFlag } from './flags.ts';
import { clip, col, renderTable, timeText, type Row } from './table.ts';

/** Flags that carry a destination's settings; the secret ones go to `secret`. */
const DESTINATION_FLAGS = {
  kind: {
    type: 'string',
    default: '',
    help: 'Destination kind: slack, teams, webhook or alertmanager.',
  },
  webhookUrl: {
    type: 'string',
    default: '',
    help: 'Secret: the Slack incoming webhook or Teams workflow URL (prefer DRIFTLESS_CLI_WEBHOOK_URL).',
  },
  botToken: {
    type: 'string',
    default: '',
    help: 'Secret: a Slack bot token (with --channel), or an Alertmanager bearer token (prefer DRIFTLESS_CLI_BOT_TOKEN).',
  },
  channel: { type: 'string', default: '', help: 'Slack channel ID or name for a bot token.' },
  url: {
    type: 'string',
    default: '',
    help: 'Generic webhook URL (secret), or the Alertmanager base URL, e.g. http://alertmanager:9093.',
  },
  hmacKey: {
    type: 'string',
    default: '',
    help: 'Secret: key of the generic webhook signature, at least 16 characters (prefer DRIFTLESS_CLI_HMAC_KEY).',
  },
} as const;

/** The create body of a destination from the flags: public settings and secrets apart. */
function destinationBody(name: string, f: Record<keyof typeof DESTINATION_FLAGS, string>) {
  if (!f.kind) throw new UsageError('notify destination create: --kind is required');
  const config: Record<string, string> = {};
  const secret: Record<string, string> = {};
  if (f.channel) config['channel'] = f.channel;
  if (f.webhookUrl) secret['webhookUrl'] = f.webhookUrl;
  if (f.botToken) secret['token'] = f.botToken;
  if (f.hmacKey) secret['hmacKey'] = f.hmacKey;
  if (f.url) (f.kind === 'alertmanager' ? config : secret)['url'] = f.url;
  return { name, kind: f.kind, config, secret };
}

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The notification commands, registered in commands/index.ts. */
export const notifyCommands = [
  defineCommand({
    name: 'notify destination create',
    usage:
      'NAME --kind slack|teams|webhook|alertmanager [--webhook-url U | --bot-token T --channel C | --url U --hmac-key K]',
    summary: 'create a notification destination (admin)',
    description:
      'The secret settings (webhook URLs, tokens, HMAC keys) are stored encrypted and never shown again.',
    flags: DESTINATION_FLAGS,
    async run({ client, args, flags, print }) {
      const name = oneArg('notify destination create', args, 'the destination name');
      const d = await client.call<Row>(
        'POST',
        '/api/v1/notifications/destinations',
        destinationBody(name, flags),
      );
      print(
        d,
        () => `Destination ${d['name']} (${d['kind']}, ${d['host'] || 'no host'}) created.\n`,
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'notify destination list',
    usage: '',
    summary: 'list notification destinations',
    flags: {},
    async run({ client, print }) {
      const { items } = await client.call<{ items: Row[] }>(
        'GET',
        '/api/v1/notifications/destinations',
      );
      print(items, () =>
        renderTable(items, [
          col('name', (r) => r['name']),
          col('kind', (r) => r['kind']),
          col('host', (r) => r['host']),
          col('secret', (r) => (r['hasSecret'] ? 'set' : '-')),
          col('config', (r) => (Object.keys(r['config'] as object).length ? r['config'] : '')),
          col('created by', (r) => r['createdBy']),
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'notify destination delete',
    usage: 'NAME',
    summary: 'delete a notification destination and its rules (admin)',
    flags: {},
    async run({ client, args, print }) {
      const name = oneArg('notify destination delete', args, 'the destination name');
      await client.call('DELETE', `/api/v1/notifications/destinations/${encodeURIComponent(name)}`);
      print({ deleted: name }, () => `Destination ${name} and its rules deleted.\n`);
      return 0;
    },
  }),
  defineCommand({
    name: 'notify test',
    usage: 'DESTINATION',
    summary: 'send a test notification to a destination now (admin)',
    flags: {},
    async run({ client, args, print }) {
      const name = oneArg('notify test', args, 'the destination name');
      const res = await client.call<{ sent: boolean; error: string }>(
        'POST',
        `/api/v1/notifications/destinations/${encodeURIComponent(name)}/test`,
      );
      if (!res.sent) throw new CliError(`notify test ${name}: ${res.error}`);
      print(res, () => `Test notification sent to ${name}.\n`);
      return 0;
    },
  }),
  defineCommand({
    name: 'notify rule create',
    usage:
      '--destination NAME [--events k1,k2] [--selector env=prod] [--apps a,b] [--min-severity warning] [--rate-limit 20/10m]',
    summary: 'route events to a destination (admin)',
    flags: {
      id: { type: 'string', default: '', help: 'Rule id; default a generated one.' },
      destination: { type: 'string', default: '', help: 'The destination events go to.' },
      events: {
        type: 'string',
        default: '',
        help: 'Event kinds, comma-separated (e.g. sync.failed,sync.succeeded); empty means every kind.',
      },
      selector: {
        ...selectorFlag,
        help: 'Cluster label selector, e.g. env=prod,!canary; empty means every cluster.',
      },
      apps: {
        type: 'string',
        default: '',
        help: 'App names, comma-separated; empty means every app.',
      },
      minSeverity: {
        type: 'string',
        default: 'info',
        help: 'Lowest severity sent: info, warning or error.',
      },
      rateLimit: {
        type: 'string',
        default: '',
        help: 'At most N messages per window, as N/WINDOW (e.g. 20/10m); 0/1m sends every one. Default 20/10m.',
      },
    },
    async run({ client, flags, print }) {
      if (!flags.destination) throw new UsageError('notify rule create: --destination is required');
      const body: Record<string, unknown> = {
        destination: flags.destination,
        events: list(flags.events),
        selector: flags.selector,
        apps: list(flags.apps),
        minSeverity: flags.minSeverity,
      };
      if (flags.id) body['id'] = flags.id;
      if (flags.rateLimit) body['rateLimit'] = parseRateLimit(flags.rateLimit);
      const r = await client.call<Row>('POST', '/api/v1/notifications/rules', body);
      print(r, () => `Rule ${r['id']} created: ${ruleText(r)}.\n`);
      return 0;
    },
  }),
  defineCommand({
    name: 'notify rule list',
    usage: '[--destination NAME]',
    summary: 'list notification rules',
    flags: {
      destination: { type: 'string', default: '', help: 'Only the rules of this destination.' },
    },
    async run({ client, flags, print }) {
      const q = flags.destination ? `?destination=${encodeURIComponent(flags.destination)}` : '';
      const { items } = await client.call<{ items: Row[] }>(
        'GET',
        `/api/v1/notifications/rules${q}`,
      );
      print(items, () =>
        renderTable(items, [
          col('id', (r) => r['id']),
          col('destination', (r) => r['destination']),
          col('events', (r) => (r['events'] as string[]).join(',') || 'all'),
          col('selector', (r) => r['selector'] || 'all'),
          col('apps', (r) => (r['apps'] as string[]).join(',') || 'all'),
          col('min severity', (r) => r['minSeverity']),
          col('rate limit', (r) => rateText(r)),
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'notify rule delete',
    usage: 'ID',
    summary: 'delete a notification rule (admin)',
    flags: {},
    async run({ client, args, print }) {
      const id = oneArg('notify rule delete', args, 'the rule id');
      await client.call('DELETE', `/api/v1/notifications/rules/${encodeURIComponent(id)}`);
      print({ deleted: id }, () => `Rule ${id} deleted.\n`);
      return 0;
    },
  }),
  defineCommand({
    name: 'notify deliveries',
    usage: '[--destination NAME] [--status sent|failed|held|pending] [--limit N]',
    summary: 'the notification delivery log, newest first',
    flags: {
      destination: { type: 'string', default: '', help: 'Only deliveries to this destination.' },
      status: { type: 'string', default: '', help: 'Only deliveries in this state.' },
      limit: limitFlag,
    },
    async run({ client, flags, print }) {
      const q = new URLSearchParams();
      if (flags.limit) q.set('limit', String(flags.limit));
      if (flags.destination) q.set('destination', flags.destination);
      if (flags.status) q.set('status', flags.status);
      const { items } = await client.call<{ items: Row[] }>(
        'GET',
        `/api/v1/notifications/deliveries?${q.toString()}`,
      );
      print(items, () =>
        renderTable(items, [
          col('id', (r) => r['id']),
          col('created', (r) => timeText(r['createdAt'])),
          col('destination', (r) => r['destination']),
          col('status', (r) => r['status']),
          col('tries', (r) => (r['attempts'] as unknown[]).length),
          col('kind', (r) => r['kind']),
          col('title', (r) => clip(r['title'], 60)),
          col('last error', (r) => clip(r['lastError'], 60)),
        ]),
      );
      return 0;
    },
  }),
];

/** `20/10m` as the API's rate limit; UsageError when malformed. */
export function parseRateLimit(text: string): { max: number; windowSeconds: number } {
  const m = /^(\d+)\/(\d+)(s|m|h)$/.exec(text.trim());
  if (!m)
    throw new UsageError(
      `--rate-limit "${text}": use N/WINDOW with a window in s, m or h, e.g. 20/10m`,
    );
  const unit = { s: 1, m: 60, h: 3600 }[m[3] as 's' | 'm' | 'h'];
  return { max: Number(m[1]), windowSeconds: Number(m[2]) * unit };
}

function rateText(r: Row): string {
  const l = r['rateLimit'] as { max: number; windowSeconds: number };
  return l.max ? `${l.max}/${l.windowSeconds}s` : 'none';
}

function ruleText(r: Row): string {
  const events = (r['events'] as string[]).join(',') || 'every event';
  return `${events} of ${r['selector'] || 'every cluster'} at ${r['minSeverity']} or above to ${r['destination']}, ${rateText(r)}`;
}
