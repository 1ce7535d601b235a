import * as grpc from '@grpc/grpc-js';
import { Type } from 'typebox';
import { HubMessage } from '@driftless/proto';
import { ConflictError } from '../../errors.ts';
import { parseSelector } from '../../store/index.ts';
import { actorOf } from '../auth.ts';
import {
  ClusterDetailView,
  ClusterView,
  MAX_LIMIT,
  Name,
  normaliseRevision,
  OptionalRevision,
  Selector,
  Text,
} from '../schemas.ts';
import { principalOf, type ApiApp } from '../types.ts';
import { appView, clusterView, configView } from '../views.ts';
import { clusterOr404, type RouteDeps } from './deps.ts';

const ByName = Type.Object({ name: Name });
const SyncNowBody = Type.Object({
  app: Type.Optional(Type.String({ maxLength: 253, description: 'one app; omit for every app' })),
});
const RefreshBody = Type.Object({
  repoUrl: Type.Optional(Text),
  revision: Type.Optional(OptionalRevision),
});
const Sent = Type.Object({
  cluster: Type.String(),
  app: Type.Optional(Type.String()),
  sent: Type.Boolean(),
});

/** Clusters: list, show (with apps), revoke, and the sync-now and refresh hints. */
export function clusterRoutes(deps: RouteDeps) {
  const { store, sessions, events, log, clock } = deps;
  const tags = ['clusters'];
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/clusters',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'list clusters',
          tags,
          querystring: Type.Object({
            selector: Selector,
            limit: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: MAX_LIMIT,
                description: 'clusters at most (a page); every cluster when absent',
              }),
            ),
            after: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 253,
                description: 'the `next` of the previous page: clusters named after this one',
              }),
            ),
          }),
          response: {
            200: Type.Object({
              items: Type.Array(ClusterView),
              next: Type.Optional(
                Type.String({ description: 'cursor of the next page; absent on the last one' }),
              ),
            }),
          },
        },
      },
      async (req) => {
        const { limit, after } = req.query;
        const clusters = await store.listClusters(parseSelector(req.query.selector), {
          after,
          limit,
        });
        const last = clusters.at(-1);
        // A page reads the config states of its own name range only, not the whole fleet's.
        const states =
          limit === undefined
            ? await store.listConfigStates({})
            : last
              ? await store.listConfigStates({ names: { after: after ?? '', through: last.name } })
              : [];
        const configs = new Map(states.map((c) => [c.cluster, c]));
        // A full page may have more behind it; a short one is the last.
        const next =
          limit !== undefined && clusters.length === limit && last ? last.name : undefined;
        return {
          items: clusters.map((c) => ({
            ...clusterView(c),
            config: configView(configs.get(c.name)),
          })),
          ...(next ? { next } : {}),
        };
      },
    );

    app.get(
      '/api/v1/clusters/:name',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'show cluster',
          tags,
          params: ByName,
          response: { 200: ClusterDetailView },
        },
      },
      async (req) => {
        const c = await clusterOr404(store, req.params.name);
        const apps = await store.listApps({ cluster: c.name });
        const [config] = await store.listConfigStates({ cluster: c.name });
        return { ...clusterView(c), config: configView(config), apps: apps.map(appView) };
      },
    );

    app.post(
      '/api/v1/clusters/:name/revoke',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'revoke cluster',
          tags,
          params: ByName,
          response: { 200: ClusterView },
        },
      },
      async (req) => {
        const { name } = req.params;
        const actor = actorOf(principalOf(req));
        const c = await clusterOr404(store, name);
        if (c.revokedMs !== 0) throw new ConflictError(`cluster ${name}: already revoked`);
        await store.revokeCluster(name, clock.now(), {
          actor,
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
        log.info({ cluster: name, by: actor, streamClosed: closed }, 'cluster revoked');
        return clusterView(await clusterOr404(store, name));
      },
    );

    app.post(
      '/api/v1/clusters/:name/allow-enrollment',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'allow a revoked cluster to enroll again',
          tags,
          params: ByName,
          response: { 200: ClusterView },
        },
      },
      async (req) => {
        const { name } = req.params;
        const actor = actorOf(principalOf(req));
        await store.allowEnrollment(name, clock.now(), {
          actor,
          action: 'cluster.allow-enrollment',
          target: `cluster/${name}`,
        });
        log.info({ cluster: name, by: actor }, 'enrollment of a revoked cluster allowed');
        return clusterView(await clusterOr404(store, name));
      },
    );

    app.post(
      '/api/v1/clusters/:name/sync',
      {
        config: { role: 'operator' },
        schema: {
          summary: 'sync now',
          tags,
          params: ByName,
          body: Type.Optional(SyncNowBody),
          response: { 202: Sent },
        },
      },
      async (req, reply) => {
        const { name } = req.params;
        const appName = req.body?.app ?? '';
        await clusterOr404(store, name);
        const session = sessions.get(name);
        if (!session)
          throw new ConflictError(`sync-now cluster ${name}: the cluster is not connected`);
        await store.audit(
          {
            actor: actorOf(principalOf(req)),
            action: 'cluster.sync',
            target: `cluster/${name}`,
            details: { app: appName },
          },
          clock.now(),
        );
        session.send(
          HubMessage.create({ seq: 0n, body: { $case: 'syncNow', value: { app: appName } } }),
        );
        return reply.code(202).send({ cluster: name, app: appName, sent: true });
      },
    );

    app.post(
      '/api/v1/clusters/:name/refresh',
      {
        config: { role: 'operator' },
        schema: {
          summary: 'refresh cluster',
          tags,
          params: ByName,
          body: Type.Optional(RefreshBody),
          response: { 202: Sent },
        },
      },
      async (req, reply) => {
        const { name } = req.params;
        const repoUrl = req.body?.repoUrl ?? '';
        const revision = normaliseRevision(req.body?.revision ?? '');
        await clusterOr404(store, name);
        const session = sessions.get(name);
        if (!session)
          throw new ConflictError(`refresh cluster ${name}: the cluster is not connected`);
        await store.audit(
          {
            actor: actorOf(principalOf(req)),
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
        return reply.code(202).send({ cluster: name, sent: true });
      },
    );
  };
}
