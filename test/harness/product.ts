/**
 * Over 400 lines on purpose: the hub and the agent launchers share the binary lookup, the
 * watchdog wiring and the log capture; split it when a third launcher comes.
 *
 * Launchers for the product itself — `driftless-hub` and `driftless-agent run` as separate
 * processes, the way they run in production — for end-to-end tests, the demo and benchmarks.
 * Both run under the harness's watchdog (process.ts), so neither outlives the Node process
 * that started it, even when that process is SIGKILLed.
 */
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Cluster } from './cluster.ts';
import { HarnessError } from './errors.ts';
import type { GitRepo } from './git.ts';
import { freePort, retryOnPortClash } from './net.ts';
import {
  createTempDir,
  startProcess,
  waitForReady,
  type ServerProcess,
  type TempDir,
} from './process.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const HUB_BIN = join(ROOT, 'hub/bin/driftless-hub.ts');
const AGENT_BIN = join(ROOT, 'agent/bin/driftless-agent.ts');
const HOOK_SCRIPT = join(import.meta.dirname, 'push-hook.ts');

// The hub closes every agent stream and its store on SIGTERM; that takes well under a second,
// but a loaded 2-core machine running two clusters can be slow.
const HUB_STOP_TIMEOUT_MS = 10_000;
const AGENT_STOP_TIMEOUT_MS = 10_000;

let sharedKeyFile: string | undefined;

/**
 * A secrets key file (`--secrets-key-file`) shared by every hub this test process starts, as
 * replicas on one PostgreSQL database must share their key; created on first use.
 */
export function sharedSecretsKeyFile(): string {
  if (sharedKeyFile === undefined) {
    const file = join(createTempDir('secrets-key').path, 'secrets.key');
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    sharedKeyFile = file;
  }
  return sharedKeyFile;
}

/**
 * The environment of a product process: ours, minus any DRIFTLESS_* or OTEL_* setting that
 * would silently change what the test or demo asked for (DRIFTLESS_CACHE only locates test
 * binaries and stays).
 */
function productEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(DRIFTLESS_|OTEL_)/.test(key) && key !== 'DRIFTLESS_CACHE') continue;
    env[key] = value;
  }
  // Spans are still created (trace ids exist) but nothing is exported.
  return { ...env, OTEL_TRACES_EXPORTER: 'none', ...extra };
}

/** Parses the JSON lines of a log file, skipping anything that is not a JSON object. */
function jsonLines(path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line being written right now; the next read has it whole.
    }
  }
  return out;
}

/** Sends SIGKILL to the server itself (not its watchdog) and waits until it has ended. */
async function killServer(server: ServerProcess): Promise<void> {
  if (!server.running) return;
  const pid = server.serverPid();
  try {
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
    else process.kill(-server.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
  await server.exited;
}

// ---------------------------------------------------------------------------------------------
// Hub

/** Where the harness's receivers (Slack, Teams, webhook, Git hosts, Alertmanager) listen. */
export const LOOPBACK_DESTINATIONS: readonly string[] = ['127.0.0.0/8', '::1'];

/** Options of {@link startHub}. */
export interface StartHubOptions {
  /** Store: `sqlite` (in the data directory) or `postgres` (needs `databaseUrl`). Default: `sqlite`. */
  store?: 'sqlite' | 'postgres';
  /** PostgreSQL connection string for `store: 'postgres'`. */
  databaseUrl?: string;
  /**
   * Data directory (SQLite file, CA key and certificate). Default: a new one in a harness temp
   * folder. Pass a killed or stopped hub's `dataDir` to restart it with the same CA, store and
   * admin token.
   */
  dataDir?: string;
  /** Git webhook secret (at least 16 characters), written to a file for the hub. Default: receiver off. */
  webhookSecret?: string;
  /** gRPC port on 127.0.0.1. Default: a free one ({@link freePort}). Give the old one to restart "in place". */
  grpcPort?: number;
  /** HTTP port on 127.0.0.1. Default: a free one ({@link freePort}). */
  httpPort?: number;
  /** The admin API token of an earlier start of this data directory; read from it when omitted. */
  adminToken?: string;
  /**
   * `--allow-private-destinations`: the non-public addresses notification destinations and Git
   * hosts may point at. The harness's receivers listen on loopback, so a test that sends to
   * them passes {@link LOOPBACK_DESTINATIONS}. Default: none (the hub's default).
   */
  allowPrivateDestinations?: readonly string[];
  /** Extra `driftless-hub` flags, after the harness's own. */
  args?: readonly string[];
  /** Hub log level (`LOG_LEVEL`). Default: `info`. */
  logLevel?: string;
  /** Give up when the hub is not listening after this long. Default: 30000 ms. */
  startTimeoutMs?: number;
  /** More environment variables, e.g. `OTEL_*` to export spans. Default: none. */
  env?: Record<string, string>;
}

/** A running `driftless-hub` process. */
export interface Hub {
  /** HTTP API base URL, `http://127.0.0.1:PORT` (the dashboard is at `/`). */
  readonly httpUrl: string;
  /** gRPC address agents dial, `127.0.0.1:PORT`. */
  readonly grpcAddress: string;
  /** The HTTP port, to restart on the same one. */
  readonly httpPort: number;
  /** The gRPC port, to restart on the same one. */
  readonly grpcPort: number;
  /** The hub's CA certificate (PEM file), which agents trust while they enroll. */
  readonly caFile: string;
  /** The bootstrap admin API token (`at_…`). */
  readonly adminToken: string;
  /** The data directory, kept by {@link Hub.kill} for a restart. */
  readonly dataDir: string;
  /** The webhook secret the hub was started with, if any. */
  readonly webhookSecret: string | undefined;
  /** The process, under the harness's watchdog (logs: `process.logPath`). */
  readonly process: ServerProcess;
  /** SIGTERM, wait for a clean exit; removes the data directory if the harness made it. */
  stop(): Promise<void>;
  /** SIGKILL: the hub gets no chance to close anything; the data directory stays for a restart. */
  kill(): Promise<void>;
}

/** Data directories the harness made, each with the temp folder to remove once no hub uses it. */
const harnessDataDirs = new Map<string, { dir: TempDir; owner: symbol }>();
let hubStarts = 0;

/**
 * Starts `node hub/bin/driftless-hub.ts` on 127.0.0.1 and waits for its `listening` line (the
 * bound addresses). Ports not given are picked by {@link freePort}, below Linux's ephemeral
 * range: a port the kernel picked (port 0) is often taken by some outgoing connection while a
 * killed hub is down, so the restart "in place" could not bind it again. The bootstrap admin
 * token is written, mode 0600, into the data directory, so a restart of that directory knows
 * it too.
 */
export async function startHub(options: StartHubOptions = {}): Promise<Hub> {
  if (options.grpcPort !== undefined && options.httpPort !== undefined)
    return startHubOnce(options);
  return retryOnPortClash(async () =>
    startHubOnce({
      ...options,
      grpcPort: options.grpcPort ?? (await freePort()),
      httpPort: options.httpPort ?? (await freePort()),
    }),
  );
}

async function startHubOnce(options: StartHubOptions): Promise<Hub> {
  const store = options.store ?? 'sqlite';
  if (store === 'postgres' && !options.databaseUrl)
    throw new HarnessError('startHub: store postgres needs databaseUrl');
  const owner = Symbol('hub');
  let dir: TempDir;
  let dataDir: string;
  const known = options.dataDir === undefined ? undefined : harnessDataDirs.get(options.dataDir);
  if (options.dataDir === undefined) {
    dir = createTempDir('hub');
    dataDir = join(dir.path, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    harnessDataDirs.set(dataDir, { dir, owner });
  } else if (known) {
    // A restart: this hub takes the folder over, so stopping the killed one leaves it alone.
    dir = known.dir;
    dataDir = options.dataDir;
    known.owner = owner;
  } else {
    dir = createTempDir('hub');
    dataDir = options.dataDir;
  }
  const tokenFile = join(dataDir, 'bootstrap-admin-token');
  const args = [
    HUB_BIN,
    '--data-dir',
    dataDir,
    '--grpc-address',
    `127.0.0.1:${options.grpcPort ?? 0}`,
    '--http-address',
    `127.0.0.1:${options.httpPort ?? 0}`,
    '--store',
    store,
    '--bootstrap-token-file',
    tokenFile,
  ];
  if (options.databaseUrl)
    args.push('--database-url', options.databaseUrl, '--secrets-key-file', sharedSecretsKeyFile());
  if (options.webhookSecret !== undefined) {
    // A file, not the flag: a flag shows in the process list (docs/hub.md).
    const secretFile = join(dir.path, 'webhook-secret');
    writeFileSync(secretFile, options.webhookSecret, { mode: 0o600 });
    args.push('--webhook-secret-file', secretFile);
  }
  if (options.allowPrivateDestinations?.length)
    args.push('--allow-private-destinations', options.allowPrivateDestinations.join(','));
  args.push(...(options.args ?? []));

  hubStarts++;
  const process_ = startProcess({
    name: `driftless-hub-${hubStarts}`,
    command: process.execPath,
    args,
    dir,
    env: productEnv({ LOG_LEVEL: options.logLevel ?? 'info', ...options.env }),
    stopTimeoutMs: HUB_STOP_TIMEOUT_MS,
  });
  // stdout and stderr share the log file; the `listening` line is the only one with that event.
  let listening: { grpc: string; http: string } | undefined;
  try {
    await waitForReady(
      process_,
      () => {
        listening ??= jsonLines(process_.logPath).find((l) => l['event'] === 'listening') as
          { grpc: string; http: string } | undefined;
        // The token file is written before the listening line on a first start.
        return listening !== undefined;
      },
      { what: 'driftless-hub listening', timeoutMs: options.startTimeoutMs ?? 30_000 },
    );
  } catch (error) {
    await process_.stop();
    if (options.dataDir === undefined) {
      harnessDataDirs.delete(dataDir);
      dir.remove();
    }
    throw error;
  }
  const { grpc, http } = listening!;
  const adminToken =
    options.adminToken ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '');
  if (!adminToken)
    throw new HarnessError(
      `startHub: no admin token: ${tokenFile} is missing (data directory made outside the harness?); pass adminToken`,
    );
  const grpcPort = Number(grpc.slice(grpc.lastIndexOf(':') + 1));
  const httpPort = Number(new URL(http).port);

  return {
    httpUrl: `http://127.0.0.1:${httpPort}`,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    httpPort,
    grpcPort,
    caFile: join(dataDir, 'ca.crt'),
    adminToken,
    dataDir,
    webhookSecret: options.webhookSecret,
    process: process_,
    async stop() {
      await process_.stop();
      const entry = harnessDataDirs.get(dataDir);
      if (entry?.owner === owner) {
        harnessDataDirs.delete(dataDir);
        entry.dir.remove();
      } else if (!entry && !known && options.dataDir !== undefined) {
        dir.remove(); // only the logs folder: the caller's data directory is theirs
      }
    },
    kill: () => killServer(process_),
  };
}

/**
 * A new, empty hub data directory in a harness temp folder, for a caller that must prepare it
 * before the first {@link startHub} (e.g. {@link hubNatsConfig}). The first hub started on it
 * takes it over, so the folder is removed when that hub (or the one restarted in its place)
 * stops.
 */
export function createHubDataDir(): string {
  const dir = createTempDir('hub');
  const dataDir = join(dir.path, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  harnessDataDirs.set(dataDir, { dir, owner: Symbol('unclaimed') });
  return dataDir;
}

/**
 * The operator's step before nats-server starts: `driftless-hub nats-config --data-dir DIR`,
 * which creates the hub's NATS keys in `dataDir` when missing and prints the server
 * configuration that trusts them (JWTs and public keys only). Pass it as
 * `startNats({ config })`, and the same `dataDir` to {@link startHub} with `--nats-url`.
 */
export function hubNatsConfig(dataDir: string): string {
  try {
    return execFileSync(process.execPath, [HUB_BIN, 'nats-config', '--data-dir', dataDir], {
      encoding: 'utf8',
      env: productEnv({ LOG_LEVEL: 'warn' }),
    });
  } catch (error) {
    throw new HarnessError(`driftless-hub nats-config --data-dir ${dataDir} failed`, {
      cause: error,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP API

/** An answer of the hub's HTTP API. */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** A small client of the hub's HTTP API (docs/api.md) with one API token. */
export interface HubApi {
  /** Any call; never throws for an HTTP error status. */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  /** GET; throws a {@link HarnessError} naming the path and the hub's message unless 2xx. */
  get<T = unknown>(path: string): Promise<T>;
  /** POST with a JSON body; throws unless 2xx. */
  post<T = unknown>(path: string, body?: unknown): Promise<T>;
}

/** A {@link HubApi} for `hub` with `token` (default: the hub's admin token). */
export function hubApi(hub: Pick<Hub, 'httpUrl' | 'adminToken'>, token = hub.adminToken): HubApi {
  const request = async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(hub.httpUrl + path, {
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
      // Not JSON (e.g. /metrics): the text as it is.
    }
    return { status: res.status, body: parsed as T };
  };
  const checked = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await request<T>(method, path, body);
    if (res.status < 200 || res.status > 299) {
      const message =
        (res.body as { error?: { message?: string } } | undefined)?.error?.message ??
        JSON.stringify(res.body);
      throw new HarnessError(`${method} ${path}: hub answered ${res.status}: ${message}`);
    }
    return res.body;
  };
  return {
    request,
    get: (path) => checked('GET', path),
    post: (path, body) => checked('POST', path, body ?? {}),
  };
}

/**
 * Creates a single-use enrollment token for `cluster` through the API (`POST /api/v1/tokens`)
 * and returns the secret, which the hub shows only in this answer.
 */
export async function createEnrollmentToken(
  hub: Pick<Hub, 'httpUrl' | 'adminToken'>,
  cluster: string,
  labels?: Record<string, string>,
): Promise<string> {
  const created = await hubApi(hub).post<{ token: string }>('/api/v1/tokens', {
    cluster,
    ttl: '1h',
    ...(labels ? { labels } : {}),
  });
  return created.token;
}

// ---------------------------------------------------------------------------------------------
// Git webhooks

/** The GitHub-style push payload the hub's receiver reads (docs/api.md). */
function pushPayload(repoUrl: string, branch: string, after: string): string {
  return JSON.stringify({
    ref: `refs/heads/${branch}`,
    after,
    repository: { clone_url: repoUrl, default_branch: branch },
  });
}

/**
 * Tells the hub about a push the way GitHub does (`X-GitHub-Event: push`, HMAC-SHA256 of the
 * body), for commits made with {@link GitRepo.commit}, which writes the repository directly
 * and so runs no hook. Resolves with how many connected agents got a refresh hint.
 */
export async function notifyPush(
  hub: Pick<Hub, 'httpUrl' | 'webhookSecret'>,
  repo: Pick<GitRepo, 'url' | 'branch'>,
  revision: string,
): Promise<number> {
  if (!hub.webhookSecret) throw new HarnessError('notifyPush: the hub has no webhook secret');
  const { body, signature } = signedPush(repo.url, repo.branch, revision, hub.webhookSecret);
  const res = await fetch(`${hub.httpUrl}/api/v1/webhooks/git`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-hub-signature-256': `sha256=${signature}`,
    },
    body,
  });
  const answer = (await res.json()) as { matched?: number };
  if (res.status !== 202)
    throw new HarnessError(`webhook push: hub answered ${res.status}: ${JSON.stringify(answer)}`);
  return answer.matched ?? 0;
}

/**
 * Installs a `post-receive` hook in `repo` that delivers every branch push (`git push` through
 * the git server) to the hub's webhook receiver, as a Git hosting service would. The secret
 * goes in a file next to the hook, never on a command line.
 */
export function installPushHook(
  repo: Pick<GitRepo, 'url' | 'path'>,
  hub: Pick<Hub, 'httpUrl' | 'webhookSecret'>,
): void {
  if (!hub.webhookSecret) throw new HarnessError('installPushHook: the hub has no webhook secret');
  const secretFile = join(repo.path, 'driftless-webhook-secret');
  writeFileSync(secretFile, hub.webhookSecret, { mode: 0o600 });
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const hook = join(repo.path, 'hooks', 'post-receive');
  mkdirSync(join(repo.path, 'hooks'), { recursive: true });
  writeFileSync(
    hook,
    `#!/bin/sh\n# Delivers pushes to the Driftless hub's Git webhook receiver (test/harness/product.ts).\nexec ${[
      process.execPath,
      HOOK_SCRIPT,
      `${hub.httpUrl}/api/v1/webhooks/git`,
      repo.url,
      secretFile,
    ]
      .map(quote)
      .join(' ')}\n`,
  );
  chmodSync(hook, 0o755);
}

/** Builds the payload and signature for {@link installPushHook}'s hook script. */
export function signedPush(
  repoUrl: string,
  branch: string,
  after: string,
  secret: string,
): { body: string; signature: string } {
  const body = pushPayload(repoUrl, branch, after);
  return { body, signature: createHmac('sha256', secret).update(body).digest('hex') };
}

// ---------------------------------------------------------------------------------------------
// Agent

/** Options of {@link startAgent}. */
export interface StartAgentOptions {
  /** The cluster the agent reconciles (its kubeconfig is used). */
  cluster: Pick<Cluster, 'kubeconfigPath'>;
  /** The agent's `--cluster-name`: its folder `clusters/<name>` and its identity at the hub. */
  clusterName: string;
  /** The fleet repository's clone URL (no credentials in it). */
  repoUrl: string;
  /** Basic-auth credentials for the repository. */
  gitCredentials: { username: string; password: string };
  /** The hub to report to. Default: none (standalone, logs and Events only). */
  hub?: Pick<Hub, 'grpcAddress' | 'caFile'>;
  /** Enrollment token, for the first start only; later starts reuse the identity Secret. */
  token?: string;
  /** `--cluster-labels`, sent at enrollment and on every connect. */
  labels?: Record<string, string>;
  /** `--poll-interval` as the agent reads it (`1s`, `10s`, `1m`). Default: `1m`, the agent's own. */
  pollInterval?: string;
  /** `--work-dir`, where checkouts survive restarts. Default: a folder in the agent's temp folder. */
  workDir?: string;
  /** `--log-level`. Default: `info` (the lines tests read are info and warn). */
  logLevel?: string;
  /**
   * `--transport`: `grpc` (the default) or `nats`, which reports over NATS to `natsUrl` and
   * enrolls through the hub's gRPC port as always.
   */
  transport?: 'grpc' | 'nats';
  /** `--nats-url`, the NATS server(s) a `nats` transport agent connects to. */
  natsUrl?: string;
  /** More DRIFTLESS_* variables. */
  env?: Record<string, string>;
  /** The agent's entry script, e.g. another tree's, to compare builds. Default: this tree's. */
  bin?: string;
}

/** A running `driftless-agent run` process. */
export interface AgentProcess {
  /** The agent's `--cluster-name`. */
  readonly clusterName: string;
  /** The process, under the harness's watchdog (logs: `process.logPath`). */
  readonly process: ServerProcess;
  /** The work directory it uses. */
  readonly workDir: string;
  /** Every JSON log line written so far (pino: `msg`, `level`, fields), oldest first. */
  logs(): Record<string, unknown>[];
  /** SIGTERM and wait for a clean exit (the outbox is flushed as far as the hub acks). */
  stop(): Promise<void>;
  /** SIGKILL: no chance to finish anything; the identity Secret stays in the cluster. */
  kill(): Promise<void>;
}

let agentStarts = 0;

/**
 * Starts `node agent/bin/driftless-agent.ts run` configured entirely through DRIFTLESS_*
 * variables, as the Helm chart does. Resolves once the process is spawned; wait on the hub or
 * on {@link AgentProcess.logs} for what it does.
 */
export function startAgent(options: StartAgentOptions): AgentProcess {
  if (options.transport === 'nats' && !options.natsUrl)
    throw new HarnessError('startAgent: transport nats needs natsUrl');
  const dir = createTempDir('agent');
  const workDir = options.workDir ?? join(dir.path, 'work');
  const env: Record<string, string> = {
    DRIFTLESS_REPO_URL: options.repoUrl,
    DRIFTLESS_CLUSTER_NAME: options.clusterName,
    DRIFTLESS_GIT_USERNAME: options.gitCredentials.username,
    DRIFTLESS_GIT_PASSWORD: options.gitCredentials.password,
    DRIFTLESS_KUBECONFIG: options.cluster.kubeconfigPath,
    DRIFTLESS_WORK_DIR: workDir,
    DRIFTLESS_LOG_LEVEL: options.logLevel ?? 'info',
    ...(options.pollInterval ? { DRIFTLESS_POLL_INTERVAL: options.pollInterval } : {}),
    ...(options.hub
      ? {
          DRIFTLESS_HUB_ADDRESS: options.hub.grpcAddress,
          DRIFTLESS_HUB_CA_FILE: options.hub.caFile,
        }
      : {}),
    ...(options.transport ? { DRIFTLESS_TRANSPORT: options.transport } : {}),
    ...(options.natsUrl ? { DRIFTLESS_NATS_URL: options.natsUrl } : {}),
    ...(options.token ? { DRIFTLESS_ENROLLMENT_TOKEN: options.token } : {}),
    ...(options.labels
      ? {
          DRIFTLESS_CLUSTER_LABELS: Object.entries(options.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        }
      : {}),
    ...options.env,
  };
  agentStarts++;
  const process_ = startProcess({
    name: `driftless-agent-${options.clusterName}-${agentStarts}`,
    command: process.execPath,
    args: [options.bin ?? AGENT_BIN, 'run'],
    dir,
    env: productEnv(env),
    stopTimeoutMs: AGENT_STOP_TIMEOUT_MS,
  });
  // The temp folder (log, default work dir) stays until this process ends, so a stopped
  // agent's log can still be compared with what the hub recorded; its janitor removes it.
  return {
    clusterName: options.clusterName,
    process: process_,
    workDir,
    logs: () => jsonLines(process_.logPath),
    stop: () => process_.stop(),
    async kill() {
      await killServer(process_);
    },
  };
}
