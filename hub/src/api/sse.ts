import type { EventBus } from '../events.ts';
import type { RequestContext } from './router.ts';

const KEEPALIVE_MS = 15_000;

/**
 * Streams hub changes as server-sent events until the client goes away.
 * `?cluster=NAME` keeps only that cluster's events; each event's `id:` is
 * increasing per hub process.
 */
export function serveEvents(ctx: RequestContext, events: EventBus): void {
  const { req, res, url } = ctx;
  const cluster = url.searchParams.get('cluster');
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    // Proxies like nginx buffer responses by default, which would hold events back.
    'x-accel-buffering': 'no',
  });
  res.write('retry: 3000\n: connected\n\n');
  const unsubscribe = events.subscribe((e) => {
    if (cluster && e.cluster !== cluster) return;
    res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  });
  // A comment line now and then keeps idle connections from being cut by proxies.
  const timer = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    unsubscribe();
  };
  req.on('close', stop);
  res.on('close', stop);
}
