import { isDnsLabel } from '@driftless/common';
import { InvalidArgumentError } from '../errors.ts';
import { ForbiddenDestinationError, type OutboundGuard } from '../outbound/index.ts';
import type { SecretBox } from '../secrets/index.ts';
import type { DestinationKind, DestinationRecord } from '../store/index.ts';
import type { OpenDestination } from './providers/index.ts';

/** The destination kinds, in the order docs and CLI list them. */
export const DESTINATION_KINDS: readonly DestinationKind[] = [
  'slack',
  'teams',
  'webhook',
  'alertmanager',
];

/** What a person gives to create a destination: public settings and secrets apart. */
export interface DestinationInput {
  name: string;
  kind: DestinationKind;
  /** `channel` and `apiUrl` (Slack bot), `url` (Alertmanager). */
  config?: Record<string, string>;
  /** `webhookUrl` (Slack, Teams), `token` (Slack bot, Alertmanager), `url` and `hmacKey` (webhook). */
  secret?: Record<string, string>;
}

/** Which settings each kind takes, and which are required. */
const FIELDS: Record<
  DestinationKind,
  {
    config: readonly string[];
    secret: readonly string[];
    check(i: Required<DestinationInput>): void;
  }
> = {
  slack: {
    config: ['channel', 'apiUrl'],
    secret: ['webhookUrl', 'token'],
    check(i) {
      const hook = i.secret['webhookUrl'];
      const token = i.secret['token'];
      if (!hook === !token)
        throw new InvalidArgumentError(
          `destination ${i.name}: a Slack destination needs either secret webhookUrl (incoming webhook) or secret token with config channel (bot)`,
        );
      if (token && !i.config['channel'])
        throw new InvalidArgumentError(
          `destination ${i.name}: a Slack bot token needs config channel (e.g. C0123456789 or #ops)`,
        );
    },
  },
  teams: {
    config: [],
    secret: ['webhookUrl'],
    check(i) {
      required(i, 'webhookUrl', 'the URL of the Teams workflow that posts webhook requests');
    },
  },
  webhook: {
    config: [],
    secret: ['url', 'hmacKey'],
    check(i) {
      required(i, 'url', 'the URL to POST notifications to');
      const key = i.secret['hmacKey'];
      if (key !== undefined && key.length < 16)
        throw new InvalidArgumentError(
          `destination ${i.name}: secret hmacKey must be at least 16 characters`,
        );
    },
  },
  alertmanager: {
    config: ['url'],
    secret: ['token'],
    check(i) {
      if (!i.config['url'])
        throw new InvalidArgumentError(
          `destination ${i.name}: an Alertmanager destination needs config url (e.g. http://alertmanager:9093)`,
        );
    },
  },
};

/** Fields holding URLs; each must be http(s). */
const URL_FIELDS = new Set(['webhookUrl', 'url', 'apiUrl']);

function required(i: Required<DestinationInput>, field: string, what: string): void {
  if (!i.secret[field])
    throw new InvalidArgumentError(`destination ${i.name}: needs secret ${field} (${what})`);
}

/**
 * Checks `input` and builds its record with the secret fields sealed (bound
 * to the destination's name). Throws InvalidArgumentError naming the wrong
 * field; never echoes a secret.
 */
export function sealDestination(
  input: DestinationInput,
  box: SecretBox,
  meta: { createdMs: number; createdBy: string },
): DestinationRecord {
  const i: Required<DestinationInput> = {
    name: input.name,
    kind: input.kind,
    config: input.config ?? {},
    secret: input.secret ?? {},
  };
  if (!isDnsLabel(i.name))
    throw new InvalidArgumentError(
      `destination "${i.name.slice(0, 63)}": a name is lowercase letters, digits and dashes, at most 63`,
    );
  const fields = FIELDS[i.kind];
  if (!fields)
    throw new InvalidArgumentError(
      `destination ${i.name}: kind "${String(i.kind)}": use ${DESTINATION_KINDS.join(', ')}`,
    );
  for (const [part, allowed] of [
    ['config', fields.config],
    ['secret', fields.secret],
  ] as const)
    for (const [k, v] of Object.entries(i[part])) {
      if (!allowed.includes(k))
        throw new InvalidArgumentError(
          `destination ${i.name}: ${i.kind} takes no ${part} field ${k.slice(0, 40)} (it takes ${allowed.join(', ') || 'none'})`,
        );
      if (typeof v !== 'string' || v.length > 4096)
        throw new InvalidArgumentError(
          `destination ${i.name}: ${part} ${k} must be a string of at most 4096 characters`,
        );
      if (URL_FIELDS.has(k) && !/^https?:\/\/[^\s/]+/i.test(v))
        throw new InvalidArgumentError(
          `destination ${i.name}: ${part} ${k} must be an http(s) URL`,
        );
    }
  fields.check(i);
  const secretFields = Object.entries(i.secret).filter(([, v]) => v !== '');
  return {
    name: i.name,
    kind: i.kind,
    config: i.config,
    sealedSecret: secretFields.length
      ? box.seal(JSON.stringify(Object.fromEntries(secretFields)), secretContext(i.name))
      : '',
    createdMs: meta.createdMs,
    createdBy: meta.createdBy,
  };
}

/**
 * Refuses a destination whose URLs point at addresses the hub may not send to (`guard`; checked
 * again on every send): InvalidArgumentError with the guard's message, naming the destination
 * and the reason, never the URL.
 */
export async function checkDestinationUrls(
  guard: OutboundGuard,
  input: DestinationInput,
): Promise<void> {
  for (const part of [input.config ?? {}, input.secret ?? {}])
    for (const [field, url] of Object.entries(part)) {
      if (!URL_FIELDS.has(field) || !url) continue;
      try {
        await guard.check(`destination ${input.name}`, url);
      } catch (err) {
        if (err instanceof ForbiddenDestinationError)
          throw new InvalidArgumentError(err.message, { cause: err });
        throw err;
      }
    }
}

/** Opens a destination's secret for sending. Throws SealedSecretError if the key does not fit. */
export function openDestination(d: DestinationRecord, box: SecretBox): OpenDestination {
  const secret = d.sealedSecret
    ? (JSON.parse(box.open(d.sealedSecret, secretContext(d.name))) as Record<string, string>)
    : {};
  return { name: d.name, kind: d.kind, config: d.config, secret };
}

/**
 * What the API shows of a destination's secret: whether it has one, and the
 * host of its URL (so people can tell destinations apart) — never the URL.
 */
export function secretSummary(
  d: DestinationRecord,
  box: SecretBox,
): { hasSecret: boolean; host: string } {
  if (!d.sealedSecret) return { hasSecret: false, host: hostOf(d.config['url']) };
  try {
    const s = openDestination(d, box).secret;
    return { hasSecret: true, host: hostOf(s['webhookUrl'] ?? s['url'] ?? d.config['url']) };
  } catch {
    return { hasSecret: true, host: '' };
  }
}

function hostOf(url: string | undefined): string {
  try {
    return url ? new URL(url).host : '';
  } catch {
    return '';
  }
}

const secretContext = (name: string) => `notify-destination/${name}`;
