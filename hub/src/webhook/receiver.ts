import type { IncomingMessage } from 'node:http';
import { errorMessage, systemClock, type Clock, type Logger } from '@driftless/common';
import { HubMessage } from '@driftless/proto';
import { trace } from '@opentelemetry/api';
import type { RequestContext, Route } from '../api/index.ts';
import { peerAddress } from '../enroll/index.ts';
import type { Session, SessionRegistry } from '../link/index.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import {
  isWebhookError,
  WebhookDisabledError,
  WebhookTooLargeError,
  type WebhookError,
} from './errors.ts';
import { classifyDelivery, followsPush, parseBody, type PushEvent } from './payload.ts';
import { identifyDelivery, verifyDelivery, type WebhookProvider } from './verify.ts';

/** Where Git servers deliver push webhooks. */
export const WEBHOOK_PATH = '/api/v1/webhooks/git';

/** Largest body accepted by default. GitHub push payloads list at most 20 commits in full. */
export const DEFAULT_WEBHOOK_MAX_BODY_BYTES = 4 << 20;

/** Options of {@link webhookRoute}. */
export interface WebhookOptions {
  /**
   * The shared secret every delivery must prove it knows; '' disables the
   * receiver (it then answers 404), since an unauthenticated receiver would
   * let anyone make every agent poll Git.
   */
  secret: string;
  sessions: SessionRegistry;
  store: Store;
  metrics: HubMetrics;
  log: Logger;
  /** Largest body accepted, bytes. Default {@link DEFAULT_WEBHOOK_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /**
   * Hands an accepted push to the other hub replicas (NATS fan-out), whose gRPC-linked agents
   * this replica cannot reach. Default: none (a single hub).
   */
  relay?: (push: PushEvent) => void;
  clock?: Clock;
}

/** The receiver's answer to an authenticated delivery. */
export interface WebhookAnswer {
  /** How many connected agents were sent a RefreshHint. */
  matched: number;
  /** Why nothing was done, for events that do not move a branch. */
  ignored?: string;
}

/** Reads the body, refusing more than `max` bytes without buffering it. */
async function readRaw(req: IncomingMessage, max: number, what: string): Promise<Buffer> {
  const tooLarge = () => new WebhookTooLargeError(`${what}: body is larger than ${max} bytes`);
  // Refuse before reading when the sender says up front that it is too large.
  if (Number(req.headers['content-length'] ?? 0) > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  // destroyOnReturn false: leaving the loop early must not destroy the socket the answer needs.
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The Git webhook receiver, `POST /api/v1/webhooks/git`: authenticates a
 * GitHub, GitLab or Gitea/Forgejo push by the shared secret (not by an API
 * token: a Git server has none), and sends a RefreshHint{repo_url, revision}
 * down the stream of every agent connected to this hub whose Hello named the
 * pushed repository and branch. The hint is a hint only (seq 0, not stored):
 * an agent that misses it finds the commit at its next poll.
 */
export function webhookRoute(o: WebhookOptions): Route {
  const clock = o.clock ?? systemClock;
  const max = o.maxBodyBytes ?? DEFAULT_WEBHOOK_MAX_BODY_BYTES;
  return {
    method: 'POST',
    pattern: WEBHOOK_PATH,
    // Public to the API-token check: the webhook secret is this endpoint's authentication.
    role: null,
    handler: async (ctx) => {
      let provider: WebhookProvider | 'unknown' = 'unknown';
      try {
        if (!o.secret)
          throw new WebhookDisabledError(
            `POST ${WEBHOOK_PATH}: the Git webhook receiver is off; start the hub with --webhook-secret or --webhook-secret-file`,
          );
        const delivery = identifyDelivery(ctx.req.headers);
        provider = delivery.provider;
        const what = `${provider} ${delivery.event.slice(0, 64)} delivery`;
        const body = await readRaw(ctx.req, max, what);
        // Authenticate before looking inside: nothing an outsider sends is parsed.
        verifyDelivery(provider, ctx.req.headers, body, o.secret);
        const payload = parseBody(body, ctx.req.headers['content-type'] ?? '', what);
        const kind = classifyDelivery(delivery, payload);
        if (kind.kind === 'ignored') {
          o.metrics.webhookDeliveries.inc({ provider, result: 'ignored' });
          o.log.info(
            { provider, event: delivery.event, delivery: delivery.deliveryId, reason: kind.reason },
            'git webhook delivery ignored',
          );
          return {
            status: 200,
            body: { matched: 0, ignored: kind.reason } satisfies WebhookAnswer,
          };
        }
        const clusters = hintAgents(o.sessions, kind.push);
        o.relay?.(kind.push);
        await o.store.audit(
          {
            actor: `git webhook (${provider})`,
            action: 'webhook.push',
            target: `repository/${kind.push.repoUrl}`,
            details: {
              branch: kind.push.branch,
              revision: kind.push.revision,
              delivery: delivery.deliveryId,
              hinted: clusters,
            },
          },
          clock.now(),
        );
        o.metrics.webhookDeliveries.inc({ provider, result: 'accepted' });
        trace.getActiveSpan()?.setAttributes({
          'driftless.webhook.provider': provider,
          'driftless.revision': kind.push.revision,
          'driftless.webhook.matched': clusters.length,
        });
        o.log.info(
          {
            provider,
            delivery: delivery.deliveryId,
            repo: kind.push.repoUrl,
            branch: kind.push.branch,
            revision: kind.push.revision,
            hinted: clusters,
          },
          'git push: refresh hints sent',
        );
        return { status: 202, body: { matched: clusters.length } satisfies WebhookAnswer };
      } catch (err) {
        if (!isWebhookError(err)) throw err;
        return refuse(ctx, o, provider, err);
      }
    },
  };
}

/**
 * Sends the RefreshHint to each matching agent connected to this hub (those `only` accepts,
 * default all); returns the clusters it reached.
 */
export function hintAgents(
  sessions: SessionRegistry,
  push: PushEvent,
  only: (session: Session) => boolean = () => true,
): string[] {
  const hinted: string[] = [];
  for (const session of sessions.list()) {
    if (!only(session)) continue;
    if (!session.follows || !followsPush(session.follows, push)) continue;
    const sent = session.send(
      HubMessage.create({
        seq: 0n,
        body: {
          $case: 'refreshHint',
          // The URL exactly as the agent sent it, so the agent can compare it byte for byte.
          value: { repoUrl: session.follows.repoUrl, revision: push.revision },
        },
      }),
    );
    if (sent) hinted.push(session.cluster);
  }
  return hinted.sort();
}

/** Answers a refused delivery: counted, logged without secrets, JSON error like the API's. */
function refuse(
  ctx: RequestContext,
  o: WebhookOptions,
  provider: WebhookProvider | 'unknown',
  err: WebhookError,
): { status: number; body: unknown } {
  o.metrics.webhookDeliveries.inc({ provider, result: err.result });
  const peer = peerAddress(ctx.req.socket.remoteAddress ?? 'unknown');
  o.log.warn({ provider, peer, reason: errorMessage(err) }, 'git webhook delivery refused');
  // A refused body may still be streaming in (e.g. a 413 decided from Content-Length): read
  // and drop the rest so the sender gets the answer instead of a broken pipe. The server's
  // request timeout bounds how long a sender can keep that up.
  if (!ctx.req.complete) ctx.req.resume();
  return { status: err.status, body: { error: { status: err.status, message: err.message } } };
}
