import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TerminalError } from '@driftless/common';
import type { Registry } from 'prom-client';

/** The metrics address could not be used (malformed, or the port is taken). */
export class MetricsServerError extends TerminalError {
  override name = 'MetricsServerError';
}

/** A listening metrics endpoint. */
export interface MetricsServer {
  /** `host:port` it listens on (the real port when 0 was asked for). */
  readonly address: string;
  /** Stops listening. */
  close(): Promise<void>;
}

/**
 * Serves `registry` at `GET /metrics` (Prometheus text format) on `address`
 * (`host:port`, `:port` for every interface; port 0 picks a free one).
 * Anything else answers 404. Read-only and without secrets, like every
 * Prometheus endpoint; put it on an interface only the scraper reaches.
 */
export async function serveMetrics(address: string, registry: Registry): Promise<MetricsServer> {
  const at = address.lastIndexOf(':');
  const host = at > 0 ? address.slice(0, at).replace(/^\[(.*)\]$/, '$1') : '';
  const port = Number(address.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new MetricsServerError(
      `--metrics-address "${address}": use host:port or :port, e.g. :9464`,
    );
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) =>
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`metrics: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new MetricsServerError(`--metrics-address ${address}: ${err.message}`, { cause: err }),
      ),
    );
    server.listen({ port, ...(host ? { host } : {}) }, resolve);
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    address: `${shownHost}:${bound.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
