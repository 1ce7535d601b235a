import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyInstance,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Logger } from '@driftless/common';
import type { Role } from '../store/index.ts';

/** Who made a request: an API token's id, name and role. */
export interface Principal {
  id: string;
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Least role allowed; null for public endpoints (health, metrics, the dashboard's files,
     * the webhook, which has its own secret). Every route must say which: see server.ts.
     */
    role?: Role | null;
  }
  interface FastifyRequest {
    /** The caller, set by the authentication hook; undefined on public routes. */
    principal: Principal | undefined;
  }
}

/** The Fastify instance routes are registered on: schemas are TypeBox, so handlers are typed. */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger,
  TypeBoxTypeProvider
>;

/** The caller of a route that needs a role (the hook refused everyone else). */
export function principalOf(req: Pick<FastifyRequest, 'principal' | 'method' | 'url'>): Principal {
  if (!req.principal) throw new Error(`${req.method} ${req.url}: route without authentication`);
  return req.principal;
}
