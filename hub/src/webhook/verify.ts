import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { WebhookPayloadError, WebhookSignatureError } from './errors.ts';

/** The Git servers whose webhooks the receiver understands. Forgejo and Gogs count as gitea. */
export type WebhookProvider = 'github' | 'gitlab' | 'gitea';

/** Who sent a delivery and what it is about, from its headers alone. */
export interface DeliveryHeaders {
  provider: WebhookProvider;
  /** The provider's event name: `push`, `ping`, `Push Hook`, `Tag Push Hook`, ... */
  event: string;
  /** The provider's delivery id (for logs), or '' when it sends none. */
  deliveryId: string;
}

const header = (h: IncomingHttpHeaders, name: string): string => {
  const v = h[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};

/**
 * Tells the provider from the event header. Gitea and Forgejo are checked
 * first: for compatibility they also send GitHub's headers (`X-GitHub-Event`,
 * `X-Hub-Signature-256`), and their own name makes a better metric label.
 */
export function identifyDelivery(h: IncomingHttpHeaders): DeliveryHeaders {
  for (const p of ['forgejo', 'gitea', 'gogs']) {
    const event = header(h, `x-${p}-event`);
    if (event) return { provider: 'gitea', event, deliveryId: header(h, `x-${p}-delivery`) };
  }
  const gitlab = header(h, 'x-gitlab-event');
  if (gitlab)
    return {
      provider: 'gitlab',
      event: gitlab,
      deliveryId: header(h, 'x-gitlab-event-uuid') || header(h, 'x-gitlab-webhook-uuid'),
    };
  const github = header(h, 'x-github-event');
  if (github)
    return { provider: 'github', event: github, deliveryId: header(h, 'x-github-delivery') };
  throw new WebhookPayloadError(
    'webhook delivery: no X-GitHub-Event, X-Gitlab-Event or X-Gitea-Event header; is this a Git server webhook?',
  );
}

/**
 * Compares two secrets (or signatures) in constant time. Both are hashed
 * first, so neither their content nor their length shows in the timing.
 */
export function sameSecret(a: string | Buffer, b: string | Buffer): boolean {
  const digest = (v: string | Buffer) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(a), digest(b));
}

const hmacHex = (secret: string, body: Buffer) =>
  createHmac('sha256', secret).update(body).digest('hex');

/**
 * Checks that the delivery came from a Git server that knows `secret`:
 * - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`;
 * - GitLab: `X-Gitlab-Token: <the secret itself>` (GitLab signs nothing);
 * - Gitea/Forgejo: `X-Gitea-Signature` (or `X-Forgejo-Signature`): the hex HMAC-SHA256.
 * Throws {@link WebhookSignatureError}, with a message that says only that it failed.
 */
export function verifyDelivery(
  provider: WebhookProvider,
  h: IncomingHttpHeaders,
  body: Buffer,
  secret: string,
): void {
  let ok: boolean;
  switch (provider) {
    case 'github': {
      const given = header(h, 'x-hub-signature-256');
      ok = sameSecret(given, `sha256=${hmacHex(secret, body)}`);
      break;
    }
    case 'gitlab':
      ok = sameSecret(header(h, 'x-gitlab-token'), secret);
      break;
    case 'gitea': {
      const given =
        header(h, 'x-forgejo-signature') ||
        header(h, 'x-gitea-signature') ||
        header(h, 'x-gogs-signature');
      // Hex case is not part of the secret; GitHub-style `sha256=` prefixes are not sent here.
      ok = sameSecret(given.toLowerCase(), hmacHex(secret, body));
      break;
    }
  }
  // An empty header would otherwise match nothing anyway; say nothing more about why.
  if (!ok) throw new WebhookSignatureError(`${provider} webhook delivery: signature is not valid`);
}
