import swagger from '@fastify/swagger';
import type { ApiApp } from './types.ts';

/** Where the hub serves its OpenAPI document (no token needed: it holds no data). */
export const OPENAPI_PATH = '/api/v1/openapi.json';

/**
 * Generates an OpenAPI 3.1 document from the routes' JSON schemas (@fastify/swagger) and
 * serves it at {@link OPENAPI_PATH}. Routes that need a role carry the bearer-token
 * requirement and say which role in their description.
 */
export async function registerOpenApi(app: ApiApp): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Driftless hub API',
        version: '1',
        description:
          'The fleet state, enrollment tokens, approvals and audit log of a Driftless hub. See docs/api.md.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API token' } },
      },
    },
    transform: ({ schema, url, route }) => {
      const role = route.config?.role;
      if (!schema || !role) return { schema, url };
      const described = schema.description ? `${schema.description} ` : '';
      return {
        url,
        schema: {
          ...schema,
          description: `${described}Least role: ${role}.`,
          security: [{ bearer: [] }],
        },
      };
    },
  });
  app.get(
    OPENAPI_PATH,
    { config: { role: null }, schema: { summary: 'OpenAPI document', tags: ['health'] } },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );
}
