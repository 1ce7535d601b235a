import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  errorMessage,
  extractTraceContext,
  getTracer,
  inSpan,
  type Logger,
} from '@driftless/common';
import { FailureLimiter, peerAddress } from '../enroll/index.ts';
import { httpStatusFor, InvalidArgumentError, NotFoundError, RateLimitedError } from '../errors.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import { authenticate } from './auth.ts';
import { Router, type RequestContext, type Route } from './router.ts';

const tracer = getTracer('@driftless/hub/api');
const MAX_BODY = 1 << 20;

/** Options of {@link ApiServer}. */
export interface ApiServerOptions {
  routes: Route[];
  store: Store;
  metrics: HubMetrics;
  log: Logger;
  /** Limits failed API-token checks per client address. Default 20 per minute. */
  limiter?: FailureLimiter;
}

async function readBody(req: IncomingMessage, what: string): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY)
      throw new InvalidArgumentError(`${what}: request body is larger than 1 MiB`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(
      `${what}: request body is not valid JSON: ${(err as Error).message}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidArgumentError(`${what}: request body must be a JSON object`);
  return value as Record<string, unknown>;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json',
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = contentType === 'application/json' ? JSON.stringify(body) + '\n' : String(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The HTTP JSON API on node:http: routing, auth and roles, errors as JSON, a span per request. */
export class ApiServer {
  readonly #o: ApiServerOptions;
  readonly #router: Router;
  readonly #limiter: FailureLimiter;
  readonly #server: Server;

  constructor(options: ApiServerOptions) {
    this.#o = options;
    this.#router = new Router(options.routes);
    this.#limiter = options.limiter ?? new FailureLimiter({ maxFailures: 20, windowMs: 60_000 });
    this.#server = createServer((req, res) => void this.#handle(req, res));
    // Slow-loris protection; SSE responses are long but their requests finish at once.
    this.#server.requestTimeout = 30_000;
    this.#server.headersTimeout = 10_000;
  }

  /** Listens on `host:port` (port 0 picks one); resolves to the base URL. */
  async listen(address: string): Promise<string> {
    const i = address.lastIndexOf(':');
    const host = address.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
    const port = Number(address.slice(i + 1));
    if (i < 0 || !Number.isInteger(port))
      throw new InvalidArgumentError(`HTTP address "${address}": use host:port`);
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const a = this.#server.address() as AddressInfo;
    const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${shown}:${a.port}`;
  }

  /** Stops accepting and ends open connections (SSE streams included). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { metrics, log } = this.#o;
    const started = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://hub');
    } catch {
      return send(res, 400, {
        error: {
          status: 400,
          message: `request target "${String(req.url).slice(0, 100)}" is not a valid path`,
        },
      });
    }
    const match = this.#router.match(method, url.pathname);
    let routeName = 'unmatched';
    let status = 500;
    const traceparent = req.headers['traceparent'];
    const parent = extractTraceContext({
      traceparent: typeof traceparent === 'string' ? traceparent : '',
    });
    try {
      await inSpan(
        tracer,
        `HTTP ${method} ${match && 'route' in match ? match.route.pattern : url.pathname}`,
        { 'http.request.method': method, 'url.path': url.pathname },
        async (span) => {
          try {
            if (!match)
              throw new NotFoundError(
                `${method} ${url.pathname}: no such endpoint; see docs/api.md`,
              );
            if ('allowed' in match) {
              status = 405;
              res.setHeader('allow', match.allowed.join(', '));
              send(res, 405, {
                error: {
                  status,
                  message: `${method} ${url.pathname}: method not allowed; use ${match.allowed.join(' or ')}`,
                },
              });
              return;
            }
            const { route, params } = match;
            routeName = route.pattern;
            const what = `${method} ${url.pathname}`;
            const principal =
              route.role === null
                ? undefined
                : await authenticate({
                    header: req.headers.authorization,
                    store: this.#o.store,
                    limiter: this.#limiter,
                    peer: peerAddress(req.socket.remoteAddress ?? 'unknown'),
                    needed: route.role,
                    what,
                  });
            if (principal) span.setAttribute('driftless.actor', principal.name);
            let body: Promise<Record<string, unknown>> | undefined;
            const ctx: RequestContext = {
              req,
              res,
              url,
              params,
              principal,
              body: () => (body ??= readBody(req, what)),
            };
            const result = await route.handler(ctx);
            if (result && typeof result === 'object' && 'streamed' in result) {
              status = 200;
              return;
            }
            if (
              result &&
              typeof result === 'object' &&
              'status' in result &&
              'body' in result &&
              typeof result.status === 'number'
            ) {
              const r = result as { status: number; body: unknown; contentType?: string };
              status = r.status;
              send(res, r.status, r.body, r.contentType);
            } else {
              status = 200;
              send(res, 200, result);
            }
          } catch (err) {
            status = httpStatusFor(err);
            if (status >= 500) log.error({ err, method, path: url.pathname }, 'API request failed');
            if (err instanceof RateLimitedError)
              res.setHeader('retry-after', Math.ceil(err.retryAfterMs / 1000));
            const message =
              status === 500 ? 'internal error in the hub; see its logs' : errorMessage(err);
            send(res, status, { error: { status, message } });
          } finally {
            span.setAttribute('http.response.status_code', status);
          }
        },
        parent,
      );
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'API request crashed');
      send(res, 500, {
        error: { status: 500, message: 'internal error in the hub; see its logs' },
      });
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.apiRequests.inc({ method, route: routeName, status: String(status) });
    metrics.apiDuration.observe({ method, route: routeName }, seconds);
  }
}
