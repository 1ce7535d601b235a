import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The hub's Prometheus metrics, on their own registry (so tests can run several hubs). */
export interface HubMetrics {
  registry: Registry;
  connectedAgents: Gauge;
  reportsIngested: Counter<'type' | 'result'>;
  enrollments: Counter<'result'>;
  rpcs: Counter<'method' | 'code'>;
  apiRequests: Counter<'method' | 'route' | 'status'>;
  apiDuration: Histogram<'method' | 'route'>;
  ingestDuration: Histogram<'type'>;
  webhookDeliveries: Counter<'provider' | 'result'>;
}

/** Creates the metrics; process metrics (resident memory, CPU, event loop lag) included. */
export function createMetrics(): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    connectedAgents: new Gauge({
      name: 'driftless_hub_connected_agents',
      help: 'Agent streams open on this hub.',
      registers,
    }),
    reportsIngested: new Counter({
      name: 'driftless_hub_reports_ingested_total',
      help: 'Agent reports received, by type and result (applied, duplicate).',
      labelNames: ['type', 'result'],
      registers,
    }),
    enrollments: new Counter({
      name: 'driftless_hub_enrollments_total',
      help: 'Enroll calls by result (ok or the gRPC status name).',
      labelNames: ['result'],
      registers,
    }),
    rpcs: new Counter({
      name: 'driftless_hub_grpc_calls_total',
      help: 'Finished gRPC calls by method and status code.',
      labelNames: ['method', 'code'],
      registers,
    }),
    apiRequests: new Counter({
      name: 'driftless_hub_http_requests_total',
      help: 'HTTP API requests by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    apiDuration: new Histogram({
      name: 'driftless_hub_http_request_duration_seconds',
      help: 'HTTP API request latency.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    ingestDuration: new Histogram({
      name: 'driftless_hub_ingest_duration_seconds',
      help: 'Time to store one agent report durably.',
      labelNames: ['type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'driftless_hub_webhook_deliveries_total',
      help: 'Git webhook deliveries by provider (github, gitlab, gitea, unknown) and result (accepted, ignored, duplicate, unauthorized, malformed, too-large, disabled).',
      labelNames: ['provider', 'result'],
      registers,
    }),
  };
}
