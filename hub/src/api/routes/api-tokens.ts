import { Type } from 'typebox';
import { mintToken } from '../../enroll/index.ts';
import { NotFoundError } from '../../errors.ts';
import type { ApiTokenRecord } from '../../store/index.ts';
import { actorOf, ROLES } from '../auth.ts';
import { ApiTokenView, List, Name } from '../schemas.ts';
import { principalOf, type ApiApp } from '../types.ts';
import { apiTokenView } from '../views.ts';
import type { RouteDeps } from './deps.ts';

const Principal = Type.Object({ id: Type.String(), name: Type.String(), role: Type.String() });
const CreateBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  role: Type.Enum([...ROLES]),
});

/** API tokens (list, create, revoke) and `whoami`, the caller's own token. */
export function apiTokenRoutes(deps: Pick<RouteDeps, 'store' | 'clock'>) {
  const { store, clock } = deps;
  const tags = ['API tokens'];
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/whoami',
      {
        config: { role: 'viewer' },
        schema: { summary: 'who am I', tags, response: { 200: Principal } },
      },
      async (req) => principalOf(req),
    );

    app.get(
      '/api/v1/api-tokens',
      {
        config: { role: 'admin' },
        schema: { summary: 'list API tokens', tags, response: { 200: List(ApiTokenView) } },
      },
      async () => ({ items: (await store.listApiTokens()).map(apiTokenView) }),
    );

    app.post(
      '/api/v1/api-tokens',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'create API token',
          tags,
          body: CreateBody,
          response: { 201: Type.Intersect([ApiTokenView, Type.Object({ token: Type.String() })]) },
        },
      },
      async (req, reply) => {
        const { name, role } = req.body;
        const actor = actorOf(principalOf(req));
        const t = mintToken('api');
        const record: ApiTokenRecord = {
          id: t.id,
          secretHash: t.secretHash,
          name,
          role,
          createdMs: clock.now(),
          createdBy: actor,
          revokedMs: 0,
        };
        await store.createApiToken(record, {
          actor,
          action: 'api-token.create',
          target: `api-token/${t.id}`,
          details: { name, role },
        });
        return reply.code(201).send({ ...apiTokenView(record), token: t.text });
      },
    );

    app.post(
      '/api/v1/api-tokens/:id/revoke',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'revoke API token',
          tags,
          params: Type.Object({ id: Name }),
          response: { 200: ApiTokenView },
        },
      },
      async (req) => {
        const { id } = req.params;
        await store.revokeApiToken(id, clock.now(), {
          actor: actorOf(principalOf(req)),
          action: 'api-token.revoke',
          target: `api-token/${id}`,
        });
        const t = await store.getApiToken(id);
        if (!t) throw new NotFoundError(`API token ${id}: not found`);
        return apiTokenView(t);
      },
    );
  };
}
