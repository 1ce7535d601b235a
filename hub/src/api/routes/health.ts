import { Type } from 'typebox';
import type { ApiApp } from '../types.ts';
import type { RouteDeps } from './deps.ts';

const Status = Type.Object({ status: Type.String() });
const NotReady = Type.Object({ status: Type.String(), reason: Type.String() });

/** `/healthz` (the process answers) and `/readyz` (it can serve: store and link answer). */
export function healthRoutes(deps: Pick<RouteDeps, 'readiness'>) {
  return (app: ApiApp): void => {
    app.get(
      '/healthz',
      {
        config: { role: null },
        schema: { summary: 'liveness', tags: ['health'], response: { 200: Status } },
      },
      async () => ({ status: 'ok' }),
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
