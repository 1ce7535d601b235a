import { DriftlessError, TerminalError } from '@driftless/common';
import { HUB_USER_AGENT } from '../../user-agent.ts';

/** A destination refused or failed a delivery; classified by its `cause` (the HTTP status). */
export class DeliveryError extends DriftlessError {
  override name = 'DeliveryError';
}

/** A destination's settings cannot work (e.g. Slack answers `channel_not_found`); not retried. */
export class DestinationRefusedError extends TerminalError {
  override name = 'DestinationRefusedError';
}

/** How long one delivery request may take, ms. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** The answer of a destination: status and (at most 4 KiB of) body. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * POSTs `body` to `url` and returns the answer when it is 2xx. Otherwise throws
 * {@link DeliveryError} whose cause carries the status (so 5xx and 429 retry, other
 * 4xx do not). Messages name `what` (the destination), never the URL: it may be the secret.
 */
export async function postJson(
  what: string,
  url: string,
  body: string,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<HttpAnswer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': HUB_USER_AGENT,
        ...headers,
      },
      body,
      redirect: 'error',
      signal: signal
        ? AbortSignal.any([signal, AbortSignal.timeout(DELIVERY_TIMEOUT_MS)])
        : AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    throw new DeliveryError(`${what}: cannot reach the destination${code ? ` (${code})` : ''}`, {
      cause: (err as { cause?: unknown }).cause ?? err,
    });
  }
  const text = await head(res, 4096);
  if (res.status < 200 || res.status > 299)
    throw new DeliveryError(`${what}: HTTP ${res.status}${snippet(text)}`, {
      cause: { status: res.status },
    });
  return { status: res.status, body: text };
}

/**
 * The first `max` bytes of `res`'s body as text; the rest is not read (a destination's answer
 * may be endless). '' when the body cannot be read.
 */
async function head(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
    }
  } catch {
    // What came before the error is still worth showing.
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(parts).subarray(0, max).toString('utf8');
}

/** The first line of an error body, short and printable, for the delivery log. */
function snippet(text: string): string {
  const line = text
    .split('\n')[0]!
    .replace(/[^\x20-\x7e]/g, '')
    .slice(0, 200);
  return line ? `: ${line}` : '';
}

/** `text` cut to at most `max` characters (code points never split), marked with an ellipsis. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return chars.slice(0, Math.max(0, max - 1)).join('') + '…';
}
