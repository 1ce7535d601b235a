import type { NotificationEvent } from '../model.ts';
import { answerLine, type OutboundGuard } from '../../outbound/index.ts';
import { DeliveryError, DestinationRefusedError, postJson, truncate } from './http.ts';
import type { Provider } from './provider.ts';

/**
 * Slack's documented limits (Block Kit reference and chat.postMessage):
 * at most 50 blocks per message; a section's text at most 3000 characters, a
 * section field 2000 and at most 10 fields; a header's plain text at most 150;
 * a context block at most 10 elements; a button's text at most 75 and its URL
 * at most 3000; the message `text` is truncated by Slack beyond 40,000 (we keep
 * it far shorter, it is the notification preview).
 */
export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  headerText: 150,
  contextElements: 10,
  buttonText: 75,
  buttonUrl: 3000,
  actionElements: 25,
  text: 40_000,
} as const;

/** Colour bar and emoji per outcome. */
const STYLE = {
  bad: { color: '#d40e0d', emoji: ':red_circle:' },
  good: { color: '#2eb67d', emoji: ':large_green_circle:' },
  neutral: { color: '#439fe0', emoji: ':large_blue_circle:' },
} as const;

/** Preview text shown in notifications (the banner), kept short. */
const PREVIEW_MAX = 300;

/** Escapes the three characters Slack's mrkdwn reserves. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The Slack message of an event: a preview `text`, and an attachment carrying
 * the outcome's colour whose Block Kit blocks hold the title, the facts
 * (cluster, app, revision, labels), the message, and link buttons. Every text
 * is cut to Slack's limits ({@link SLACK_LIMITS}).
 */
export function slackMessage(e: NotificationEvent): Record<string, unknown> {
  const style = STYLE[e.outcome];
  const facts: string[] = [];
  if (e.cluster) facts.push(`*Cluster*\n${esc(e.cluster)}`);
  if (e.app) facts.push(`*App*\n${esc(e.app)}`);
  if (e.revision) facts.push(`*Revision*\n\`${esc(e.revision.slice(0, 12))}\``);
  facts.push(`*Severity*\n${e.severity}`);
  const labels = Object.entries(e.labels).map(([k, v]) => `${k}=${v}`);
  const blocks: Record<string, unknown>[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: truncate(`${emojiText(e)} ${e.title}`, SLACK_LIMITS.headerText),
        emoji: true,
      },
    },
    {
      type: 'section',
      fields: facts.slice(0, SLACK_LIMITS.fields).map((f) => ({
        type: 'mrkdwn',
        text: truncate(f, SLACK_LIMITS.fieldText),
      })),
    },
  ];
  if (e.message)
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        // The fence takes 8 characters of the limit.
        text: '```' + truncate(esc(e.message), SLACK_LIMITS.sectionText - 8) + '```',
      },
    });
  const buttons = (
    [
      ['Dashboard', e.links.dashboard],
      ['Commit', e.links.commit],
      ['Trace', e.links.trace],
    ] as const
  )
    .filter(([, url]) => url && url.length <= SLACK_LIMITS.buttonUrl)
    .map(([label, url]) => ({
      type: 'button',
      text: { type: 'plain_text', text: truncate(label, SLACK_LIMITS.buttonText) },
      url,
    }));
  if (buttons.length) blocks.push({ type: 'actions', elements: buttons });
  const context = [
    `${e.kind}`,
    ...(labels.length ? [truncate(esc(labels.join(', ')), SLACK_LIMITS.sectionText)] : []),
  ];
  blocks.push({
    type: 'context',
    elements: context
      .slice(0, SLACK_LIMITS.contextElements)
      .map((text) => ({ type: 'mrkdwn', text })),
  });
  const where = [e.cluster, e.app].filter(Boolean).join('/');
  return {
    text: truncate(
      `${style.emoji} ${e.title}${where && !e.title.includes(where) ? ` (${where})` : ''}`,
      PREVIEW_MAX,
    ),
    attachments: [{ color: style.color, blocks: blocks.slice(0, SLACK_LIMITS.blocks) }],
  };
}

function emojiText(e: NotificationEvent): string {
  return { bad: '🔴', good: '🟢', neutral: '🔵' }[e.outcome];
}

/**
 * Slack: an incoming webhook (secret `webhookUrl`) or a bot token (secret
 * `token`, config `channel`) posting with chat.postMessage, through `guard`.
 * Slack answers bot calls 200 with `ok: false` on errors; those are refused
 * (not retried) except `ratelimited`. Slack's error code is the answer, kept
 * apart from the message like every destination's answer.
 */
export const slackProvider = (guard: OutboundGuard): Provider => ({
  async send(e, d, signal) {
    const what = `Slack destination ${d.name}`;
    const body = slackMessage(e);
    if (d.secret['webhookUrl']) {
      await postJson(guard, what, d.secret['webhookUrl'], JSON.stringify(body), {}, signal);
      return;
    }
    const api = (d.config['apiUrl'] || 'https://slack.com/api').replace(/\/+$/, '');
    const answer = await postJson(
      guard,
      what,
      `${api}/chat.postMessage`,
      JSON.stringify({ channel: d.config['channel'], ...body }),
      { authorization: `Bearer ${d.secret['token'] ?? ''}` },
      signal,
    );
    let parsed: { ok?: boolean; error?: string } = {};
    try {
      parsed = JSON.parse(answer.body) as typeof parsed;
    } catch {
      // Not JSON: treated as refused below.
    }
    if (parsed.ok === true) return;
    const reason = String(parsed.error ?? 'an answer that is not Slack API JSON').slice(0, 100);
    if (reason === 'ratelimited')
      throw new DeliveryError(`${what}: rate limited by Slack`, {
        cause: { status: 429 },
      });
    throw new DestinationRefusedError(`${what}: chat.postMessage refused the message`, {
      answer: answerLine(reason),
    });
  },
});
