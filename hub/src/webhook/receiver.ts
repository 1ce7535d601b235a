import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorMessage, systemClock, type Clock, type Logger } from '@driftless/common';
import { HubMessage } from '@driftless/proto';
import { trace } from '@opentelemetry/api';
import { drain, sendError, type ApiApp } from '../api/index.ts';
import type { Session, SessionRegistry } from '../link/index.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import {
  isWebhookError,
  WebhookDisabledError,
  WebhookTooLargeError,
  type WebhookError,
} from './errors.ts';
import { DELIVERY_LOG_DEFAULTS, DeliveryLog } from './replay.ts';
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
  /** How long a delivery id is remembered to refuse replays, ms. Default 1 h. */
  replayWindowMs?: number;
  /**
   * Hands an accepted push to the other hub replicas (NATS fan-out), whose gRPC-linked agents
   * this replica cannot reach. Default: none (a single hub).
   */
  relay?: (push: PushEvent) => void;
  clock?: Clock;
}

/** Defaults of {@link WebhookOptions}. */
export const WEBHOOK_DEFAULTS = {
  maxBodyBytes: DEFAULT_WEBHOOK_MAX_BODY_BYTES,
  replayWindowMs: DELIVERY_LOG_DEFAULTS.windowMs,
  clock: systemClock,
};

/** The receiver's answer to an authenticated delivery. */
export interface WebhookAnswer {
  /** How many connected agents were sent a RefreshHint. */
  matched: number;
  /** Why nothing was done, for events that do not move a branch. */
  ignored?: string;
}

/**
 * The keys a delivery is remembered by: its signed body's hash, and the provider's delivery id
 * when it sends one. The id is not signed (anyone replaying a captured delivery can change it),
 * so the body is what recognises a replay; the id also catches a redelivery the Git server
 * re-signed with a changed body.
 */
function deliveryKeys(provider: WebhookProvider, deliveryId: string, body: Buffer): string[] {
  const hash = `${provider}:sha256:${createHash('sha256').update(body).digest('hex')}`;
  return deliveryId ? [hash, `${provider}:id:${deliveryId}`] : [hash];
}

/**
 * The Git webhook receiver, `POST /api/v1/webhooks/git`: authenticates a
 * GitHub, GitLab or Gitea/Forgejo push by the shared secret (not by an API
 * token: a Git server has none), and sends a RefreshHint{repo_url, revision}
 * down the stream of every agent connected to this hub whose Hello named the
 * pushed repository and branch. The hint is a hint only (seq 0, not stored):
 * an agent that misses it finds the commit at its next poll. A delivery seen
 * within the replay window (same signed body, or same delivery id) is answered but
 * not acted on again.
 */
export function webhookRoutes(options: WebhookOptions) {
  const o = { ...WEBHOOK_DEFAULTS, ...options };
  const delivered = new DeliveryLog({ windowMs: o.replayWindowMs, clock: o.clock });

  /** Handles one delivery whose body arrived whole; refusals are thrown as WebhookErrors. */
  async function receive(req: FastifyRequest<{ Body: Buffer }>): Promise<WebhookAnswer> {
    if (!o.secret)
      throw new WebhookDisabledError(
        `POST ${WEBHOOK_PATH}: the Git webhook receiver is off; start the hub with --webhook-secret or --webhook-secret-file`,
      );
    const delivery = identifyDelivery(req.headers);
    const { provider } = delivery;
    const what = `${provider} ${delivery.event.slice(0, 64)} delivery`;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // Authenticate before looking inside: nothing an outsider sends is parsed.
    verifyDelivery(provider, req.headers, body, o.secret);
    const keys = deliveryKeys(provider, delivery.deliveryId.slice(0, 128), body);
    if (keys.some((k) => delivered.has(k))) {
      o.metrics.webhookDeliveries.inc({ provider, result: 'duplicate' });
      o.log.info({ provider, delivery: delivery.deliveryId }, 'git webhook delivery replayed');
      return {
        matched: 0,
        ignored: `delivery ${delivery.deliveryId || '(no id)'}: already handled (the same signed body or delivery id came before)`,
      };
    }
    const payload = parseBody(body, req.headers['content-type'] ?? '', what);
    const kind = classifyDelivery(delivery, payload);
    if (kind.kind === 'ignored') {
      for (const k of keys) delivered.record(k);
      o.metrics.webhookDeliveries.inc({ provider, result: 'ignored' });
      o.log.info(
        { provider, event: delivery.event, delivery: delivery.deliveryId, reason: kind.reason },
        'git webhook delivery ignored',
      );
      return { matched: 0, ignored: kind.reason };
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
      o.clock.now(),
    );
    for (const k of keys) delivered.record(k);
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
    return { matched: clusters.length };
  }

  /** Answers a refused delivery: counted, logged without secrets, JSON error like the API's. */
  function refuse(req: FastifyRequest, reply: FastifyReply, err: WebhookError): FastifyReply {
    let provider = 'unknown';
    try {
      provider = identifyDelivery(req.headers).provider;
    } catch {
      // No provider headers: counted as unknown.
    }
    o.metrics.webhookDeliveries.inc({ provider, result: err.result });
    o.log.warn(
      { provider, peer: req.ip, reason: errorMessage(err) },
      'git webhook delivery refused',
    );
    if (!req.raw.complete) drain(req, reply);
    return reply.code(err.status).send({ error: { status: err.status, message: err.message } });
  }

  const Answer = Type.Object({ matched: Type.Integer(), ignored: Type.Optional(Type.String()) });
  return async (app: ApiApp): Promise<void> => {
    await app.register(async (scope) => {
      // The signature covers the exact bytes: take every body raw, whatever its type.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) =>
        done(null, body),
      );
      scope.setErrorHandler((err, req, reply) => {
        if (isWebhookError(err)) return refuse(req, reply, err);
        if ((err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE')
          return refuse(
            req,
            reply,
            new WebhookTooLargeError(
              `webhook delivery: body is larger than ${o.maxBodyBytes} bytes`,
            ),
          );
        return sendError(err, req, reply, o.log);
      });
      scope.post(
        WEBHOOK_PATH,
        {
          bodyLimit: o.maxBodyBytes,
          // Public to the API-token check: the webhook secret is this endpoint's authentication.
          config: { role: null },
          schema: {
            summary: 'Git webhook delivery',
            description:
              'A push webhook from GitHub, GitLab or Gitea/Forgejo, authenticated by the webhook secret (see docs/api.md).',
            tags: ['webhook'],
            response: { 200: Answer, 202: Answer },
          },
        },
        async (req: FastifyRequest<{ Body: Buffer }>, reply) => {
          const answer = await receive(req);
          return reply.code(answer.ignored === undefined ? 202 : 200).send(answer);
        },
      );
    });
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
