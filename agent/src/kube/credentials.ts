import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { errorMessage, TerminalError, TransientError } from '@driftless/common';

/** What one request presents to the API server. */
export interface Credentials {
  /** Extra request headers, e.g. `authorization`. */
  headers: Record<string, string>;
  /** PEM client certificate and key, for mutual TLS. */
  cert?: Buffer;
  key?: Buffer;
}

/**
 * Where credentials come from. `get` is called before each request and
 * must be cheap when nothing changed; `invalidate` is called after the
 * server answered 401, so a rotated token or expired plugin credential is
 * fetched again.
 */
export interface CredentialSource {
  get(): Promise<Credentials>;
  invalidate(): void;
}

/** Options of {@link staticCredentials}. */
export interface StaticCredentialOptions {
  token?: string;
  /** A file holding the bearer token; re-read at most every `tokenFileTtlMs`, and after a 401. */
  tokenFile?: string;
  basic?: { username: string; password: string };
  cert?: Buffer;
  key?: Buffer;
  /** Default 60 s, as client-go re-reads a token file. */
  tokenFileTtlMs?: number;
  now?: () => number;
}

/**
 * Credentials from kubeconfig fields: a token file (wins over an inline
 * token, as in client-go), an inline token, basic auth, and a client
 * certificate. A token file that cannot be read is a TransientError: the
 * kubelet may be rotating it.
 */
export function staticCredentials(options: StaticCredentialOptions): CredentialSource {
  const now = options.now ?? Date.now;
  const ttl = options.tokenFileTtlMs ?? 60_000;
  const tls = { cert: options.cert, key: options.key };
  const fixed: Record<string, string> = {};
  if (options.token) fixed['authorization'] = `Bearer ${options.token}`;
  else if (options.basic) {
    const pair = `${options.basic.username}:${options.basic.password}`;
    fixed['authorization'] = `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  const file = options.tokenFile;
  if (!file) {
    const creds: Credentials = { headers: fixed, ...tls };
    return { get: async () => creds, invalidate: () => {} };
  }
  let cached: { creds: Credentials; readAt: number } | undefined;
  return {
    async get() {
      if (cached && now() - cached.readAt < ttl) return cached.creds;
      let token: string;
      try {
        token = (await readFile(file, 'utf8')).trim();
      } catch (err) {
        throw new TransientError(`token file ${file}: ${errorMessage(err)}`, { cause: err });
      }
      cached = { creds: { headers: { authorization: `Bearer ${token}` }, ...tls }, readAt: now() };
      return cached.creds;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

/** Options of {@link ExecCredentialSource}. */
export interface ExecCredentialOptions {
  /** The kubeconfig `user.exec` entry: command, args, env, apiVersion, provideClusterInfo. */
  exec: Record<string, unknown>;
  /** How errors name the entry, e.g. `kubeconfig user admin`. */
  where: string;
  /** Passed to the plugin in KUBERNETES_EXEC_INFO when provideClusterInfo is set. */
  cluster: { server: string; cluster: Record<string, unknown> };
  /** Client certificate from the kubeconfig itself, used when the plugin returns none. */
  base: { cert?: Buffer; key?: Buffer };
  /** Longest a plugin may run. Default 30 s. */
  timeoutMs?: number;
  now?: () => number;
}

const EXEC_API_VERSIONS = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
];

/**
 * An exec credential plugin, run without a terminal, as specified in
 * https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins:
 * the plugin prints an ExecCredential whose status holds a token and/or a
 * client certificate; it is cached until `expirationTimestamp` (less 10 s),
 * or until the server answers 401 when it has none.
 */
export class ExecCredentialSource implements CredentialSource {
  readonly #options: ExecCredentialOptions;
  readonly #now: () => number;
  #cached: { creds: Credentials; expiresAt: number } | undefined;
  #inflight: Promise<Credentials> | undefined;

  constructor(options: ExecCredentialOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const apiVersion = options.exec['apiVersion'];
    if (typeof apiVersion !== 'string' || !EXEC_API_VERSIONS.includes(apiVersion)) {
      throw new TerminalError(
        `${options.where}: exec apiVersion ${String(apiVersion)} is not one of ${EXEC_API_VERSIONS.join(', ')}`,
      );
    }
    if (typeof options.exec['command'] !== 'string' || options.exec['command'] === '') {
      throw new TerminalError(`${options.where}: exec has no command`);
    }
  }

  get(): Promise<Credentials> {
    if (this.#cached && this.#now() < this.#cached.expiresAt) {
      return Promise.resolve(this.#cached.creds);
    }
    this.#inflight ??= this.#run().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  invalidate(): void {
    this.#cached = undefined;
  }

  async #run(): Promise<Credentials> {
    const { exec, where, cluster } = this.#options;
    const command = exec['command'] as string;
    const apiVersion = exec['apiVersion'] as string;
    const args = Array.isArray(exec['args']) ? exec['args'].map(String) : [];
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const e of Array.isArray(exec['env']) ? exec['env'] : []) {
      const { name, value } = (e ?? {}) as { name?: unknown; value?: unknown };
      if (typeof name === 'string') env[name] = typeof value === 'string' ? value : '';
    }
    const spec: Record<string, unknown> = { interactive: false };
    if (exec['provideClusterInfo'] === true) {
      spec['cluster'] = {
        server: cluster.server,
        'certificate-authority-data': cluster.cluster['certificate-authority-data'],
        'insecure-skip-tls-verify': cluster.cluster['insecure-skip-tls-verify'],
        'tls-server-name': cluster.cluster['tls-server-name'],
      };
    }
    env['KUBERNETES_EXEC_INFO'] = JSON.stringify({ apiVersion, kind: 'ExecCredential', spec });
    const timeoutMs = this.#options.timeoutMs ?? 30_000;
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(
        command,
        args,
        { env, timeout: timeoutMs, maxBuffer: 1 << 20 },
        (err, out, stderr) => {
          if (!err) return resolve(out);
          reject(
            new TransientError(
              `${where}: exec plugin ${command} failed: ${execFailure(err, String(stderr), timeoutMs)}`,
              { cause: err },
            ),
          );
        },
      );
      // Not interactive: the plugin reads end-of-file at once, as kubectl gives it without a terminal.
      child.stdin?.end();
    });
    return this.#accept(stdout);
  }

  #accept(stdout: string): Credentials {
    const { where, exec, base } = this.#options;
    const command = exec['command'] as string;
    let cred: { kind?: unknown; status?: Record<string, unknown> };
    try {
      cred = JSON.parse(stdout) as typeof cred;
    } catch {
      throw new TerminalError(`${where}: exec plugin ${command} did not print JSON`);
    }
    const status = cred.status;
    if (cred.kind !== 'ExecCredential' || !status) {
      throw new TerminalError(`${where}: exec plugin ${command} printed no ExecCredential status`);
    }
    const token = typeof status['token'] === 'string' ? status['token'] : undefined;
    const certPem = status['clientCertificateData'];
    const keyPem = status['clientKeyData'];
    if (!token && (typeof certPem !== 'string' || typeof keyPem !== 'string')) {
      throw new TerminalError(
        `${where}: exec plugin ${command} returned neither a token nor a client certificate and key`,
      );
    }
    const creds: Credentials = {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      cert: typeof certPem === 'string' ? Buffer.from(certPem) : base.cert,
      key: typeof keyPem === 'string' ? Buffer.from(keyPem) : base.key,
    };
    const stamp = status['expirationTimestamp'];
    const expiry = typeof stamp === 'string' ? Date.parse(stamp) : Number.NaN;
    const expiresAt = Number.isNaN(expiry) ? Number.POSITIVE_INFINITY : expiry - 10_000;
    this.#cached = { creds, expiresAt };
    return creds;
  }
}

/**
 * Why a plugin run failed, in one line: a timeout, else the first line of its stderr, else how
 * it ended. Never the command line: its arguments may hold secrets.
 */
function execFailure(err: Error, stderr: string, timeoutMs: number): string {
  const e = err as Error & { killed?: boolean; signal?: string | null; code?: unknown };
  if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return 'printed more than 1 MiB';
  if (e.killed && e.signal) return `no answer within ${timeoutMs / 1000} s`;
  const line = stderr.trim().split('\n')[0]?.slice(0, 200);
  if (line) return line;
  if (typeof e.code === 'number') return `exited with code ${e.code}`;
  if (typeof e.code === 'string') return e.code;
  return e.signal ? `ended by ${e.signal}` : 'failed to run';
}
