/** The agent's Prometheus metrics and the endpoint that serves them. */
export { AgentMetrics, type AgentMetricsOptions, type OpenDriftState } from './metrics.ts';
export { MetricsServerError, serveMetrics, type MetricsServer } from './server.ts';
