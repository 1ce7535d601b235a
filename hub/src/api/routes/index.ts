/** The HTTP API's routes: one module per resource, each mapping requests onto the store. */
import type { RouteModule } from '../server.ts';
import type { EventStreams } from '../sse.ts';
import { apiTokenRoutes } from './api-tokens.ts';
import { appRoutes } from './apps.ts';
import { approvalRoutes } from './approvals.ts';
import { auditRoutes } from './audit.ts';
import { clusterRoutes } from './clusters.ts';
import { commitStatusRoutes } from './commit-status.ts';
import type { RouteDeps } from './deps.ts';
import { driftRoutes } from './drift.ts';
import { eventRoutes } from './events.ts';
import { healthRoutes } from './health.ts';
import { historyRoutes } from './history.ts';
import { suspendRoutes } from './suspend.ts';
import { ledgerRoutes } from './ledger.ts';
import { metricsRoutes } from './metrics.ts';
import { notificationRoutes } from './notifications.ts';
import { operationRoutes } from './operations.ts';
import { tokenRoutes } from './tokens.ts';
import { treeRoutes } from './tree.ts';

export { webRoutes, DEFAULT_WEB_DIR, type DashboardConfig, type WebRoutesOptions } from './web.ts';
export type { RouteDeps, Readiness } from './deps.ts';

/** Every resource of the HTTP API (see docs/api.md), one module per resource. */
export function apiRoutes(deps: RouteDeps, streams: EventStreams): RouteModule[] {
  return [
    healthRoutes(deps),
    metricsRoutes(deps.metrics),
    apiTokenRoutes(deps),
    clusterRoutes(deps),
    operationRoutes(deps),
    appRoutes(deps),
    treeRoutes(deps),
    driftRoutes(deps),
    ledgerRoutes(deps),
    historyRoutes(deps),
    tokenRoutes(deps),
    approvalRoutes(deps),
    suspendRoutes(deps),
    auditRoutes(deps),
    commitStatusRoutes(deps),
    eventRoutes(streams),
    ...(deps.notifications ? [notificationRoutes({ ...deps, ...deps.notifications })] : []),
  ];
}
