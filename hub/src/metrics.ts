import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppStateCount, ClusterRecord } from './store/index.ts';

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
  /** Seconds from an agent sending (or first queueing) a report to this hub storing it. */
  reportDelay: Histogram<'type'>;
}

/** The part of the store the fleet gauges read at each scrape. */
export interface FleetSource {
  listClusters(): Promise<ClusterRecord[]>;
  countApps(): Promise<AppStateCount[]>;
}

/** Buckets of {@link HubMetrics.reportDelay}: sub-second live delivery up to an hour of outage. */
const DELAY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

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
    reportDelay: new Histogram({
      name: 'driftless_hub_report_delay_seconds',
      help: 'Time from an agent sending (or first queueing) a report to this hub storing it: the ingest lag, including any time the agent was cut off from the hub.',
      labelNames: ['type'],
      buckets: DELAY_BUCKETS,
      registers,
    }),
  };
}

/**
 * Adds the fleet's state, read from the store at each scrape, to `registry`: per cluster how
 * many of its apps are in each sync status and health (one grouped read; which apps they are
 * is the API's `GET /api/v1/apps?cluster=`), whether an agent stream is open and when the
 * agent was last heard. Series grow with clusters, not apps: 10,000 clusters of 20 healthy
 * apps are about 30,000 series, not 200,000. Every hub replica of a shared store reports the
 * same values; alert rules aggregate with `max by`.
 */
export function observeFleet(registry: Registry, store: FleetSource): void {
  const registers = [registry];
  new Gauge({
    name: 'driftless_hub_apps',
    help: 'Apps of each cluster by sync status (unknown, synced, out-of-sync, syncing, failed) and health (unknown, healthy, progressing, degraded, missing); apps no longer in their cluster config are left out, and so are states no app of the cluster is in.',
    labelNames: ['cluster', 'sync_status', 'health'],
    registers,
    async collect() {
      const counts = await store.countApps();
      this.reset();
      for (const c of counts)
        this.set({ cluster: c.cluster, sync_status: c.syncStatus, health: c.health }, c.apps);
    },
  });
  // Both cluster gauges are collected in the same scrape: they share one read of the clusters.
  let reading: Promise<ClusterRecord[]> | undefined;
  const clusters = () =>
    (reading ??= store
      .listClusters()
      .then((all) => all.filter((c) => c.revokedMs === 0))
      .finally(() => (reading = undefined)));
  new Gauge({
    name: 'driftless_hub_cluster_connected',
    help: 'Enrolled, unrevoked clusters: 1 while the agent has a stream open to a hub replica, 0 otherwise.',
    labelNames: ['cluster'],
    registers,
    async collect() {
      const list = await clusters();
      this.reset();
      for (const c of list) this.set({ cluster: c.name }, c.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'driftless_hub_cluster_last_seen_timestamp_seconds',
    help: "When the hub last received a message from the cluster's agent, in seconds since the epoch; 0 if never.",
    labelNames: ['cluster'],
    registers,
    async collect() {
      const list = await clusters();
      this.reset();
      for (const c of list) this.set({ cluster: c.name }, c.lastSeenMs / 1000);
    },
  });
}
