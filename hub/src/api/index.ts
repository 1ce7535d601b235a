export { ApiServer, type ApiServerOptions } from './server.ts';
export { apiRoutes, type RouteDeps } from './routes.ts';
export { ROLES, allows, actorOf } from './auth.ts';
export type { Principal, Route, RequestContext } from './router.ts';
