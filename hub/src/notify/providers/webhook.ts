import { createHmac } from 'node:crypto';
import type { NotificationEvent } from '../model.ts';
import type { OutboundGuard } from '../../outbound/index.ts';
import { postJson } from './http.ts';
import type { Provider } from './provider.ts';

/** Header with the signature: `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export const SIGNATURE_HEADER = 'X-Driftless-Signature';
/** Header with the send time in whole seconds since the epoch, covered by the signature. */
export const TIMESTAMP_HEADER = 'X-Driftless-Timestamp';

/** The signature header value of `body` sent at `timestamp` (seconds) with `key`. */
export function signWebhook(key: string, timestamp: number, body: string): string {
  return 'sha256=' + createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * The generic webhook: POSTs the {@link NotificationEvent} itself as JSON
 * (schema in docs/notifications.md) to secret `url` through `guard`, signed
 * with secret `hmacKey` when set. `now` gives the timestamp (injected clock).
 */
export function webhookProvider(guard: OutboundGuard, now: () => number): Provider {
  return {
    async send(e, d, signal) {
      const body = JSON.stringify(e satisfies NotificationEvent);
      const timestamp = Math.floor(now() / 1000);
      const headers: Record<string, string> = { [TIMESTAMP_HEADER]: String(timestamp) };
      if (d.secret['hmacKey'])
        headers[SIGNATURE_HEADER] = signWebhook(d.secret['hmacKey'], timestamp, body);
      await postJson(
        guard,
        `webhook destination ${d.name}`,
        d.secret['url'] ?? '',
        body,
        headers,
        signal,
      );
    },
  };
}
