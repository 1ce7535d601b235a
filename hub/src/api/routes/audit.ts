import { Type } from 'typebox';
import { AuditView, Limit, List } from '../schemas.ts';
import type { ApiApp } from '../types.ts';
import { auditView } from '../views.ts';
import type { RouteDeps } from './deps.ts';

/** The audit log, newest first. */
export function auditRoutes({ store }: Pick<RouteDeps, 'store'>) {
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/audit',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'read audit log',
          tags: ['audit'],
          querystring: Type.Object({
            limit: Limit(200),
            actor: Type.Optional(Type.String({ maxLength: 300 })),
          }),
          response: { 200: List(AuditView) },
        },
      },
      async (req) => ({
        items: (await store.listAudit({ limit: req.query.limit, actor: req.query.actor })).map(
          auditView,
        ),
      }),
    );
  };
}
