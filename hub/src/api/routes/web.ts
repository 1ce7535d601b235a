import { readFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { NotFoundError } from '../../errors.ts';
import type { ApiApp } from '../types.ts';

/** Set by deploy/bundle.ts in the bundled hub: the dashboard's folder relative to the bundle. */
declare const __DRIFTLESS_WEB_DIR__: string | undefined;

/** Where `make web` (Vite) writes the dashboard's bundle, or where the bundled hub carries it. */
export const DEFAULT_WEB_DIR =
  typeof __DRIFTLESS_WEB_DIR__ === 'string'
    ? resolve(import.meta.dirname, __DRIFTLESS_WEB_DIR__)
    : resolve(import.meta.dirname, '../../../web/dist');

/** What the dashboard needs to know about this hub: `GET /api/v1/config`. */
export interface DashboardConfig {
  /**
   * Link from a revision to its commit. Placeholders: `{revision}` (full SHA),
   * `{repo}` (the cluster's repository URL without `.git`), `{cluster}`, `{app}`.
   * Empty: revisions are shown without a link.
   */
  commitUrlTemplate: string;
  /** Link from a trace id to a tracing UI (Jaeger, Tempo): `{traceId}`. Empty: no link. */
  traceUrlTemplate: string;
  /** The host:port agents dial, shown in the dashboard's agent install commands. */
  agentHubAddress: string;
  /** The hub CA certificate (PEM, public) that agents trust while enrolling: `--hub-ca-file`. */
  hubCaPem: string;
}

/** Options of {@link webRoutes}. */
export interface WebRoutesOptions {
  /** The built dashboard (index.html and assets/). Default {@link DEFAULT_WEB_DIR}. */
  dir?: string;
  config: DashboardConfig;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
};

// The bundle loads nothing from elsewhere and runs no inline script; the API token lives
// in sessionStorage, so script injection is the threat worth closing off.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Driftless</title></head>
<body><h1>The Driftless dashboard is not built</h1>
<p>Run <code>make web</code> in the repository (it bundles <code>hub/web</code> into
<code>hub/web/dist</code>), then reload. The HTTP API under <code>/api/v1</code> works without it.</p>
</body></html>`;

/** Headers of every dashboard file: the CSP above, no sniffing, no framing, `cache`. */
function secured(reply: FastifyReply, cache: string): FastifyReply {
  return reply.headers({
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': cache,
  });
}

const NotFound = () => new NotFoundError('no such file');

/**
 * The dashboard's static files (public: they hold no data, every call they make
 * needs an API token) and its config endpoint. Pages are addressed by the URL
 * fragment (`/#/drift`), so the hub serves only `/` and hashed assets.
 */
export function webRoutes(options: WebRoutesOptions) {
  const dir = options.dir ?? DEFAULT_WEB_DIR;
  const index = join(dir, 'index.html');
  const file = async (reply: FastifyReply, path: string, cache: string) => {
    let body: string;
    try {
      body = await readFile(path, 'utf8');
    } catch {
      if (path !== index) throw NotFound();
      return secured(reply, 'no-cache').code(503).type(TYPES['.html']!).send(NOT_BUILT);
    }
    return secured(reply, cache)
      .type(TYPES[extname(path)] ?? 'application/octet-stream')
      .send(body);
  };
  const page = { config: { role: null }, schema: { hide: true } } as const;
  return (app: ApiApp): void => {
    app.get('/', page, (_req, reply) => file(reply, index, 'no-cache'));
    app.get('/favicon.svg', page, (_req, reply) =>
      file(reply, join(dir, 'favicon.svg'), 'public, max-age=86400'),
    );
    app.get<{ Params: { file: string } }>('/assets/:file', page, async (req, reply) => {
      const name = req.params.file;
      // One plain file name: no separators (decoded ones included), no dot files, no `..`.
      if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) throw NotFound();
      // Vite puts a content hash in every asset name, so an asset never changes.
      return file(reply, join(dir, 'assets', name), 'public, max-age=31536000, immutable');
    });
    app.get(
      '/api/v1/config',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'dashboard config',
          tags: ['dashboard'],
          response: {
            200: Type.Object({
              commitUrlTemplate: Type.String(),
              traceUrlTemplate: Type.String(),
              agentHubAddress: Type.String(),
              hubCaPem: Type.String(),
            }),
          },
        },
      },
      async () => options.config,
    );
  };
}
