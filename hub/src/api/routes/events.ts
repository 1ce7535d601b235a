import { Type } from 'typebox';
import type { EventStreams } from '../sse.ts';
import { principalOf, type ApiApp } from '../types.ts';

/** `GET /api/v1/events`: server-sent events of hub changes, within the stream limits. */
export function eventRoutes(streams: EventStreams) {
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/events',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'stream events',
          description:
            'Server-sent events (text/event-stream) until the client goes away; 429 when the token or the hub has as many streams open as allowed.',
          tags: ['events'],
          querystring: Type.Object({
            cluster: Type.Optional(
              Type.String({ maxLength: 253, description: 'only this cluster' }),
            ),
          }),
          produces: ['text/event-stream'],
        },
      },
      async (req, reply) => {
        // Checks the limits first: a refusal is an ordinary JSON error answer.
        streams.open(reply.raw, principalOf(req).id, req.query.cluster ?? '');
        return reply.hijack();
      },
    );
  };
}
