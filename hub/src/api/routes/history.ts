import { Type } from 'typebox';
import { parseSelector } from '../../store/index.ts';
import { Limit, List, Selector, SyncView } from '../schemas.ts';
import type { ApiApp } from '../types.ts';
import { syncView } from '../views.ts';
import type { RouteDeps } from './deps.ts';

/** Sync history, newest first. */
export function historyRoutes({ store }: Pick<RouteDeps, 'store'>) {
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/history',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'list sync history',
          tags: ['history'],
          querystring: Type.Object({
            selector: Selector,
            cluster: Type.Optional(Type.String({ maxLength: 253 })),
            app: Type.Optional(Type.String({ maxLength: 253 })),
            limit: Limit(100),
          }),
          response: { 200: List(SyncView) },
        },
      },
      async (req) => ({
        items: (
          await store.listHistory({
            selector: parseSelector(req.query.selector),
            cluster: req.query.cluster,
            app: req.query.app,
            limit: req.query.limit,
          })
        ).map(syncView),
      }),
    );
  };
}
