export { ApiServer, type ApiServerOptions } from './server.ts';
export { apiRoutes, type RouteDeps } from './routes.ts';
export { ROLES, allows, actorOf } from './auth.ts';
export type { Principal, Route, RequestContext } from './router.ts';
export { webRoutes, DEFAULT_WEB_DIR, type DashboardConfig, type WebRoutesOptions } from './web.ts';
