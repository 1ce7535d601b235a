import { Type } from 'typebox';
import { InvalidArgumentError } from '../../errors.ts';
import { parseSelector } from '../../store/index.ts';
import { AppView, MAX_LIMIT, Selector } from '../schemas.ts';
import type { ApiApp } from '../types.ts';
import { appView } from '../views.ts';
import type { RouteDeps } from './deps.ts';

/** `cluster/app`, the cursor of the next page. */
const cursorOf = (a: { cluster: string; app: string }) => `${a.cluster}/${a.app}`;

/** Reads an `after=` cursor; cluster names never hold a `/`, so the first one splits it. */
function parseAfter(text: string | undefined): { cluster: string; app: string } | undefined {
  if (text === undefined) return undefined;
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1)
    throw new InvalidArgumentError(
      `after "${text.slice(0, 80)}": not a cursor of the form cluster/app (the "next" of the previous page)`,
    );
  return { cluster: text.slice(0, slash), app: text.slice(slash + 1) };
}

/** Apps across the fleet, in (cluster, app) order; paged with `limit` and `after`. */
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
            limit: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: MAX_LIMIT,
                description: 'apps at most (a page); every app when absent',
              }),
            ),
            after: Type.Optional(
              Type.String({
                maxLength: 507,
                description: 'the `next` of the previous page: apps after this cluster/app',
              }),
            ),
          }),
          response: {
            200: Type.Object({
              items: Type.Array(AppView),
              next: Type.Optional(
                Type.String({ description: 'cursor of the next page; absent on the last one' }),
              ),
            }),
          },
        },
      },
      async (req) => {
        const { limit } = req.query;
        const items = await store.listApps({
          cluster: req.query.cluster,
          selector: parseSelector(req.query.selector),
          after: parseAfter(req.query.after),
          limit,
        });
        const last = items.at(-1);
        // A full page may have more behind it; a short one is the last.
        const next =
          limit !== undefined && items.length === limit && last ? cursorOf(last) : undefined;
        return { items: items.map(appView), ...(next ? { next } : {}) };
      },
    );
  };
}
