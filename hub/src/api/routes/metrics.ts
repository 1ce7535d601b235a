import type { HubMetrics } from '../../metrics.ts';
import type { ApiApp } from '../types.ts';

/** `GET /metrics`: Prometheus text format, no token (scrapers rarely carry one). */
export function metricsRoutes(metrics: HubMetrics) {
  return (app: ApiApp): void => {
    app.get(
      '/metrics',
      {
        config: { role: null },
        schema: { summary: 'Prometheus metrics', tags: ['health'], produces: ['text/plain'] },
      },
      async (_req, reply) =>
        reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  };
}
