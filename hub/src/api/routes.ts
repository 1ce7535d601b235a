import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { parseDuration, systemClock, type Clock, type Logger } from '@driftless/common';
import { HubMessage } from '@driftless/proto';
import { checkClusterName, checkLabels, mintToken } from '../enroll/index.ts';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import type { LinkServer, SessionRegistry } from '../link/index.ts';
import type { HubMetrics } from '../metrics.ts';
import { parseSelector, type Labels, type Role, type Store } from '../store/index.ts';
import { actorOf, ROLES } from './auth.ts';
import type { RequestContext, Route } from './router.ts';
import { serveEvents } from './sse.ts';
import {
  apiTokenView,
  appView,
  approvalView,
  auditView,
  clusterView,
  configView,
  driftView,
  enrollmentTokenView,
  syncView,
} from './views.ts';

/** What the endpoints need. */
export interface RouteDeps {
  store: Store;
  sessions: SessionRegistry;
  link: LinkServer;
  events: EventBus;
  metrics: HubMetrics;
  log: Logger;
  /** Longest enrollment token lifetime a person may ask for. */
  maxTokenTtlMs: number;
  clock?: Clock;
}

const MAX_LIMIT = 5000;

function str(body: Record<string, unknown>, key: string, what: string, required = true): string {
  const v = body[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new InvalidArgumentError(`${what}: field "${key}" is required`);
    return '';
  }
  if (typeof v !== 'string')
    throw new InvalidArgumentError(`${what}: field "${key}" must be a string`);
  if (v.length > 1024) throw new InvalidArgumentError(`${what}: field "${key}" is too long`);
  return v;
}

/** Labels as an object `{k: v}` or a string `k=v,k2=v2`. */
function labelsOf(v: unknown, what: string): Labels {
  if (v === undefined || v === null || v === '') return {};
  let labels: Labels = {};
  if (typeof v === 'string') {
    for (const part of v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const i = part.indexOf('=');
      if (i <= 0) throw new InvalidArgumentError(`${what}: label "${part}" is not key=value`);
      labels[part.slice(0, i).trim()] = part.slice(i + 1).trim();
    }
  } else if (typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (typeof val !== 'string')
        throw new InvalidArgumentError(`${what}: label "${k}" must have a string value`);
    }
    labels = v as Labels;
  } else {
    throw new InvalidArgumentError(`${what}: "labels" must be an object or "k=v,..." text`);
  }
  checkLabels(labels, what);
  return labels;
}

function limitOf(url: URL, dflt: number): number {
  const raw = url.searchParams.get('limit');
  if (raw === null) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT)
    throw new InvalidArgumentError(
      `query parameter limit=${raw.slice(0, 20)}: must be an integer from 1 to ${MAX_LIMIT}`,
    );
  return n;
}

const q = (url: URL, key: string) => url.searchParams.get(key) ?? undefined;

/** Every endpoint of the HTTP API (see docs/api.md). */
export function apiRoutes(deps: RouteDeps): Route[] {
  const { store, sessions, link, events, log } = deps;
  const clock = deps.clock ?? systemClock;
  const actor = (ctx: RequestContext) => actorOf(ctx.principal!);
  const clusterOr404 = async (name: string) => {
    const c = await store.getCluster(name);
    if (!c) throw new NotFoundError(`cluster ${name}: not found`);
    return c;
  };

  return [
    { method: 'GET', pattern: '/healthz', role: null, handler: async () => ({ status: 'ok' }) },
    {
      method: 'GET',
      pattern: '/readyz',
      role: null,
      handler: async () => {
        try {
          await store.ping();
          return { status: 'ready' };
        } catch (err) {
          return {
            status: 503,
            body: { status: 'not ready', reason: `store: ${(err as Error).message}` },
          };
        }
      },
    },
    {
      method: 'GET',
      pattern: '/metrics',
      role: null,
      handler: async () => ({
        status: 200,
        body: await deps.metrics.registry.metrics(),
        contentType: deps.metrics.registry.contentType,
      }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/whoami',
      role: 'viewer',
      handler: async (ctx) => ctx.principal,
    },

    // Clusters and their state.
    {
      method: 'GET',
      pattern: '/api/v1/clusters',
      role: 'viewer',
      handler: async (ctx) => {
        const configs = new Map((await store.listConfigStates({})).map((c) => [c.cluster, c]));
        return {
          items: (await store.listClusters(parseSelector(q(ctx.url, 'selector')))).map((c) => ({
            ...clusterView(c),
            config: configView(configs.get(c.name)),
          })),
        };
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/clusters/:name',
      role: 'viewer',
      handler: async (ctx) => {
        const c = await clusterOr404(ctx.params['name']!);
        const apps = await store.listApps({ cluster: c.name });
        const [config] = await store.listConfigStates({ cluster: c.name });
        return { ...clusterView(c), config: configView(config), apps: apps.map(appView) };
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/clusters/:name/revoke',
      role: 'admin',
      handler: async (ctx) => {
        const name = ctx.params['name']!;
        const c = await clusterOr404(name);
        if (c.revokedMs !== 0) throw new ConflictError(`cluster ${name}: already revoked`);
        await store.revokeCluster(name, clock.now(), {
          actor: actor(ctx),
          action: 'cluster.revoke',
          target: `cluster/${name}`,
        });
        // Close the stream now rather than at the next reconnect.
        const closed = sessions.close(
          name,
          grpc.status.PERMISSION_DENIED,
          `cluster ${name} was revoked by an administrator`,
        );
        events.publish({ type: 'cluster.revoked', cluster: name });
        log.info({ cluster: name, by: actor(ctx), streamClosed: closed }, 'cluster revoked');
        return clusterView((await store.getCluster(name))!);
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/clusters/:name/sync',
      role: 'operator',
      handler: async (ctx) => {
        const name = ctx.params['name']!;
        const body = await ctx.body();
        const app = str(body, 'app', `sync-now cluster ${name}`, false);
        await clusterOr404(name);
        const session = sessions.get(name);
        if (!session)
          throw new ConflictError(`sync-now cluster ${name}: the cluster is not connected`);
        await store.audit(
          {
            actor: actor(ctx),
            action: 'cluster.sync',
            target: `cluster/${name}`,
            details: { app },
          },
          clock.now(),
        );
        session.send(HubMessage.create({ seq: 0n, body: { $case: 'syncNow', value: { app } } }));
        return { status: 202, body: { cluster: name, app, sent: true } };
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/clusters/:name/refresh',
      role: 'operator',
      handler: async (ctx) => {
        const name = ctx.params['name']!;
        const what = `refresh cluster ${name}`;
        const body = await ctx.body();
        const repoUrl = str(body, 'repoUrl', what, false);
        const revision = str(body, 'revision', what, false);
        await clusterOr404(name);
        const session = sessions.get(name);
        if (!session) throw new ConflictError(`${what}: the cluster is not connected`);
        await store.audit(
          {
            actor: actor(ctx),
            action: 'cluster.refresh',
            target: `cluster/${name}`,
            details: { repoUrl, revision },
          },
          clock.now(),
        );
        session.send(
          HubMessage.create({
            seq: 0n,
            body: { $case: 'refreshHint', value: { repoUrl, revision } },
          }),
        );
        return { status: 202, body: { cluster: name, sent: true } };
      },
    },

    // Fleet-wide views.
    {
      method: 'GET',
      pattern: '/api/v1/apps',
      role: 'viewer',
      handler: async (ctx) => ({
        items: (
          await store.listApps({
            cluster: q(ctx.url, 'cluster'),
            selector: parseSelector(q(ctx.url, 'selector')),
          })
        ).map(appView),
      }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/drift',
      role: 'viewer',
      handler: async (ctx) => {
        const state = q(ctx.url, 'state') ?? 'open';
        if (!['open', 'healed', 'all'].includes(state))
          throw new InvalidArgumentError(
            `query parameter state=${state.slice(0, 20)}: must be open, healed or all`,
          );
        const items = await store.listDrift({
          selector: parseSelector(q(ctx.url, 'selector')),
          cluster: q(ctx.url, 'cluster'),
          app: q(ctx.url, 'app'),
          open: state === 'all' ? undefined : state === 'open',
          limit: limitOf(ctx.url, 500),
        });
        return { items: items.map(driftView) };
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/history',
      role: 'viewer',
      handler: async (ctx) => ({
        items: (
          await store.listHistory({
            selector: parseSelector(q(ctx.url, 'selector')),
            cluster: q(ctx.url, 'cluster'),
            app: q(ctx.url, 'app'),
            limit: limitOf(ctx.url, 100),
          })
        ).map(syncView),
      }),
    },

    // Enrollment tokens.
    {
      method: 'GET',
      pattern: '/api/v1/tokens',
      role: 'admin',
      handler: async () => {
        const now = clock.now();
        return {
          items: (await store.listEnrollmentTokens()).map((t) => enrollmentTokenView(t, now)),
        };
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/tokens',
      role: 'admin',
      handler: async (ctx) => {
        const body = await ctx.body();
        const what = 'create enrollment token';
        const cluster = str(body, 'cluster', what);
        checkClusterName(cluster);
        const labels = labelsOf(body['labels'], what);
        let ttlMs = 3_600_000;
        if (body['ttl'] !== undefined) {
          try {
            ttlMs =
              typeof body['ttl'] === 'number'
                ? body['ttl']
                : parseDuration(typeof body['ttl'] === 'string' ? body['ttl'] : '?');
          } catch (err) {
            throw new InvalidArgumentError(`${what}: ttl: ${(err as Error).message}`);
          }
        }
        if (!(ttlMs > 0) || ttlMs > deps.maxTokenTtlMs)
          throw new InvalidArgumentError(
            `${what}: ttl must be above 0 and at most ${Math.round(deps.maxTokenTtlMs / 3_600_000)}h`,
          );
        const uses = body['uses'] ?? 1;
        if (typeof uses !== 'number' || !Number.isInteger(uses) || uses < 1 || uses > 1000)
          throw new InvalidArgumentError(`${what}: uses must be an integer from 1 to 1000`);
        const t = mintToken('enrollment');
        const now = clock.now();
        const record = {
          id: t.id,
          secretHash: t.secretHash,
          cluster,
          labels,
          createdMs: now,
          createdBy: actor(ctx),
          expiresMs: now + ttlMs,
          maxUses: uses,
          uses: 0,
          revokedMs: 0,
          lastUsedMs: 0,
        };
        await store.createEnrollmentToken(record, {
          actor: actor(ctx),
          action: 'token.create',
          target: `token/${t.id}`,
          details: { cluster, labels, ttlMs, uses },
        });
        events.publish({ type: 'token.created', cluster, data: { id: t.id } });
        // The only time the secret leaves the hub.
        return { status: 201, body: { ...enrollmentTokenView(record, now), token: t.text } };
      },
    },
    ...(['POST', 'DELETE'] as const).map((method): Route => ({
      method,
      pattern: method === 'POST' ? '/api/v1/tokens/:id/revoke' : '/api/v1/tokens/:id',
      role: 'admin',
      handler: async (ctx) => {
        const id = ctx.params['id']!;
        await store.revokeEnrollmentToken(id, clock.now(), {
          actor: actor(ctx),
          action: 'token.revoke',
          target: `token/${id}`,
        });
        events.publish({ type: 'token.revoked', data: { id } });
        const t = await store.getEnrollmentToken(id);
        return enrollmentTokenView(t!, clock.now());
      },
    })),

    // Approvals.
    {
      method: 'GET',
      pattern: '/api/v1/approvals',
      role: 'viewer',
      handler: async (ctx) => {
        const pending = q(ctx.url, 'pending');
        if (pending !== undefined && pending !== 'true' && pending !== 'false')
          throw new InvalidArgumentError(
            `query parameter pending=${pending.slice(0, 20)}: must be true or false`,
          );
        return {
          items: (
            await store.listApprovals({
              cluster: q(ctx.url, 'cluster'),
              pending: pending === 'true',
            })
          ).map(approvalView),
        };
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/approvals',
      role: 'approver',
      handler: async (ctx) => {
        const body = await ctx.body();
        const what = 'create approval';
        const cluster = str(body, 'cluster', what);
        const app = str(body, 'app', what);
        const revision = str(body, 'revision', what);
        const planDigest = str(body, 'planDigest', what);
        if (!/^[0-9a-f]{7,64}$/.test(revision))
          throw new InvalidArgumentError(
            `${what}: revision "${revision.slice(0, 70)}" is not a hex commit SHA`,
          );
        await clusterOr404(cluster);
        const apps = await store.listApps({ cluster });
        if (!apps.some((a) => a.app === app))
          throw new NotFoundError(`${what}: app ${app} of cluster ${cluster}: not found`);
        const approval = await store.createApproval(
          {
            id: `ap_${randomUUID()}`,
            cluster,
            app,
            revision,
            planDigest,
            approvedBy: ctx.principal!.name,
            approvedMs: clock.now(),
          },
          {
            actor: actor(ctx),
            action: 'approval.create',
            target: `cluster/${cluster}/app/${app}`,
            details: { revision, planDigest },
          },
        );
        events.publish({
          type: 'approval.created',
          cluster,
          app,
          data: { id: approval.id, revision, planDigest },
        });
        // Cheap to deliver now if the agent is connected; otherwise it goes out after its next Hello.
        const session = sessions.get(cluster);
        if (session && link.deliverApprovals(session, [approval]) === 1) {
          await store.markDelivered([approval.id], clock.now());
          approval.deliveredMs = clock.now();
          events.publish({ type: 'approval.delivered', cluster, app, data: { id: approval.id } });
        }
        return { status: 201, body: approvalView(approval) };
      },
    },

    // API tokens and the audit log.
    {
      method: 'GET',
      pattern: '/api/v1/api-tokens',
      role: 'admin',
      handler: async () => ({ items: (await store.listApiTokens()).map(apiTokenView) }),
    },
    {
      method: 'POST',
      pattern: '/api/v1/api-tokens',
      role: 'admin',
      handler: async (ctx) => {
        const body = await ctx.body();
        const what = 'create API token';
        const name = str(body, 'name', what);
        const role = str(body, 'role', what) as Role;
        if (!ROLES.includes(role))
          throw new InvalidArgumentError(
            `${what}: role "${role.slice(0, 30)}" must be one of ${ROLES.join(', ')}`,
          );
        const t = mintToken('api');
        const record = {
          id: t.id,
          secretHash: t.secretHash,
          name,
          role,
          createdMs: clock.now(),
          createdBy: actor(ctx),
          revokedMs: 0,
        };
        await store.createApiToken(record, {
          actor: actor(ctx),
          action: 'api-token.create',
          target: `api-token/${t.id}`,
          details: { name, role },
        });
        return { status: 201, body: { ...apiTokenView(record), token: t.text } };
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/api-tokens/:id/revoke',
      role: 'admin',
      handler: async (ctx) => {
        const id = ctx.params['id']!;
        await store.revokeApiToken(id, clock.now(), {
          actor: actor(ctx),
          action: 'api-token.revoke',
          target: `api-token/${id}`,
        });
        return apiTokenView((await store.getApiToken(id))!);
      },
    },
    {
      method: 'GET',
      pattern: '/api/v1/audit',
      role: 'admin',
      handler: async (ctx) => ({
        items: (
          await store.listAudit({ limit: limitOf(ctx.url, 200), actor: q(ctx.url, 'actor') })
        ).map(auditView),
      }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/events',
      role: 'viewer',
      handler: async (ctx) => {
        serveEvents(ctx, events);
        return { streamed: true };
      },
    },
  ];
}
