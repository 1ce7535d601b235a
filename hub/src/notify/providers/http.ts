import { DriftlessError, TerminalError } from '@driftless/common';
import {
  answerLine,
  ForbiddenDestinationError,
  readHead,
  unanswered,
  type Answered,
  type OutboundGuard,
} from '../../outbound/index.ts';
import { HUB_USER_AGENT } from '../../user-agent.ts';

/**
 * A destination refused or failed a delivery; classified by its `cause` (the HTTP status).
 * What the destination answered is in `answer`, never in the message.
 */
export class DeliveryError extends DriftlessError implements Answered {
  override name = 'DeliveryError';
  readonly answer: string;

  constructor(message: string, options: { cause?: unknown; answer?: string } = {}) {
    super(message, { cause: options.cause });
    this.answer = options.answer ?? '';
  }
}

/** A destination's settings cannot work (e.g. Slack answers `channel_not_found`); not retried. */
export class DestinationRefusedError extends TerminalError implements Answered {
  override name = 'DestinationRefusedError';
  readonly answer: string;

  constructor(message: string, options: { answer?: string } = {}) {
    super(message);
    this.answer = options.answer ?? '';
  }
}

/** How long one delivery request may take, ms. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** The answer of a destination: status and (at most 4 KiB of) body. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * POSTs `body` to `url` through `guard` and returns the answer when it is 2xx. Otherwise
 * throws {@link DeliveryError} whose cause carries the status (so 5xx and 429 retry, other
 * 4xx and redirects do not) and whose `answer` is the first line of the body; a URL the guard
 * refuses throws its ForbiddenDestinationError. Messages name `what` (the destination), never
 * the URL: it may be the secret.
 */
export async function postJson(
  guard: OutboundGuard,
  what: string,
  url: string,
  body: string,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<HttpAnswer> {
  let res: Response;
  try {
    res = await guard.fetch(what, url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': HUB_USER_AGENT,
        ...headers,
      },
      body,
      signal: signal
        ? AbortSignal.any([signal, AbortSignal.timeout(DELIVERY_TIMEOUT_MS)])
        : AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
  } catch (err) {
    if (err instanceof ForbiddenDestinationError) throw err;
    throw unreachable(what, err);
  }
  if (res.status >= 300 && res.status <= 399) {
    await res.body?.cancel().catch(() => undefined);
    throw new DestinationRefusedError(
      `${what}: HTTP ${res.status}: a redirect, which the hub does not follow; give the final URL`,
    );
  }
  const text = await readHead(res, 4096);
  if (res.status < 200 || res.status > 299)
    throw new DeliveryError(`${what}: HTTP ${res.status}`, {
      cause: { status: res.status },
      answer: answerLine(text),
    });
  return { status: res.status, body: text };
}

/** The error of a request that got no answer: its code for everyone, its detail for admins. */
function unreachable(what: string, err: unknown): DeliveryError {
  const u = unanswered(err);
  return new DeliveryError(
    `${what}: cannot reach the destination${u.label ? ` (${u.label})` : ''}`,
    { cause: u.cause, answer: u.answer },
  );
}

/** `text` cut to at most `max` characters (code points never split), marked with an ellipsis. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return chars.slice(0, Math.max(0, max - 1)).join('') + '…';
}
