/* eslint-disable @typescript-eslint/no-unsafe-member-access -- hub API answers are JSON, checked by the assertions. */
// Fixtures of the link's fault tests: a nats-server this test can kill -9 and restart on the
// same port and store directory, the link-level agent process (link-agent.ts), and the hub's
// view of a cluster's sync history.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { findBinary, freePort, readNatsInfo } from '@driftless/test';
import { api, waitFor, type HubProcess } from './helpers.ts';

const LINK_AGENT = resolve(import.meta.dirname, 'link-agent.ts');

/** A nats-server with JetStream on a fixed port and store directory, restartable. */
export interface RestartableNats {
  url: string;
  /** Messages the report stream holds now (its state in the monitoring endpoint's `/jsz`). */
  reportMessages(): Promise<number>;
  /** SIGKILL: no chance to flush anything. */
  kill(): Promise<void>;
  /** Starts it again on the same port, configuration and store directory. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts nats-server with `config` (the hub's nats-config) in a fresh directory. */
export async function startRestartableNats(config: string): Promise<RestartableNats> {
  const dir = mkdtempSync(join(tmpdir(), 'driftless-link-nats-'));
  const port = await freePort();
  const monitorPort = await freePort();
  writeFileSync(join(dir, 'nats.conf'), config);
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      findBinary('nats-server'),
      [
        '--addr',
        '127.0.0.1',
        '--port',
        String(port),
        '--http_port',
        String(monitorPort),
        '--jetstream',
        '--store_dir',
        join(dir, 'js'),
        '--config',
        join(dir, 'nats.conf'),
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    await waitFor(
      'nats-server INFO',
      async () => ((await readNatsInfo(port)) ? true : undefined),
      30_000,
    );
  };
  const end = async (signal: NodeJS.Signals) => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await done;
  };
  await start();
  const reportMessages = async () => {
    const r = await fetch(`http://127.0.0.1:${monitorPort}/jsz?accounts=true&streams=true`);
    const jsz = (await r.json()) as {
      account_details?: { stream_detail?: { name: string; state: { messages: number } }[] }[];
    };
    const stream = jsz.account_details
      ?.flatMap((a) => a.stream_detail ?? [])
      .find((x) => x.name === 'DRIFTLESS_REPORTS');
    return stream?.state.messages ?? 0;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    reportMessages,
    kill: () => end('SIGKILL'),
    start,
    stop: () => end('SIGTERM'),
  };
}

/** The link-level agent process and what it said. */
export interface LinkAgent {
  proc: ChildProcess;
  /** Every state it reported, in order. */
  states: string[];
  lastError(): string;
  log(): string;
  send(command: string): void;
  waitState(state: string, timeoutMs?: number): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts link-agent.ts for `cluster` against `hub`. */
export function startLinkAgent(options: {
  hub: HubProcess;
  cluster: string;
  workDir: string;
  token?: string;
  natsUrl?: string;
}): LinkAgent {
  const proc = spawn(process.execPath, [LINK_AGENT], {
    env: {
      ...process.env,
      OTEL_TRACES_EXPORTER: 'none',
      LINK_AGENT_WORK_DIR: options.workDir,
      LINK_AGENT_HUB: options.hub.grpc,
      LINK_AGENT_CA_FILE: options.hub.caFile,
      LINK_AGENT_CLUSTER: options.cluster,
      LINK_AGENT_TOKEN: options.token ?? '',
      LINK_AGENT_TRANSPORT: options.natsUrl ? 'nats' : 'grpc',
      LINK_AGENT_NATS_URL: options.natsUrl ?? '',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const states: string[] = [];
  let error = '';
  let log = '';
  const listeners = new Set<() => void>();
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const ev = JSON.parse(line) as { event: string; state?: string; error?: string };
    if (ev.event === 'status' && ev.state) {
      states.push(ev.state);
      error = ev.error ?? '';
    }
    for (const l of [...listeners]) l();
  });
  proc.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-100_000)));
  const exited = new Promise((r) => proc.once('exit', r));
  const end = async (signal: NodeJS.Signals) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await exited;
  };
  return {
    proc,
    states,
    lastError: () => error,
    log: () => log,
    send: (command) => proc.stdin.write(command + '\n'),
    waitState: (state, timeoutMs = 60_000) =>
      waitFor(
        `link agent ${options.cluster} ${state} (states: ${states.join(' → ')}; log: ${log.slice(-1500)})`,
        () => (states.at(-1) === state ? true : undefined),
        timeoutMs,
      ).then(() => undefined),
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}

/** The sync ids the hub stored for `cluster`, and how often each. */
export async function storedSyncIds(
  hub: HubProcess,
  admin: string,
  cluster: string,
): Promise<Map<string, number>> {
  const r = await api(hub, admin, 'GET', `/api/v1/history?cluster=${cluster}&limit=5000`);
  const counts = new Map<string, number>();
  for (const item of r.body.items as { syncId: string }[])
    counts.set(item.syncId, (counts.get(item.syncId) ?? 0) + 1);
  return counts;
}

/** Creates an enrollment token for `cluster`. */
export async function enrollmentToken(hub: HubProcess, admin: string, cluster: string, uses = 1) {
  const r = await api(hub, admin, 'POST', '/api/v1/tokens', { cluster, ttl: '1h', uses });
  if (r.status !== 201) throw new Error(`token create: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}
