import { Type } from 'typebox';
import { parseSelector } from '../../store/index.ts';
import { AppView, List, Selector } from '../schemas.ts';
import type { ApiApp } from '../types.ts';
import { appView } from '../views.ts';
import type { RouteDeps } from './deps.ts';

/** Apps across the fleet. */
export function appRoutes({ store }: Pick<RouteDeps, 'store'>) {
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/apps',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'list apps',
          tags: ['apps'],
          querystring: Type.Object({
            cluster: Type.Optional(Type.String({ maxLength: 253 })),
            selector: Selector,
          }),
          response: { 200: List(AppView) },
        },
      },
      async (req) => ({
        items: (
          await store.listApps({
            cluster: req.query.cluster,
            selector: parseSelector(req.query.selector),
          })
        ).map(appView),
      }),
    );
  };
}
