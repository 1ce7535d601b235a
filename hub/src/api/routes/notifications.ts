import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import { errorMessage } from '@driftless/common';
import { InvalidArgumentError, NotFoundError } from '../../errors.ts';
import {
  checkDestinationUrls,
  DESTINATION_KINDS,
  NOTIFICATION_KINDS,
  SEVERITIES,
  sealDestination,
  secretSummary,
  type Notifier,
} from '../../notify/index.ts';
import { answerOf, OutboundGuard } from '../../outbound/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import {
  parseSelector,
  type DeliveryRecord,
  type DestinationRecord,
  type RuleRecord,
  type Store,
} from '../../store/index.ts';
import type { Clock } from '@driftless/common';
import { actorOf, allows } from '../auth.ts';
import { Limit, List, Name } from '../schemas.ts';
import { principalOf, type ApiApp } from '../types.ts';
import { iso } from '../views.ts';

/** What the notification routes need besides the store. */
export interface NotificationRouteDeps {
  store: Store;
  clock: Clock;
  secrets: SecretBox;
  notifier: Notifier;
  /** Checks destination URLs when they are set; default only public addresses. */
  guard?: OutboundGuard;
}

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const ANSWER_HELP =
  "what the destination answered (the first line of its body, or Slack's error code); admins only, '' for others";
const Str = (max: number) => Type.String({ maxLength: max });

/** A destination as the API shows it: settings, whether it has a secret and its host; never the secret. */
const DestinationView = Type.Object(
  {
    name: Type.String(),
    kind: Type.String(),
    config: Type.Record(Type.String(), Type.String()),
    hasSecret: Type.Boolean(),
    host: Type.String({ description: 'host of the destination URL (the URL itself is secret)' }),
    createdAt: Time,
    createdBy: Type.String(),
  },
  { title: 'NotificationDestination' },
);

const RuleView = Type.Object(
  {
    id: Type.String(),
    destination: Type.String(),
    events: Type.Array(Type.String()),
    selector: Type.String(),
    apps: Type.Array(Type.String()),
    minSeverity: Type.String(),
    rateLimit: Type.Object({ max: Type.Integer(), windowSeconds: Type.Integer() }),
    createdAt: Time,
    createdBy: Type.String(),
  },
  { title: 'NotificationRule' },
);

const DeliveryView = Type.Object(
  {
    id: Type.Integer(),
    rule: Type.String(),
    destination: Type.String(),
    status: Type.String({ description: 'pending, sent, failed or held' }),
    kind: Type.String(),
    title: Type.String(),
    cluster: Type.String(),
    app: Type.String(),
    attempts: Type.Array(
      Type.Object({
        at: Time,
        outcome: Type.String(),
        error: Type.String(),
        answer: Type.String({ description: ANSWER_HELP }),
      }),
    ),
    nextAttemptAt: Time,
    lastError: Type.String(),
    lastAnswer: Type.String({ description: ANSWER_HELP }),
    summaryId: Type.Integer({ description: 'for a held delivery, the summary that reported it' }),
    createdAt: Time,
    updatedAt: Time,
  },
  { title: 'NotificationDelivery' },
);

const CreateDestination = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 63 }),
  kind: Type.Enum([...DESTINATION_KINDS]),
  config: Type.Optional(Type.Record(Type.String({ maxLength: 40 }), Str(4096))),
  secret: Type.Optional(Type.Record(Type.String({ maxLength: 40 }), Str(4096))),
});

const CreateRule = Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  destination: Name,
  events: Type.Optional(Type.Array(Type.Enum([...NOTIFICATION_KINDS]), { maxItems: 50 })),
  selector: Type.Optional(Str(1024)),
  apps: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 200 })),
  minSeverity: Type.Optional(Type.Enum([...SEVERITIES])),
  rateLimit: Type.Optional(
    Type.Object({
      max: Type.Integer({ minimum: 0, maximum: 100_000 }),
      windowSeconds: Type.Integer({ minimum: 1, maximum: 7 * 86_400 }),
    }),
  ),
});

/** A rule's default rate limit: 20 messages per 10 minutes. */
export const DEFAULT_RATE_LIMIT = { max: 20, windowSeconds: 600 };

const ruleView = (r: RuleRecord) => ({
  id: r.id,
  destination: r.destination,
  events: r.events,
  selector: r.selector,
  apps: r.apps,
  minSeverity: r.minSeverity,
  rateLimit: { max: r.rateLimitMax, windowSeconds: Math.round(r.rateLimitWindowMs / 1000) },
  createdAt: iso(r.createdMs),
  createdBy: r.createdBy,
});

/** A string field of a stored event; '' when missing or not a string. */
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * A delivery as the API shows it to `admin`s or others. What the destination answered is
 * stored apart from the error and shown to admins only: a destination may point at an address
 * only the hub reaches, and the delivery log must not let a viewer read what it serves.
 */
export const deliveryView = (d: DeliveryRecord, admin: boolean) => ({
  id: d.id,
  rule: d.ruleId,
  destination: d.destination,
  status: d.status,
  kind: text(d.event['kind']),
  title: text(d.event['title']),
  cluster: text(d.event['cluster']),
  app: text(d.event['app']),
  attempts: d.attempts.map((a) => ({
    at: iso(a.atMs),
    outcome: a.outcome,
    error: a.error,
    answer: admin ? a.answer : '',
  })),
  nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptMs) : null,
  lastError: d.lastError,
  lastAnswer: admin ? d.lastAnswer : '',
  summaryId: d.summaryId,
  createdAt: iso(d.createdMs),
  updatedAt: iso(d.updatedMs),
});

/**
 * Notification destinations, rules and the delivery log (docs/api.md,
 * "Notifications"). Admins write; writes are audited in their transaction;
 * secrets go in and never come out.
 */
export function notificationRoutes(deps: NotificationRouteDeps) {
  const { store, clock, secrets, notifier } = deps;
  const guard = deps.guard ?? new OutboundGuard();
  const tags = ['Notifications'];
  const destinationView = (d: DestinationRecord) => ({
    name: d.name,
    kind: d.kind,
    config: d.config,
    ...secretSummary(d, secrets),
    createdAt: iso(d.createdMs),
    createdBy: d.createdBy,
  });
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/notifications/destinations',
      {
        config: { role: 'viewer' },
        schema: { summary: 'list destinations', tags, response: { 200: List(DestinationView) } },
      },
      async () => ({ items: (await store.listDestinations()).map(destinationView) }),
    );

    app.post(
      '/api/v1/notifications/destinations',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'create destination',
          tags,
          body: CreateDestination,
          response: { 201: DestinationView },
        },
      },
      async (req, reply) => {
        const actor = actorOf(principalOf(req));
        const record = sealDestination(req.body, secrets, {
          createdMs: clock.now(),
          createdBy: actor,
        });
        await checkDestinationUrls(guard, req.body);
        await store.createDestination(record, {
          actor,
          action: 'notify.destination.create',
          target: `notify-destination/${record.name}`,
          // Field names only: the values may be secret.
          details: {
            kind: record.kind,
            config: record.config,
            secretFields: Object.keys(req.body.secret ?? {}),
          },
        });
        return reply.code(201).send(destinationView(record));
      },
    );

    app.delete(
      '/api/v1/notifications/destinations/:name',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'delete destination and its rules',
          tags,
          params: Type.Object({ name: Name }),
        },
      },
      async (req, reply) => {
        const { name } = req.params;
        await store.deleteDestination(name, clock.now(), {
          actor: actorOf(principalOf(req)),
          action: 'notify.destination.delete',
          target: `notify-destination/${name}`,
        });
        return reply.code(204).send();
      },
    );

    app.post(
      '/api/v1/notifications/destinations/:name/test',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'send a test notification now',
          tags,
          params: Type.Object({ name: Name }),
          response: {
            200: Type.Object({
              sent: Type.Boolean(),
              error: Type.String(),
              answer: Type.String({ description: 'what the destination answered, if anything' }),
            }),
          },
        },
      },
      async (req) => {
        const { name } = req.params;
        const actor = actorOf(principalOf(req));
        if (!(await store.getDestination(name)))
          throw new NotFoundError(`destination ${name}: not found`);
        let error = '';
        let answer = '';
        try {
          await notifier.test(name, actor);
        } catch (err) {
          error = errorMessage(err).slice(0, 500);
          answer = answerOf(err);
        }
        await store.audit(
          {
            actor,
            action: 'notify.destination.test',
            target: `notify-destination/${name}`,
            details: { sent: !error },
          },
          clock.now(),
        );
        return { sent: !error, error, answer };
      },
    );

    app.get(
      '/api/v1/notifications/rules',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'list rules',
          tags,
          querystring: Type.Object({ destination: Type.Optional(Name) }),
          response: { 200: List(RuleView) },
        },
      },
      async (req) => ({
        items: (await store.listRules({ destination: req.query.destination })).map(ruleView),
      }),
    );

    app.post(
      '/api/v1/notifications/rules',
      {
        config: { role: 'admin' },
        schema: { summary: 'create rule', tags, body: CreateRule, response: { 201: RuleView } },
      },
      async (req, reply) => {
        const b = req.body;
        const actor = actorOf(principalOf(req));
        const id = b.id ?? `rule-${randomBytes(4).toString('hex')}`;
        if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(id))
          throw new InvalidArgumentError(
            `rule "${id.slice(0, 63)}": an id is lowercase letters, digits and dashes`,
          );
        // Refuse a bad selector now rather than match nothing later.
        parseSelector(b.selector);
        const limit = b.rateLimit ?? DEFAULT_RATE_LIMIT;
        const rule: RuleRecord = {
          id,
          destination: b.destination,
          events: [...new Set(b.events ?? [])],
          selector: b.selector?.trim() ?? '',
          apps: [...new Set(b.apps ?? [])],
          minSeverity: b.minSeverity ?? 'info',
          rateLimitMax: limit.max,
          rateLimitWindowMs: limit.windowSeconds * 1000,
          createdMs: clock.now(),
          createdBy: actor,
        };
        await store.createRule(rule, {
          actor,
          action: 'notify.rule.create',
          target: `notify-rule/${id}`,
          details: ruleView(rule),
        });
        return reply.code(201).send(ruleView(rule));
      },
    );

    app.delete(
      '/api/v1/notifications/rules/:id',
      {
        config: { role: 'admin' },
        schema: { summary: 'delete rule', tags, params: Type.Object({ id: Name }) },
      },
      async (req, reply) => {
        await store.deleteRule(req.params.id, clock.now(), {
          actor: actorOf(principalOf(req)),
          action: 'notify.rule.delete',
          target: `notify-rule/${req.params.id}`,
        });
        return reply.code(204).send();
      },
    );

    app.get(
      '/api/v1/notifications/deliveries',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'delivery log',
          tags,
          querystring: Type.Object({
            destination: Type.Optional(Name),
            rule: Type.Optional(Name),
            status: Type.Optional(Type.Enum(['pending', 'sent', 'failed', 'held'])),
            limit: Type.Optional(Limit(100)),
          }),
          response: { 200: List(DeliveryView) },
        },
      },
      async (req) => {
        const q = req.query;
        const items = await store.listDeliveries({
          destination: q.destination,
          ruleId: q.rule,
          status: q.status,
          limit: q.limit ?? 100,
        });
        const admin = allows(principalOf(req).role, 'admin');
        return { items: items.map((d) => deliveryView(d, admin)) };
      },
    );
  };
}
