import { createServer } from 'node:net';
import { HarnessError } from './errors.ts';

// Ports handed out by this process, so two servers started together never get the same one.
const handedOut = new Set<number>();

// Below Linux's ephemeral range (32768-60999), where outgoing connections take
// their local ports, so a port found free here stays free more often.
const FIRST_PORT = 20_000;
const PORT_COUNT = 12_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * Runs `start` again, up to `attempts` times in all (default 3), when it failed
 * because a port that {@link freePort} picked was taken before the server
 * bound it (the error or the server log tail in it says "address already in use").
 */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      const clash = error instanceof Error && /address already in use/i.test(error.message);
      if (!clash || attempt >= attempts) throw error;
    }
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now and this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * PORT_COUNT);
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new HarnessError('no free port found on 127.0.0.1');
}
