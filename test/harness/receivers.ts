import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * HTTP servers that receive notifications the way Slack, Microsoft Teams and a
 * generic webhook consumer do, and check each request against the service's
 * documented format. A request that breaks the format is answered 400 (as the
 * services do) and recorded with its problems, so a test sees both.
 */

/** Which service a request was addressed to. */
export type ReceiverKind = 'slack-webhook' | 'slack-api' | 'teams' | 'webhook';

/** One request a receiver got. */
export interface ReceivedRequest {
  kind: ReceiverKind;
  /** The path after the kind, e.g. `ops` of `/slack/ops`. */
  channel: string;
  headers: Record<string, string>;
  body: unknown;
  /** What breaks the service's format; empty when the request is valid. */
  problems: string[];
  /** The status the receiver answered. */
  status: number;
}

/** The running receivers. */
export interface Receivers {
  /** Base URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Slack incoming webhook URL of a channel. */
  slackWebhookUrl(channel: string): string;
  /** Base of a Slack Web API (`chat.postMessage` below it) accepting `token`. */
  slackApiUrl(): string;
  /** Teams workflow URL of a channel. */
  teamsUrl(channel: string): string;
  /** Generic webhook URL of a channel. */
  webhookUrl(channel: string): string;
  /** Every request so far, oldest first. */
  readonly requests: readonly ReceivedRequest[];
  /** The valid requests of one kind (and channel). */
  valid(kind: ReceiverKind, channel?: string): ReceivedRequest[];
  /** Answers the next `times` requests to `channel` with `status` (e.g. 500), before checking them. */
  fail(channel: string, times: number, status: number): void;
  stop(): Promise<void>;
}

/** Options of {@link startReceivers}. */
export interface ReceiverOptions {
  /** Bot token the Slack API accepts. Default `xoxb-test-token`. */
  slackToken?: string;
  /** HMAC key generic webhook signatures are checked with; '' expects none. */
  webhookHmacKey?: string;
  /** Oldest signature timestamp accepted, seconds from now. Default 300. */
  webhookMaxSkewSeconds?: number;
  /** Called with each request once checked (e.g. to print it). */
  onRequest?: (request: ReceivedRequest) => void;
}

/** Slack's documented Block Kit limits, checked here independently of the product's copy. */
const SLACK = {
  blocks: 50,
  header: 150,
  section: 3000,
  field: 2000,
  fields: 10,
  context: 10,
  actions: 25,
  button: 75,
  url: 3000,
  text: 40_000,
};
const SLACK_BLOCK_TYPES = new Set(['header', 'section', 'context', 'actions', 'divider', 'image']);

/** Starts the receivers on a free loopback port. */
export async function startReceivers(options: ReceiverOptions = {}): Promise<Receivers> {
  const slackToken = options.slackToken ?? 'xoxb-test-token';
  const hmacKey = options.webhookHmacKey ?? '';
  const maxSkew = options.webhookMaxSkewSeconds ?? 300;
  const requests: ReceivedRequest[] = [];
  const failures = new Map<string, { times: number; status: number }>();

  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const [, prefix = '', rest = ''] = /^\/([^/]+)\/?(.*)$/.exec(req.url ?? '') ?? [];
      const kind = KINDS[prefix];
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, String(v)]),
      );
      let body: unknown;
      const problems: string[] = [];
      try {
        body = JSON.parse(raw);
      } catch {
        problems.push('the body is not JSON');
      }
      if (!kind || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      const channel = kind === 'slack-api' ? str(isObj(body) ? body['channel'] : '') : rest;
      const failing = failures.get(channel);
      if (failing && failing.times > 0) {
        failing.times--;
        requests.push({
          kind,
          channel,
          headers,
          body,
          problems: [`answered ${failing.status} on purpose`],
          status: failing.status,
        });
        res.writeHead(failing.status, { 'content-type': 'text/plain' }).end('failing on purpose');
        return;
      }
      if (!(headers['content-type'] ?? '').startsWith('application/json'))
        problems.push(
          `content-type is ${headers['content-type'] ?? 'missing'}, not application/json`,
        );
      if (body !== undefined) {
        if (kind === 'slack-webhook' || kind === 'slack-api') problems.push(...checkSlack(body));
        if (kind === 'slack-api') {
          if (headers['authorization'] !== `Bearer ${slackToken}`) problems.push('wrong bot token');
          if (!channel) problems.push('chat.postMessage without channel');
        }
        if (kind === 'teams') problems.push(...checkTeams(body));
        if (kind === 'webhook')
          problems.push(...checkWebhook(body, raw, headers, hmacKey, maxSkew));
      }
      const status = problems.length
        ? 400
        : kind === 'teams'
          ? 202
          : kind === 'webhook'
            ? 204
            : 200;
      const received = { kind, channel, headers, body, problems, status };
      requests.push(received);
      options.onRequest?.(received);
      if (kind === 'slack-api') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            problems.length
              ? { ok: false, error: 'invalid_blocks' }
              : { ok: true, ts: String(Date.now() / 1000) },
          ),
        );
        return;
      }
      res
        .writeHead(status, { 'content-type': 'text/plain' })
        .end(problems.length ? problems.join('; ') : kind === 'slack-webhook' ? 'ok' : '');
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    slackWebhookUrl: (c) => `${url}/slack/${c}`,
    slackApiUrl: () => `${url}/slack-api`,
    teamsUrl: (c) => `${url}/teams/${c}`,
    webhookUrl: (c) => `${url}/webhook/${c}`,
    requests,
    valid: (kind, channel) =>
      requests.filter(
        (r) =>
          r.kind === kind &&
          r.problems.length === 0 &&
          (channel === undefined || r.channel === channel),
      ),
    fail: (channel, times, status) => failures.set(channel, { times, status }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const KINDS: Record<string, ReceiverKind> = {
  slack: 'slack-webhook',
  'slack-api': 'slack-api',
  teams: 'teams',
  webhook: 'webhook',
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const len = (s: unknown) => (typeof s === 'string' ? Array.from(s).length : -1);

/** A Slack message: `text`, and blocks at the top or in attachments, each within Slack's limits. */
export function checkSlack(body: unknown): string[] {
  const p: string[] = [];
  if (!isObj(body)) return ['the message is not an object'];
  if (typeof body['text'] !== 'string' || !body['text']) p.push('no fallback text');
  else if (len(body['text']) > SLACK.text) p.push('text longer than 40000');
  const lists: unknown[][] = [];
  if (body['blocks'] !== undefined) lists.push(body['blocks'] as unknown[]);
  for (const a of (body['attachments'] as unknown[] | undefined) ?? []) {
    if (!isObj(a)) p.push('an attachment is not an object');
    else {
      if (
        a['color'] !== undefined &&
        !/^#[0-9a-f]{6}$|^(good|warning|danger)$/i.test(str(a['color']))
      )
        p.push('bad attachment color');
      if (a['blocks'] !== undefined) lists.push(a['blocks'] as unknown[]);
    }
  }
  for (const blocks of lists) {
    if (!Array.isArray(blocks)) {
      p.push('blocks is not an array');
      continue;
    }
    if (blocks.length > SLACK.blocks) p.push(`${blocks.length} blocks, more than ${SLACK.blocks}`);
    for (const b of blocks) p.push(...checkSlackBlock(b));
  }
  return p;
}

function checkText(t: unknown, max: number, where: string, plainOnly = false): string[] {
  if (!isObj(t)) return [`${where}: no text object`];
  if (t['type'] !== 'plain_text' && (plainOnly || t['type'] !== 'mrkdwn'))
    return [`${where}: text type ${String(t['type'])}`];
  const n = len(t['text']);
  if (n < 1) return [`${where}: empty text`];
  return n > max ? [`${where}: text of ${n} characters, more than ${max}`] : [];
}

function checkSlackBlock(b: unknown): string[] {
  if (!isObj(b) || !SLACK_BLOCK_TYPES.has(String(b['type'])))
    return [`unknown block ${JSON.stringify(b).slice(0, 80)}`];
  switch (b['type']) {
    case 'header':
      return checkText(b['text'], SLACK.header, 'header', true);
    case 'section': {
      const p: string[] = [];
      if (b['text'] === undefined && b['fields'] === undefined)
        p.push('section without text or fields');
      if (b['text'] !== undefined) p.push(...checkText(b['text'], SLACK.section, 'section'));
      const fields = b['fields'];
      if (fields !== undefined) {
        if (!Array.isArray(fields) || fields.length > SLACK.fields)
          p.push('section fields: more than 10');
        else for (const f of fields) p.push(...checkText(f, SLACK.field, 'section field'));
      }
      return p;
    }
    case 'context': {
      const els = b['elements'];
      if (!Array.isArray(els) || els.length < 1 || els.length > SLACK.context)
        return ['context: 1 to 10 elements'];
      return els.flatMap((e) => checkText(e, SLACK.section, 'context element'));
    }
    case 'actions': {
      const els = b['elements'];
      if (!Array.isArray(els) || els.length < 1 || els.length > SLACK.actions)
        return ['actions: 1 to 25 elements'];
      return els.flatMap((e) => {
        if (!isObj(e) || e['type'] !== 'button') return ['actions: not a button'];
        const p = checkText(e['text'], SLACK.button, 'button', true);
        if (
          e['url'] !== undefined &&
          (len(e['url']) > SLACK.url || !/^https?:\/\//.test(str(e['url'])))
        )
          p.push('button url');
        return p;
      });
    }
    default:
      return [];
  }
}

const CARD_ELEMENTS = new Set([
  'TextBlock',
  'FactSet',
  'ColumnSet',
  'Container',
  'Image',
  'RichTextBlock',
]);

/** A Teams workflow message: `{type: "message", attachments: [{contentType: adaptive, content: AdaptiveCard}]}`. */
export function checkTeams(body: unknown): string[] {
  if (!isObj(body)) return ['the message is not an object'];
  const p: string[] = [];
  if (body['type'] !== 'message') p.push('type is not "message"');
  const atts = body['attachments'];
  if (!Array.isArray(atts) || atts.length < 1) return [...p, 'no attachments'];
  for (const a of atts) {
    if (!isObj(a) || a['contentType'] !== 'application/vnd.microsoft.card.adaptive') {
      p.push('attachment contentType is not application/vnd.microsoft.card.adaptive');
      continue;
    }
    const c = a['content'];
    if (!isObj(c) || c['type'] !== 'AdaptiveCard') {
      p.push('attachment content is not an AdaptiveCard');
      continue;
    }
    if (typeof c['version'] !== 'string' || !/^1\.[0-6]$/.test(c['version']))
      p.push(`card version ${String(c['version'])}`);
    const items = c['body'];
    if (!Array.isArray(items) || items.length === 0) p.push('card without body');
    else
      for (const e of items) {
        if (!isObj(e) || !CARD_ELEMENTS.has(String(e['type'])))
          p.push(`unknown card element ${JSON.stringify(e).slice(0, 60)}`);
        else if (e['type'] === 'TextBlock' && typeof e['text'] !== 'string')
          p.push('TextBlock without text');
        else if (
          e['type'] === 'FactSet' &&
          !(
            Array.isArray(e['facts']) &&
            e['facts'].every(
              (f) => isObj(f) && typeof f['title'] === 'string' && typeof f['value'] === 'string',
            )
          )
        )
          p.push('FactSet facts are not {title, value} strings');
      }
    for (const act of (c['actions'] as unknown[] | undefined) ?? [])
      if (
        !isObj(act) ||
        act['type'] !== 'Action.OpenUrl' ||
        !/^https?:\/\//.test(String(act['url'])) ||
        typeof act['title'] !== 'string'
      )
        p.push('an action is not an Action.OpenUrl with title and url');
  }
  if (JSON.stringify(body).length > 28_000) p.push('message larger than 28 KB');
  return p;
}

const EVENT_FIELDS: Record<string, string> = {
  version: 'number',
  key: 'string',
  kind: 'string',
  severity: 'string',
  outcome: 'string',
  atMs: 'number',
  title: 'string',
  message: 'string',
  cluster: 'string',
  labels: 'object',
  app: 'string',
  revision: 'string',
  links: 'object',
};

/** A generic webhook request: the documented event schema, timestamp and HMAC signature. */
export function checkWebhook(
  body: unknown,
  raw: string,
  headers: Record<string, string>,
  hmacKey: string,
  maxSkewSeconds: number,
): string[] {
  const p: string[] = [];
  if (!isObj(body)) return ['the event is not an object'];
  for (const [f, type] of Object.entries(EVENT_FIELDS))
    if (typeof body[f] !== type || body[f] === null) p.push(`field ${f} is not a ${type}`);
  if (body['version'] !== 1) p.push('version is not 1');
  if (!['info', 'warning', 'error'].includes(String(body['severity']))) p.push('bad severity');
  if (!['bad', 'good', 'neutral'].includes(String(body['outcome']))) p.push('bad outcome');
  const links = body['links'];
  if (isObj(links))
    for (const k of ['commit', 'trace', 'dashboard'])
      if (typeof links[k] !== 'string') p.push(`links.${k} is not a string`);
  const ts = Number(headers['x-driftless-timestamp']);
  if (!Number.isInteger(ts)) p.push('X-Driftless-Timestamp missing');
  else if (Math.abs(Date.now() / 1000 - ts) > maxSkewSeconds)
    p.push('X-Driftless-Timestamp too old');
  if (hmacKey) {
    const want = 'sha256=' + createHmac('sha256', hmacKey).update(`${ts}.${raw}`).digest('hex');
    const got = headers['x-driftless-signature'] ?? '';
    if (got.length !== want.length || !timingSafeEqual(Buffer.from(got), Buffer.from(want)))
      p.push('X-Driftless-Signature does not match');
  }
  return p;
}
