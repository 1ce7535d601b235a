import { Type } from 'typebox';
import { parseSelector } from '../../store/index.ts';
import { DriftView, Limit, List, Selector } from '../schemas.ts';
import type { ApiApp } from '../types.ts';
import { driftView } from '../views.ts';
import type { RouteDeps } from './deps.ts';

/** Fleet-wide drift, newest first. */
export function driftRoutes({ store }: Pick<RouteDeps, 'store'>) {
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/drift',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'list drift',
          tags: ['drift'],
          querystring: Type.Object({
            selector: Selector,
            cluster: Type.Optional(Type.String({ maxLength: 253 })),
            app: Type.Optional(Type.String({ maxLength: 253 })),
            state: Type.Enum(['open', 'healed', 'all'], {
              default: 'open',
            }),
            limit: Limit(500),
          }),
          response: { 200: List(DriftView) },
        },
      },
      async (req) => {
        const { state } = req.query;
        const items = await store.listDrift({
          selector: parseSelector(req.query.selector),
          cluster: req.query.cluster,
          app: req.query.app,
          open: state === 'all' ? undefined : state === 'open',
          limit: req.query.limit,
        });
        return { items: items.map(driftView) };
      },
    );
  };
}
