import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { findBinary } from './binaries.ts';
import { HarnessError } from './errors.ts';
import { freePort, retryOnPortClash } from './net.ts';
import { createTempDir, startProcess, waitForReady, type ServerProcess } from './process.ts';

/** Options of {@link startNats}. */
export interface NatsOptions {
  /** Enable JetStream, storing in the server's temp folder. Default: true. */
  jetstream?: boolean;
  /**
   * Extra nats-server configuration (its config file syntax), e.g. accounts
   * and authorization. The harness sets the listen address, ports and JetStream
   * store on the command line, which take precedence. Default: none.
   */
  config?: string;
  /** Give up when the server does not answer after this long. Default: 30000 ms. */
  startTimeoutMs?: number;
}

/** A running nats-server. */
export interface NatsServer {
  /** Client URL, `nats://127.0.0.1:PORT`. */
  readonly url: string;
  /** Client port. */
  readonly port: number;
  /** HTTP monitoring base URL (`/varz`, `/jsz`, ...), `http://127.0.0.1:PORT`. */
  readonly monitorUrl: string;
  /** Temp folder with the server's data and logs, removed by `stop()`. */
  readonly dir: string;
  /** The nats-server process, for logs and measurements. */
  readonly process: ServerProcess;
  /** Stops the server and removes its store. Idempotent. */
  stop(): Promise<void>;
}

/** The server's INFO greeting, as nats clients receive it first on connect. */
export function readNatsInfo(port: number, timeoutMs = 2000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('no INFO line from nats-server')));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      const end = received.indexOf('\r\n');
      if (end < 0) return;
      socket.destroy();
      const line = received.slice(0, end);
      if (!line.startsWith('INFO ')) return reject(new Error(`unexpected greeting: ${line}`));
      try {
        resolve(JSON.parse(line.slice(5)) as Record<string, unknown>);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/**
 * Starts nats-server (the pinned build from `make tools`) on free 127.0.0.1
 * ports, by default with JetStream, and resolves once it greets clients.
 */
export function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  return retryOnPortClash(() => startNatsOnce(options));
}

async function startNatsOnce(options: NatsOptions): Promise<NatsServer> {
  const { jetstream = true, startTimeoutMs = 30_000 } = options;
  const command = findBinary('nats-server');
  const dir = createTempDir('nats');
  let server: ServerProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await server?.stop();
      dir.remove();
    })();
    return stopping;
  };

  try {
    const [port, monitorPort] = [await freePort(), await freePort()];
    const args = [
      '--addr',
      '127.0.0.1',
      '--port',
      String(port),
      '--http_port',
      String(monitorPort),
    ];
    if (jetstream) args.push('--jetstream', '--store_dir', join(dir.path, 'jetstream'));
    if (options.config !== undefined) {
      const configPath = join(dir.path, 'nats.conf');
      await writeFile(configPath, options.config);
      args.push('--config', configPath);
    }
    server = startProcess({ name: 'nats-server', command, args, dir });
    await waitForReady(server, async () => (await readNatsInfo(port)) !== undefined, {
      what: 'nats-server INFO',
      timeoutMs: startTimeoutMs,
    });
    return {
      url: `nats://127.0.0.1:${port}`,
      port,
      monitorUrl: `http://127.0.0.1:${monitorPort}`,
      process: server,
      dir: dir.path,
      stop,
    };
  } catch (error) {
    await stop();
    throw new HarnessError(
      `start nats-server: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
}
