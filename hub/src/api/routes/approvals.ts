import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import { NotFoundError } from '../../errors.ts';
import type { AppRecord, ApprovalRecord, Store, SyncRecord } from '../../store/index.ts';
import { approvalState, pendingPlanOf, resolveApproval } from '../approval-state.ts';
import { actorOf } from '../auth.ts';
import { ApprovalView, List, Name, normaliseRevision, Revision } from '../schemas.ts';
import { principalOf, type ApiApp } from '../types.ts';
import { approvalView } from '../views.ts';
import { clusterOr404, type RouteDeps } from './deps.ts';

const WHAT = 'create approval';
/** Sync records read per cluster to tell what became of its approvals. */
const HISTORY_WINDOW = 1000;

const CreateBody = Type.Object({
  cluster: Name,
  app: Name,
  revision: { ...Revision, description: 'the pending revision: its full SHA or a prefix' },
  planDigest: Type.String({ minLength: 1, maxLength: 200 }),
});

/** Approvals with their state, reading each cluster's apps and recent history once. */
async function withState(store: Store, approvals: ApprovalRecord[]) {
  const byCluster = new Map<string, { apps: AppRecord[]; history: SyncRecord[] }>();
  for (const cluster of new Set(approvals.map((a) => a.cluster))) {
    const [apps, history] = await Promise.all([
      store.listApps({ cluster }),
      store.listHistory({ cluster, limit: HISTORY_WINDOW }),
    ]);
    byCluster.set(cluster, { apps, history });
  }
  return approvals.map((a) => {
    const c = byCluster.get(a.cluster);
    const app = c?.apps.find((x) => x.app === a.app);
    return approvalView(a, approvalState(a, app, c?.history.filter((s) => s.app === a.app) ?? []));
  });
}

/**
 * Runs `fn` after every earlier call for the same `key` has ended, so two approvals of one
 * app are never checked and stored at the same time.
 */
function serialised() {
  const tails = new Map<string, Promise<unknown>>();
  return async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const before = tails.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/**
 * An approval of `app` already given for `revision` and `planDigest` that is still to be used
 * (pending or delivered), or undefined. One the agent applied is not: an approval is used once,
 * so the same plan waiting again needs a new one.
 */
async function existingApproval(
  store: Store,
  target: { cluster: string; app: string; revision: string; planDigest: string },
) {
  const same = (await store.listApprovals({ cluster: target.cluster })).filter(
    (a) =>
      a.app === target.app && a.revision === target.revision && a.planDigest === target.planDigest,
  );
  if (same.length === 0) return undefined;
  return (await withState(store, same)).find(
    (v) => v.state === 'pending' || v.state === 'delivered',
  );
}

/** Approvals: list (with what became of each) and create (only for the pending plan). */
export function approvalRoutes(deps: RouteDeps) {
  const { store, sessions, link, events, clock } = deps;
  const tags = ['approvals'];
  const oneAtATime = serialised();
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/approvals',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'list approvals',
          tags,
          querystring: Type.Object({
            cluster: Type.Optional(Type.String({ maxLength: 253 })),
            pending: Type.Optional(Type.Boolean({ description: 'true: only those not acked' })),
          }),
          response: { 200: List(ApprovalView) },
        },
      },
      async (req) => ({
        items: await withState(
          store,
          await store.listApprovals({ cluster: req.query.cluster, pending: req.query.pending }),
        ),
      }),
    );

    app.post(
      '/api/v1/approvals',
      {
        config: { role: 'approver' },
        schema: {
          summary: WHAT,
          tags,
          body: CreateBody,
          response: {
            200: { ...ApprovalView, description: 'the plan was already approved: that approval' },
            201: ApprovalView,
          },
        },
      },
      async (req, reply) => {
        const { cluster, app: appName, planDigest } = req.body;
        return oneAtATime(`${cluster}\n${appName}`, async () => {
          await clusterOr404(store, cluster);
          const record = (await store.listApps({ cluster })).find((a) => a.app === appName);
          if (!record)
            throw new NotFoundError(`${WHAT}: app ${appName} of cluster ${cluster}: not found`);
          const what = `${WHAT} for ${cluster}/${appName}`;
          const revision = resolveApproval(what, pendingPlanOf(record), {
            revision: normaliseRevision(req.body.revision),
            planDigest,
          });
          // Approving the same plan again changes nothing: the first approval stands.
          const existing = await existingApproval(store, {
            cluster,
            app: appName,
            revision,
            planDigest,
          });
          if (existing) return reply.code(200).send(existing);
          const principal = principalOf(req);
          const approval = await store.createApproval(
            {
              id: `ap_${randomUUID()}`,
              cluster,
              app: appName,
              revision,
              planDigest,
              approvedBy: principal.name,
              approvedMs: clock.now(),
            },
            {
              actor: actorOf(principal),
              action: 'approval.create',
              target: `cluster/${cluster}/app/${appName}`,
              details: { revision, planDigest },
            },
          );
          events.publish({
            type: 'approval.created',
            cluster,
            app: appName,
            data: { id: approval.id, revision, planDigest },
          });
          // Cheap to deliver now if the agent is connected; otherwise it goes out after its next Hello.
          const session = sessions.get(cluster);
          // Marks it delivered (and announces it) only if the send succeeded.
          if (session) await link.deliverApprovals(session, [approval]);
          return reply.code(201).send(
            approvalView(approval, {
              state: approval.deliveredMs ? 'delivered' : 'pending',
              stateReason: '',
            }),
          );
        });
      },
    );
  };
}
