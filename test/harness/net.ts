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
