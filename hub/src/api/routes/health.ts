import { Type } from 'typebox';
import { driftlessVersion } from '@driftless/common';
import type { ApiApp } from '../types.ts';
import type { RouteDeps } from './deps.ts';

const Status = Type.Object({ status: Type.String() });
const Live = Type.Object({
  status: Type.String(),
  version: Type.String({ description: "the hub's release version, e.g. 0.1.0" }),
  commit: Type.Optional(
    Type.String({ description: 'the Git commit it was built from, when known' }),
  ),
});
const NotReady = Type.Object({ status: Type.String(), reason: Type.String() });

/** `/healthz` (the process answers, with its version) and `/readyz` (it can serve: store and link answer). */
export function healthRoutes(deps: Pick<RouteDeps, 'readiness'>) {
  return (app: ApiApp): void => {
    app.get(
      '/healthz',
      {
        config: { role: null },
        schema: { summary: 'liveness and version', tags: ['health'], response: { 200: Live } },
      },
      async () => {
        const { version, commit } = driftlessVersion();
        return { status: 'ok', version, ...(commit ? { commit } : {}) };
      },
    );
    app.get(
      '/readyz',
      {
        config: { role: null },
        schema: {
          summary: 'readiness',
          tags: ['health'],
          response: { 200: Status, 503: NotReady },
        },
      },
      async (_req, reply) => {
        const r = await deps.readiness();
        if (r.ready) return { status: 'ready' };
        return reply.code(503).send({ status: 'not ready', reason: r.reason });
      },
    );
  };
}
