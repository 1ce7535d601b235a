import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import { formatDuration } from '@driftless/common';
import { parseUnitDuration } from '../../duration.ts';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../errors.ts';
import type { Store, SuspensionRecord } from '../../store/index.ts';
import { actorOf } from '../auth.ts';
import { iso } from '../views.ts';
import { List, Name } from '../schemas.ts';
import { principalOf, type ApiApp } from '../types.ts';
import { clusterOr404, type RouteDeps } from './deps.ts';

/** Defaults of the break-glass routes. */
export const SUSPEND_DEFAULTS = {
  /** Longest pause a person may ask for (the hub's --max-suspension). */
  maxSuspensionMs: 24 * 3_600_000,
} as const;

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

/** A pause asked for on the hub. */
export const HubSuspensionView = Type.Object(
  {
    id: Type.String(),
    cluster: Type.String(),
    app: Type.String({ description: "the app paused; '' for the whole cluster" }),
    reason: Type.String(),
    actor: Type.String(),
    since: Time,
    until: Time,
    endedAt: { ...Time, description: 'when a person ended it early; null if not' },
    endedBy: Type.String(),
  },
  { title: 'HubSuspension' },
);

const hubSuspensionView = (s: SuspensionRecord) => ({
  id: s.id,
  cluster: s.cluster,
  app: s.app,
  reason: s.reason,
  actor: s.actor,
  since: iso(s.sinceMs),
  until: iso(s.untilMs),
  endedAt: iso(s.endedMs),
  endedBy: s.endedBy,
});

const ByName = Type.Object({ name: Name });
const SuspendBody = Type.Object({
  app: Type.Optional(Type.String({ maxLength: 253, description: 'one app; omit for the cluster' })),
  for: Type.Optional(
    Type.String({ maxLength: 40, description: 'how long, e.g. "30m", "2h"; or give until' }),
  ),
  until: Type.Optional(
    Type.String({ format: 'date-time', description: 'when it ends (ISO-8601); or give for' }),
  ),
  reason: Type.Optional(Type.String({ maxLength: 1024, description: 'why; required' })),
});
const ResumeBody = Type.Object({
  app: Type.Optional(Type.String({ maxLength: 253, description: 'one app; omit for the cluster' })),
});

/** When a pause asked for at `nowMs` ends; InvalidArgumentError for a missing or too long one. */
export function pauseEnd(
  what: string,
  body: { for?: string | undefined; until?: string | undefined },
  nowMs: number,
  maxMs: number,
): number {
  if (body.for !== undefined && body.until !== undefined)
    throw new InvalidArgumentError(`${what}: give a duration (for) or an end (until), not both`);
  let untilMs: number;
  if (body.for !== undefined) {
    let ms: number;
    try {
      ms = parseUnitDuration('for', body.for);
    } catch (err) {
      throw new InvalidArgumentError(`${what}: ${(err as Error).message}`, { cause: err });
    }
    untilMs = nowMs + ms;
  } else if (body.until !== undefined) {
    untilMs = Date.parse(body.until);
    if (!Number.isFinite(untilMs))
      throw new InvalidArgumentError(`${what}: until "${body.until}" is not an ISO-8601 time`);
  } else
    throw new InvalidArgumentError(
      `${what}: a duration is required (for, e.g. "30m", or until): a pause never lasts forever`,
    );
  if (untilMs <= nowMs)
    throw new InvalidArgumentError(`${what}: the pause would end before it begins`);
  if (untilMs - nowMs > maxMs)
    throw new InvalidArgumentError(
      `${what}: ${formatDuration(untilMs - nowMs)} is longer than the longest pause this hub allows (${formatDuration(maxMs)}, --max-suspension)`,
    );
  return untilMs;
}

/** The app `app` of `cluster`, or NotFoundError; '' (the cluster) passes. */
async function appOr404(store: Store, what: string, cluster: string, app: string): Promise<void> {
  if (!app) return;
  if (!(await store.listApps({ cluster })).some((a) => a.app === app))
    throw new NotFoundError(`${what}: app ${app} of cluster ${cluster}: not found`);
}

/**
 * Break-glass: pause applying and healing of a cluster or one app for a while, with a reason, and
 * end a pause early. Both are audited in the same transaction; the agent hears of it at once when
 * connected, else after its next Hello, and ends the pause on its own clock.
 */
export function suspendRoutes(deps: RouteDeps & { maxSuspensionMs?: number }) {
  const { store, events, log, clock } = deps;
  const maxMs = deps.maxSuspensionMs ?? SUSPEND_DEFAULTS.maxSuspensionMs;
  const tags = ['suspensions'];
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/suspensions',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'list the pauses in force that were asked for on the hub',
          tags,
          querystring: Type.Object({ cluster: Type.Optional(Type.String({ maxLength: 253 })) }),
          response: { 200: List(HubSuspensionView) },
        },
      },
      async (req) => ({
        items: (
          await store.activeSuspensions({ cluster: req.query.cluster, nowMs: clock.now() })
        ).map(hubSuspensionView),
      }),
    );

    app.post(
      '/api/v1/clusters/:name/suspend',
      {
        config: { role: 'operator' },
        schema: {
          summary: 'pause applying and healing of a cluster or an app',
          tags,
          params: ByName,
          body: SuspendBody,
          response: {
            201: Type.Object({
              suspension: HubSuspensionView,
              replaced: Type.Array(HubSuspensionView),
            }),
          },
        },
      },
      async (req, reply) => {
        const cluster = req.params.name;
        const appName = req.body.app ?? '';
        const what = `suspend ${appName ? `app ${cluster}/${appName}` : `cluster ${cluster}`}`;
        await clusterOr404(store, cluster);
        await appOr404(store, what, cluster, appName);
        const reason = (req.body.reason ?? '').trim();
        if (!reason) throw new InvalidArgumentError(`${what}: a reason is required`);
        const now = clock.now();
        const untilMs = pauseEnd(what, req.body, now, maxMs);
        const actor = actorOf(principalOf(req));
        const { suspension, replaced } = await store.suspend(
          {
            id: `su_${randomUUID()}`,
            cluster,
            app: appName,
            reason,
            actor,
            sinceMs: now,
            untilMs,
          },
          {
            actor,
            action: 'cluster.suspend',
            target: appName ? `cluster/${cluster}/app/${appName}` : `cluster/${cluster}`,
            details: { until: iso(untilMs), reason },
          },
        );
        // The link sends the cluster's new set of pauses down its stream (see link/suspensions.ts).
        events.publish({
          type: 'cluster.suspended',
          cluster,
          ...(appName ? { app: appName } : {}),
          data: { id: suspension.id, until: iso(untilMs), reason, actor },
        });
        log.info({ cluster, app: appName, until: iso(untilMs), by: actor }, `${what}: paused`);
        return reply.code(201).send({
          suspension: hubSuspensionView(suspension),
          replaced: replaced.map(hubSuspensionView),
        });
      },
    );

    app.post(
      '/api/v1/clusters/:name/resume',
      {
        config: { role: 'operator' },
        schema: {
          summary: 'end a pause of a cluster or an app now',
          tags,
          params: ByName,
          body: Type.Optional(ResumeBody),
          response: { 200: Type.Object({ resumed: Type.Array(HubSuspensionView) }) },
        },
      },
      async (req) => {
        const cluster = req.params.name;
        const appName = req.body?.app ?? '';
        const what = `resume ${appName ? `app ${cluster}/${appName}` : `cluster ${cluster}`}`;
        await clusterOr404(store, cluster);
        await appOr404(store, what, cluster, appName);
        const actor = actorOf(principalOf(req));
        const now = clock.now();
        const resumed = await store.resume(
          { cluster, app: appName, actor, nowMs: now },
          {
            actor,
            action: 'cluster.resume',
            target: appName ? `cluster/${cluster}/app/${appName}` : `cluster/${cluster}`,
          },
        );
        if (resumed.length === 0) {
          const git = appName
            ? (await store.listApps({ cluster })).find((a) => a.app === appName)?.suspension
            : undefined;
          throw new ConflictError(
            git?.source === 'git'
              ? `${what}: it is paused in Git (${git.actor}); remove suspend: true there`
              : `${what}: no pause from the hub is in force there`,
          );
        }
        events.publish({
          type: 'cluster.resumed',
          cluster,
          ...(appName ? { app: appName } : {}),
          data: { ids: resumed.map((s) => s.id), actor },
        });
        log.info({ cluster, app: appName, by: actor }, `${what}: resumed`);
        return { resumed: resumed.map(hubSuspensionView) };
      },
    );
  };
}
