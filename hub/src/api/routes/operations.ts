import { Type } from 'typebox';
import { HubMessage } from '@driftless/proto';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { parseSelector, type ClusterRecord } from '../../store/index.ts';
import { actorOf } from '../auth.ts';
import { List, Name } from '../schemas.ts';
import { principalOf, type ApiApp } from '../types.ts';
import { clusterOr404, type RouteDeps } from './deps.ts';

/**
 * Operations people start on an app or on every cluster a selector matches: sync now and
 * refresh (re-read Git). Both are hints the hub sends down the agent's own stream; the hub
 * never touches a cluster. Every one is audited. (`/api/v1/clusters/NAME/sync` and
 * `/refresh` in clusters.ts cover one cluster.)
 */

const ByApp = Type.Object({ name: Name, app: Name });
const FleetBody = Type.Object({
  selector: Type.String({
    minLength: 1,
    maxLength: 1024,
    description: 'cluster label selector, e.g. env=staging (required: no fleet-wide by accident)',
  }),
  app: Type.Optional(Type.String({ maxLength: 253, description: 'one app; omit for every app' })),
});
const Sent = Type.Object({
  cluster: Type.String(),
  app: Type.String(),
  sent: Type.Boolean(),
  /** Why it was not sent (the cluster is not connected or revoked); '' when sent. */
  reason: Type.String(),
});

/** The two operations and their audit actions and link messages. */
type Operation = 'sync' | 'refresh';

/** App-scoped and selector-scoped sync and refresh. */
export function operationRoutes(deps: RouteDeps) {
  const { store, sessions, clock, log } = deps;
  const tags = ['operations'];

  /** Audits and sends `op` to `cluster` if it is connected to this hub; says why not otherwise. */
  const send = async (
    op: Operation,
    cluster: ClusterRecord,
    app: string,
    actor: string,
    details: Record<string, unknown>,
  ): Promise<{ cluster: string; app: string; sent: boolean; reason: string }> => {
    const name = cluster.name;
    if (cluster.revokedMs !== 0) return { cluster: name, app, sent: false, reason: 'revoked' };
    const session = sessions.get(name);
    if (!session) return { cluster: name, app, sent: false, reason: 'not connected' };
    // Audited before it is sent: no hint goes out unrecorded.
    await store.audit(
      {
        actor,
        action: app ? `app.${op}` : `cluster.${op}`,
        target: app ? `cluster/${name}/app/${app}` : `cluster/${name}`,
        details: { ...details, app },
      },
      clock.now(),
    );
    const sent = session.send(
      op === 'sync'
        ? HubMessage.create({ seq: 0n, body: { $case: 'syncNow', value: { app } } })
        : HubMessage.create({
            seq: 0n,
            // The URL exactly as the agent sent it, as the webhook's hints carry it.
            body: {
              $case: 'refreshHint',
              value: { repoUrl: session.follows?.repoUrl ?? '', revision: '' },
            },
          }),
    );
    if (!sent) return { cluster: name, app, sent: false, reason: 'not connected' };
    log.info({ cluster: name, app: app || '(all)', by: actor, op }, `${op} sent to the agent`);
    return { cluster: name, app, sent: true, reason: '' };
  };

  return (api: ApiApp): void => {
    for (const op of ['sync', 'refresh'] as const) {
      api.post(
        `/api/v1/clusters/:name/apps/:app/${op}`,
        {
          config: { role: 'operator' },
          schema: {
            summary: op === 'sync' ? 'sync one app now' : 'refresh one app (re-read Git)',
            description:
              op === 'refresh'
                ? 'The agent re-reads its repository, which holds every app of the cluster, so the others are refreshed too.'
                : undefined,
            tags,
            params: ByApp,
            response: { 202: Sent },
          },
        },
        async (req, reply) => {
          const { name, app } = req.params;
          const cluster = await clusterOr404(store, name);
          const record = (await store.listApps({ cluster: name })).find((a) => a.app === app);
          if (!record || record.gone) throw new NotFoundError(`app ${name}/${app}: not found`);
          const result = await send(op, cluster, app, actorOf(principalOf(req)), {});
          if (!result.sent)
            throw new ConflictError(`${op} ${name}/${app}: the cluster is ${result.reason}`);
          return reply.code(202).send(result);
        },
      );

      api.post(
        `/api/v1/${op}`,
        {
          config: { role: 'operator' },
          schema: {
            summary: `${op} every cluster a selector matches`,
            description:
              'One hint per matching cluster that is connected; the answer lists every matching cluster with whether it was sent and, if not, why. 404 when no cluster matches.',
            tags,
            body: FleetBody,
            response: { 202: List(Sent) },
          },
        },
        async (req, reply) => {
          const { selector } = req.body;
          const app = req.body.app ?? '';
          const clusters = await store.listClusters(parseSelector(selector));
          if (clusters.length === 0)
            throw new NotFoundError(`${op}: no cluster matches ${selector}`);
          const actor = actorOf(principalOf(req));
          const items = [];
          for (const c of clusters) items.push(await send(op, c, app, actor, { selector }));
          return reply.code(202).send({ items });
        },
      );
    }
  };
}
