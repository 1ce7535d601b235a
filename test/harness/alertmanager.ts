import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from './errors.ts';
import { freePort, retryOnPortClash } from './net.ts';
import { createTempDir, startProcess, waitForReady, type ServerProcess } from './process.ts';

/** Where Debian's `prometheus-alertmanager` package puts the server (see .ci/run's apt line). */
export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

/** A running Alertmanager. */
export interface AlertmanagerServer {
  /** Base URL, `http://127.0.0.1:PORT`; the API is under `/api/v2`. */
  readonly url: string;
  readonly process: ServerProcess;
  /** The alerts it holds (`GET /api/v2/alerts`), active and resolved-but-kept alike by filter. */
  alerts(query?: { active?: boolean; resolved?: boolean }): Promise<AlertmanagerAlert[]>;
  stop(): Promise<void>;
}

/** An alert as Alertmanager's API v2 shows it (the fields tests read). */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

/** One receiver that drops everything: the tests read alerts from the API, not from a route. */
const CONFIG = `route:
  receiver: blackhole
  group_wait: 1s
receivers:
  - name: blackhole
`;

/**
 * Starts Alertmanager on a free 127.0.0.1 port with a temp config and storage,
 * clustering off, and resolves once `/-/ready` answers.
 */
export function startAlertmanager(): Promise<AlertmanagerServer> {
  if (!existsSync(ALERTMANAGER_BIN))
    throw new HarnessError(
      `${ALERTMANAGER_BIN} is missing: install Debian's prometheus-alertmanager package (apt-get install prometheus-alertmanager)`,
    );
  return retryOnPortClash(startOnce);
}

async function startOnce(): Promise<AlertmanagerServer> {
  const dir = createTempDir('alertmanager');
  let server: ServerProcess | undefined;
  const stop = async () => {
    await server?.stop();
    dir.remove();
  };
  try {
    const port = await freePort();
    const configFile = join(dir.path, 'alertmanager.yml');
    await writeFile(configFile, CONFIG);
    server = startProcess({
      name: 'alertmanager',
      command: ALERTMANAGER_BIN,
      args: [
        `--config.file=${configFile}`,
        `--storage.path=${join(dir.path, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // An empty address turns the gossip cluster off: one instance, no mesh port.
        '--cluster.listen-address=',
      ],
      dir,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForReady(server, async () => (await fetch(`${url}/-/ready`)).ok, {
      what: 'alertmanager /-/ready',
      timeoutMs: 30_000,
    });
    return {
      url,
      process: server,
      alerts: async (q = {}) => {
        const params = new URLSearchParams();
        if (q.active !== undefined) params.set('active', String(q.active));
        if (q.resolved !== undefined) params.set('resolved', String(q.resolved));
        const res = await fetch(`${url}/api/v2/alerts?${params.toString()}`);
        if (!res.ok) throw new HarnessError(`alertmanager GET /api/v2/alerts: HTTP ${res.status}`);
        return (await res.json()) as AlertmanagerAlert[];
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw new HarnessError(
      `start alertmanager: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
