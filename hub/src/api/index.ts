/** The hub's HTTP API: Fastify, a JSON schema per route, an OpenAPI document generated from them. */
export {
  ApiServer,
  API_SERVER_DEFAULTS,
  type ApiServerLimits,
  type ApiServerOptions,
  type RouteModule,
} from './server.ts';
export {
  apiRoutes,
  webRoutes,
  DEFAULT_WEB_DIR,
  type DashboardConfig,
  type Readiness,
  type RouteDeps,
  type WebRoutesOptions,
} from './routes/index.ts';
export { EventStreams, EVENT_STREAM_DEFAULTS, type EventStreamLimits } from './sse.ts';
export { OPENAPI_PATH } from './openapi.ts';
export { ROLES, allows, actorOf } from './auth.ts';
export { drain, sendError, type ErrorAnswer } from './answers.ts';
export type { ApiApp, Principal } from './types.ts';
