import { Type, type Static } from 'typebox';
import {
  HealthStatus,
  objectRefString,
  TreeErrorCode,
  type TreeNode as TreeNodeMessage,
  type TreeResponse,
} from '@driftless/proto';
import { parseUnitDuration } from '../../duration.ts';
import {
  DeadlineExceededError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from '../../errors.ts';
import type { TreeRequests } from '../../link/index.ts';
import { actorOf } from '../auth.ts';
import { Name } from '../schemas.ts';
import { principalOf, type ApiApp } from '../types.ts';
import { iso } from '../views.ts';
import { clusterOr404, type RouteDeps } from './deps.ts';

/** Defaults of the tree route: how long the hub waits for the agent, and the longest it may. */
export const TREE_ROUTE_DEFAULTS = { deadlineMs: 10_000, maxDeadlineMs: 60_000 } as const;

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

const TreeEventView = Type.Object({
  type: Type.String(),
  reason: Type.String(),
  message: Type.String(),
  count: Type.Integer(),
  lastSeen: Time,
  source: Type.String(),
});

const TreeNodeView = Type.Object({
  group: Type.String(),
  version: Type.String(),
  kind: Type.String(),
  namespace: Type.String(),
  name: Type.String(),
  uid: Type.String(),
  parentUid: Type.String({ description: "the owner's uid; '' for the app's managed objects" }),
  managed: Type.Boolean(),
  health: Type.String(),
  message: Type.String(),
  createdAt: Time,
  events: Type.Array(TreeEventView),
});

/** An app's live object tree, as the agent read it. */
export const AppTreeView = Type.Object(
  {
    cluster: Type.String(),
    app: Type.String(),
    collectedAt: Time,
    partial: Type.Boolean({ description: 'the agent hit its deadline before reading everything' }),
    truncated: Type.Boolean({ description: 'a size bound left nodes or Events out' }),
    note: Type.String(),
    nodes: Type.Array(TreeNodeView),
  },
  { title: 'AppTree' },
);

const HEALTH: Record<number, string> = {
  [HealthStatus.HEALTH_STATUS_HEALTHY]: 'healthy',
  [HealthStatus.HEALTH_STATUS_PROGRESSING]: 'progressing',
  [HealthStatus.HEALTH_STATUS_DEGRADED]: 'degraded',
  [HealthStatus.HEALTH_STATUS_MISSING]: 'missing',
  [HealthStatus.HEALTH_STATUS_UNKNOWN]: 'unknown',
};

const Query = Type.Object({
  deadline: Type.Optional(
    Type.String({ maxLength: 16, description: 'how long to wait for the agent, e.g. 5s' }),
  ),
  maxNodes: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  maxEvents: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});

/**
 * The live object tree of an app: asked of the cluster's agent over its own stream (the hub holds
 * no cluster credential), for any role, each read audited.
 */
export function treeRoutes(
  deps: Pick<RouteDeps, 'store' | 'clock' | 'log'> & { trees: TreeRequests },
) {
  const { store, clock, trees, log } = deps;
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/clusters/:name/apps/:app/tree',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'show the live object tree of an app',
          tags: ['apps'],
          params: Type.Object({ name: Name, app: Name }),
          querystring: Query,
          response: { 200: AppTreeView },
        },
      },
      async (req) => {
        const { name: cluster, app: appName } = req.params;
        const deadlineMs = deadlineOf(req.query.deadline);
        await clusterOr404(store, cluster);
        const apps = await store.listApps({ cluster });
        if (!apps.some((a) => a.app === appName))
          throw new NotFoundError(`app ${cluster}/${appName}: not found`);
        await store.audit(
          {
            actor: actorOf(principalOf(req)),
            action: 'app.tree',
            target: `app/${cluster}/${appName}`,
            details: {},
          },
          clock.now(),
        );
        const response = await trees.ask({
          cluster,
          app: appName,
          deadlineMs,
          limits: {
            maxNodes: req.query.maxNodes ?? 0,
            maxEventsPerNode: req.query.maxEvents ?? 0,
            maxBytes: 0,
            // The agent stops a little early, so its partial answer arrives within ours.
            deadlineMs: Math.max(1, Math.floor(deadlineMs * 0.8)),
          },
        });
        log.debug({ cluster, app: appName, nodes: response.nodes.length }, 'object tree read');
        return treeView(cluster, appName, response);
      },
    );
  };
}

/** The `deadline` query parameter in ms (default and bounds in {@link TREE_ROUTE_DEFAULTS}). */
function deadlineOf(text: string | undefined): number {
  if (text === undefined) return TREE_ROUTE_DEFAULTS.deadlineMs;
  let ms: number;
  try {
    ms = parseUnitDuration('deadline', text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message, { cause: err });
  }
  if (ms < 100 || ms > TREE_ROUTE_DEFAULTS.maxDeadlineMs)
    throw new InvalidArgumentError(
      `deadline ${text}: must be between 100ms and ${TREE_ROUTE_DEFAULTS.maxDeadlineMs / 1000}s`,
    );
  return ms;
}

/** The answer as the API shows it; an agent's error answer becomes the matching HTTP error. */
function treeView(cluster: string, app: string, r: TreeResponse): Static<typeof AppTreeView> {
  const what = `tree of app ${cluster}/${app}`;
  switch (r.errorCode) {
    case TreeErrorCode.TREE_ERROR_CODE_UNSPECIFIED:
      break;
    case TreeErrorCode.TREE_ERROR_CODE_UNKNOWN_APP:
      throw new NotFoundError(`${what}: the agent says: ${r.error}`);
    case TreeErrorCode.TREE_ERROR_CODE_TIMEOUT:
      throw new DeadlineExceededError(`${what}: ${r.error}`);
    default:
      throw new UnavailableError(`${what}: the agent could not read it: ${r.error}`);
  }
  return {
    cluster,
    app,
    collectedAt: iso(Number(r.collectedUnixMs)),
    partial: r.partial,
    truncated: r.truncated,
    note: r.note,
    nodes: r.nodes.map(nodeView),
  };
}

function nodeView(n: TreeNodeMessage): Static<typeof TreeNodeView> {
  const o = n.object;
  return {
    group: o?.group ?? '',
    version: o?.version ?? '',
    kind: o?.kind ?? '',
    namespace: o?.namespace ?? '',
    name: o?.name ?? objectRefString(o),
    uid: n.uid,
    parentUid: n.parentUid,
    managed: n.managed,
    health: HEALTH[n.health] ?? 'unknown',
    message: n.statusMessage,
    createdAt: iso(Number(n.createdUnixMs)),
    events: n.events.map((e) => ({
      type: e.type,
      reason: e.reason,
      message: e.message,
      count: e.count,
      lastSeen: iso(Number(e.lastSeenUnixMs)),
      source: e.source,
    })),
  };
}
