import type { NotificationEvent } from '../model.ts';
import type { OutboundGuard } from '../../outbound/index.ts';
import { postJson, truncate } from './http.ts';
import type { Provider } from './provider.ts';

/** Adaptive Card schema version Teams renders in workflow-posted messages. */
export const ADAPTIVE_CARD_VERSION = '1.4';

/**
 * Teams rejects messages above about 28 KB; the message text is cut well below
 * that so the whole card stays inside it.
 */
const MESSAGE_MAX = 8000;

/** Card text colour per outcome (Adaptive Card `color` names). */
const COLOR = { bad: 'Attention', good: 'Good', neutral: 'Accent' } as const;

/**
 * The Teams workflow message of an event: `{type: "message", attachments: [one
 * Adaptive Card]}` with the title in the outcome's colour, a FactSet (cluster,
 * app, revision, severity, labels), the message, and link actions.
 */
export function teamsMessage(e: NotificationEvent): Record<string, unknown> {
  const facts = [
    ['Cluster', e.cluster],
    ['App', e.app],
    ['Revision', e.revision.slice(0, 12)],
    ['Severity', e.severity],
    [
      'Labels',
      Object.entries(e.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', '),
    ],
  ].filter(([, v]) => v);
  const body: Record<string, unknown>[] = [
    {
      type: 'TextBlock',
      text: truncate(e.title, 300),
      weight: 'Bolder',
      size: 'Medium',
      color: COLOR[e.outcome],
      wrap: true,
    },
    { type: 'FactSet', facts: facts.map(([title, value]) => ({ title, value })) },
  ];
  if (e.message)
    body.push({
      type: 'TextBlock',
      text: truncate(e.message, MESSAGE_MAX),
      wrap: true,
      fontType: 'Monospace',
    });
  const actions = (
    [
      ['Dashboard', e.links.dashboard],
      ['Commit', e.links.commit],
      ['Trace', e.links.trace],
    ] as const
  )
    .filter(([, url]) => url)
    .map(([title, url]) => ({ type: 'Action.OpenUrl', title, url }));
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: ADAPTIVE_CARD_VERSION,
          msteams: { width: 'Full' },
          body,
          ...(actions.length ? { actions } : {}),
        },
      },
    ],
  };
}

/**
 * Microsoft Teams: a workflow ("When a Teams webhook request is received") URL, secret
 * `webhookUrl`, sent through `guard`.
 */
export const teamsProvider = (guard: OutboundGuard): Provider => ({
  async send(e, d, signal) {
    await postJson(
      guard,
      `Teams destination ${d.name}`,
      d.secret['webhookUrl'] ?? '',
      JSON.stringify(teamsMessage(e)),
      {},
      signal,
    );
  },
});
