import type { AddressInfo } from 'node:net';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyReply,
  type FastifyRequest,
  type RouteOptions,
} from 'fastify';
import { extractTraceContext, getTracer, inSpan, type Logger } from '@driftless/common';
import { FailureLimiter } from '../enroll/index.ts';
import { httpStatusFor, InvalidArgumentError, NotFoundError } from '../errors.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import { answerClientError, pathOf, sendError } from './answers.ts';
import { authenticate } from './auth.ts';
import { registerOpenApi } from './openapi.ts';
import { ErrorBody } from './schemas.ts';
import type { ApiApp } from './types.ts';

const tracer = getTracer('@driftless/hub/api');

/** Limits and trust settings of {@link ApiServer}; the hub's flags override them. */
export interface ApiServerLimits {
  /**
   * Addresses or CIDR ranges of reverse proxies whose `X-Forwarded-For` names the client.
   * Empty: the socket's address is the client, whatever the headers say.
   */
  trustedProxies: string[];
  /** Largest JSON request body, bytes (the webhook has its own limit). */
  bodyLimitBytes: number;
  /** Failed API-token checks one client address may make per window. */
  authMaxFailures: number;
  /** The window of {@link authMaxFailures}, ms. */
  authFailureWindowMs: number;
  /** Longest time a client may take to send a whole request, ms (slow-loris protection). */
  requestTimeoutMs: number;
  /** Longest time a client may take to send the request headers, ms. */
  headersTimeoutMs: number;
}

/** Defaults of {@link ApiServerLimits}. */
export const API_SERVER_DEFAULTS: ApiServerLimits = {
  trustedProxies: [],
  bodyLimitBytes: 1 << 20,
  authMaxFailures: 20,
  authFailureWindowMs: 60_000,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
};

/** Registers some routes on the API (one resource's, the dashboard's, the webhook's). */
export type RouteModule = (app: ApiApp) => void | Promise<void>;

/** Options of {@link ApiServer}. */
export interface ApiServerOptions {
  /** Route modules, registered in order. */
  routes: RouteModule[];
  store: Store;
  metrics: HubMetrics;
  log: Logger;
  limits?: Partial<ApiServerLimits>;
}

// Bodies are not coerced (a number sent for a string field is an error), query strings and
// path parameters are (`limit=20` is a number); every body error is reported, not the first.
const BODY_AJV: AjvOptions = {
  allErrors: true,
  coerceTypes: false,
  useDefaults: true,
  verbose: true,
};
const QUERY_AJV: AjvOptions = {
  allErrors: false,
  coerceTypes: 'array',
  useDefaults: true,
  verbose: true,
};

function makeAjv(options: AjvOptions): Ajv {
  const ajv = new Ajv({ ...options, removeAdditional: true, strict: false });
  addFormats.default(ajv);
  return ajv;
}

/** Methods a path takes, for 405 answers: `:param` patterns compiled to expressions. */
class MethodIndex {
  readonly #routes: { re: RegExp; method: string }[] = [];

  add(url: string, method: string): void {
    const pattern = url
      .split('/')
      .map((part) =>
        part.startsWith(':') || part === '*'
          ? '[^/]+'
          : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    this.#routes.push({ re: new RegExp(`^${pattern}/?$`), method });
  }

  allowed(path: string): string[] {
    return [...new Set(this.#routes.filter((r) => r.re.test(path)).map((r) => r.method))];
  }
}

/**
 * The HTTP API on Fastify: one JSON schema per route validates params, query and body and
 * describes the answer (and the OpenAPI document); one hook authenticates and checks the
 * role; one error handler answers every failure as `{"error": {"status", "message"}}`;
 * one span per request joins the caller's trace.
 */
export class ApiServer {
  readonly #app: ApiApp;
  readonly #o: ApiServerOptions;
  readonly #limits: ApiServerLimits;
  readonly #limiter: FailureLimiter;
  readonly #methods = new MethodIndex();
  #closing = false;

  private constructor(options: ApiServerOptions) {
    this.#o = options;
    this.#limits = { ...API_SERVER_DEFAULTS, ...options.limits };
    this.#limiter = new FailureLimiter({
      maxFailures: this.#limits.authMaxFailures,
      windowMs: this.#limits.authFailureWindowMs,
    });
    this.#app = this.#createApp();
  }

  /** Builds the server and registers every route; call {@link listen} next. */
  static async create(options: ApiServerOptions): Promise<ApiServer> {
    const server = new ApiServer(options);
    await server.#register();
    return server;
  }

  /** The Fastify instance (for `inject` in tests). */
  get app(): ApiApp {
    return this.#app;
  }

  /** Listens on `host:port` (port 0 picks one); resolves to the base URL. */
  async listen(address: string): Promise<string> {
    const i = address.lastIndexOf(':');
    const host = address.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
    const port = Number(address.slice(i + 1));
    if (i < 0 || !Number.isInteger(port))
      throw new InvalidArgumentError(`HTTP address "${address}": use host:port`);
    await this.#app.listen({ host, port });
    const a = this.#app.server.address() as AddressInfo;
    const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${shown}:${a.port}`;
  }

  /** Stops accepting and ends open connections (event streams included). */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#app.close();
  }

  #createApp(): ApiApp {
    const { log } = this.#o;
    const limits = this.#limits;
    const bodyAjv = makeAjv(BODY_AJV);
    const queryAjv = makeAjv(QUERY_AJV);
    const app = Fastify({
      loggerInstance: log,
      // No log line per request (the fleet polls often); requests are counted in metrics.
      logController: new LogController({ disableRequestLogging: true }),
      trustProxy: limits.trustedProxies.length > 0 ? limits.trustedProxies : false,
      bodyLimit: limits.bodyLimitBytes,
      requestTimeout: limits.requestTimeoutMs,
      forceCloseConnections: true,
      routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
      // Malformed URLs (`/api/v1/clusters/%ff`) and the like: a 400 in the usual shape.
      frameworkErrors: (err, req, reply) => void sendError(err, req, reply, log),
      // Requests the HTTP parser refuses (both Content-Length and Transfer-Encoding, ...).
      clientErrorHandler: (err, socket) => answerClientError(err, socket, log),
      // Requests arriving while the hub stops: our 503 (see #refuse), not Fastify's.
      return503OnClosing: false,
    }).withTypeProvider<TypeBoxTypeProvider>();
    app.server.headersTimeout = limits.headersTimeoutMs;
    app.setValidatorCompiler(({ schema, httpPart }) =>
      (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema),
    );
    app.decorateRequest('principal', undefined);
    app.addHook('onRoute', (route) => this.#prepareRoute(route));
    app.addHook('onRequest', async (req, reply) => {
      if (this.#closing) return this.#stopping(req, reply);
      this.#refuseTarget(req);
      await this.#authenticate(req);
    });
    app.addHook('onResponse', async (req, reply) => this.#measure(req, reply));
    app.setErrorHandler((err, req, reply) => sendError(err, req, reply, log));
    app.setNotFoundHandler((req, reply) => this.#notFound(req, reply));
    this.#acceptEmptyJson(app);
    return app;
  }

  async #register(): Promise<void> {
    await registerOpenApi(this.#app);
    for (const routes of this.#o.routes) await routes(this.#app);
    await this.#app.ready();
  }

  /** An empty JSON body is `{}`, as before: clients send `content-type` on bodiless POSTs. */
  #acceptEmptyJson(app: ApiApp): void {
    const parse = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      if (String(body).trim() === '') return done(null, {});
      void parse(req, String(body), done);
    });
  }

  /**
   * Every route says who may call it; its error answers are documented; its handler runs in
   * a span that joins the caller's trace (W3C `traceparent`).
   */
  #prepareRoute(route: RouteOptions): void {
    const role = route.config?.role;
    if (role === undefined)
      throw new Error(`route ${String(route.method)} ${route.url} does not say its role`);
    for (const m of [route.method].flat()) this.#methods.add(route.url, m);
    if (route.schema && !route.schema.hide)
      route.schema.response = {
        ...(route.schema.response as object),
        '4xx': ErrorBody,
        '5xx': ErrorBody,
      };
    const handler = route.handler;
    const name = `HTTP ${String(route.method)} ${route.url}`;
    route.handler = function traced(this: unknown, req, reply) {
      const traceparent = req.headers['traceparent'];
      const parent = extractTraceContext({
        traceparent: typeof traceparent === 'string' ? traceparent : '',
      });
      const attributes = { 'http.request.method': req.method, 'url.path': pathOf(req) };
      return inSpan(
        tracer,
        name,
        attributes,
        async (span) => {
          if (req.principal) span.setAttribute('driftless.actor', req.principal.name);
          try {
            const result: unknown = await handler.call(this as never, req, reply);
            span.setAttribute('http.response.status_code', reply.statusCode);
            return result;
          } catch (err) {
            span.setAttribute('http.response.status_code', httpStatusFor(err));
            throw err;
          }
        },
        parent,
      );
    };
  }

  /** A request that arrives while the hub stops: 503, in the API's error shape. */
  #stopping(req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const status = 503;
    const message = `${req.method} ${pathOf(req)}: the hub is stopping; retry`;
    return reply
      .code(status)
      .header('connection', 'close')
      .type('application/json')
      .send({ error: { status, message } });
  }

  /**
   * Refuses a request target that is not a path (`GET *`, `OPTIONS *`, `CONNECT host:port`):
   * no route serves one, and the dashboard must not answer it.
   */
  #refuseTarget(req: FastifyRequest): void {
    const target = req.raw.url ?? '';
    if (!target.startsWith('/'))
      throw new InvalidArgumentError(
        `${req.method} ${target.slice(0, 100)}: the request target must be a path such as /api/v1/clusters`,
      );
  }

  async #authenticate(req: FastifyRequest): Promise<void> {
    const role = req.routeOptions.config.role;
    if (!role) return;
    req.principal = await authenticate({
      header: req.headers.authorization,
      store: this.#o.store,
      limiter: this.#limiter,
      peer: req.ip,
      needed: role,
      what: req.routeOptions.schema?.summary ?? `${req.method} ${pathOf(req)}`,
    });
  }

  #measure(req: FastifyRequest, reply: FastifyReply): void {
    const route = req.routeOptions.url ?? 'unmatched';
    const { metrics } = this.#o;
    metrics.apiRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.apiDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  }

  #notFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const path = pathOf(req);
    const allowed = this.#methods.allowed(path);
    if (allowed.length === 0)
      return sendError(
        new NotFoundError(`${req.method} ${path}: no such endpoint; see docs/api.md`),
        req,
        reply,
        this.#o.log,
      );
    const status = 405;
    const message = `${req.method} ${path}: method not allowed; use ${allowed.join(' or ')}`;
    return reply
      .code(status)
      .header('allow', allowed.join(', '))
      .send({ error: { status, message } });
  }
}
