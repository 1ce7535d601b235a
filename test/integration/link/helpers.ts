// Helpers of the link's integration tests: the real `driftless-hub` process (copied in
// small from the hub's tests, so the suites stay independent), its HTTP API, and the real
// `driftless-agent run` process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { sharedSecretsKeyFile, waitFor as waitUntil } from '@driftless/test';

const HUB_BIN = resolve(import.meta.dirname, '../../../hub/bin/driftless-hub.ts');
const AGENT_BIN = resolve(import.meta.dirname, '../../../agent/bin/driftless-agent.ts');

/** A running hub process. */
export interface HubProcess {
  grpc: string;
  http: string;
  dataDir: string;
  /** Set on the first start of a data directory only. */
  bootstrapToken: string | undefined;
  caFile: string;
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit: the hub gets no chance to close anything. */
  kill(): Promise<void>;
}

/** Starts `driftless-hub` (SQLite) and waits for its "listening" line. */
export async function startHub(options: {
  dataDir?: string;
  grpcAddress?: string;
  httpAddress?: string;
  args?: string[];
}): Promise<HubProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'driftless-link-hub-'));
  const proc = spawn(
    process.execPath,
    [
      HUB_BIN,
      '--data-dir',
      dataDir,
      '--grpc-address',
      options.grpcAddress ?? '127.0.0.1:0',
      '--http-address',
      options.httpAddress ?? '127.0.0.1:0',
      ...(options.args ?? []),
      // Replicas on one PostgreSQL database share their secrets key.
      ...(options.args?.includes('postgres') ? ['--secrets-key-file', sharedSecretsKeyFile()] : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'info', OTEL_TRACES_EXPORTER: 'none' },
    },
  );
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-200_000)));
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code, signal) =>
      reject(new Error(`driftless-hub exited with ${code ?? signal}: ${stderr.slice(-3000)}`)),
    ),
  );
  exited.catch(() => undefined);
  let bootstrapToken: string | undefined;
  const lines = createInterface({ input: proc.stdout });
  const listening = new Promise<{ grpc: string; http: string }>((resolveListen) => {
    lines.on('line', (line) => {
      const ev = JSON.parse(line) as { event: string; grpc: string; http: string; token: string };
      if (ev.event === 'bootstrap-admin-token') bootstrapToken = ev.token;
      if (ev.event === 'listening') resolveListen(ev);
    });
  });
  const addr = await Promise.race([listening, exited]);
  await Promise.race([
    startedLines(
      () => stderr,
      () => bootstrapToken,
    ),
    exited,
  ]);
  const end = async (signal: NodeJS.Signals) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await done;
  };
  return {
    grpc: addr.grpc,
    http: addr.http,
    dataDir,
    get bootstrapToken() {
      return bootstrapToken;
    },
    caFile: join(dataDir, 'ca.crt'),
    proc,
    stderr: () => stderr,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}

/** An HTTP API call: status and parsed JSON body. */
export async function api(
  hub: { http: string },
  token: string,
  method: string,
  path: string,
  body?: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by assertions
): Promise<{ status: number; body: any }> {
  const res = await fetch(hub.http + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

/** A running `driftless-agent run` process and its JSON log lines. */
export interface AgentProcess {
  proc: ChildProcess;
  /** Every log line so far, parsed. */
  logs(): Record<string, unknown>[];
  /** The raw log text (to check that no secret is in it). */
  text(): string;
  /** Resolves with the exit code (or signal). */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** Starts `driftless-agent run` with `env` (DRIFTLESS_* variables), as in a cluster. */
export function startAgent(env: Record<string, string>): AgentProcess {
  const proc = spawn(process.execPath, [AGENT_BIN, 'run'], {
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'none', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: proc.stderr }).on('line', (line) => {
    text += line + '\n';
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      lines.push({ msg: line });
    }
  });
  const exited = new Promise<number | string>((r) =>
    proc.once('exit', (code, signal) => r(code ?? signal ?? -1)),
  );
  return {
    proc,
    logs: () => lines,
    text: () => text,
    exited,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Polls `fn` until it returns a value other than undefined (`false` and `null` count as values). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const found = await waitUntil(
    what,
    async () => {
      const value = await fn();
      return value === undefined ? undefined : { value };
    },
    { timeoutMs, everyMs },
  );
  return found.value;
}

/**
 * Waits for the hub's "hub started" log line, which comes after its stdout lines; on a first
 * start (the hub says so on stderr before that line) also for the bootstrap token line.
 */
export async function startedLines(
  stderr: () => string,
  bootstrapToken: () => string | undefined,
): Promise<void> {
  await waitFor('the hub started log line', () =>
    stderr().includes('"msg":"hub started"') ? true : undefined,
  );
  if (stderr().includes('first start:'))
    await waitFor('the bootstrap admin token line', bootstrapToken);
}

/** The file's text (for the hub CA). */
export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
