import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { HarnessError } from './errors.ts';
import { freePort, retryOnPortClash } from './net.ts';
import { createTempDir } from './process.ts';

const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

/** The user {@link startGitServer} lets in when no `users` are given. */
export const DEFAULT_GIT_USER = { username: 'driftless', password: 'driftless-test-password' };

/** Options of {@link startGitServer}. */
export interface GitServerOptions {
  /**
   * Accounts allowed in with HTTP basic auth, name → password; every request
   * needs one of them. Default: `{ driftless: 'driftless-test-password' }`
   * ({@link DEFAULT_GIT_USER}).
   */
  users?: Record<string, string>;
}

/** Options of {@link GitServer.createRepo}. */
export interface CreateRepoOptions {
  /** Branch that commits go to and that the repository's HEAD points at. Default: `main`. */
  branch?: string;
}

/** One request the git server received, in arrival order. */
export interface GitRequest {
  /** HTTP method. */
  method: string;
  /** Path and query, e.g. `/app.git/info/refs?service=git-upload-pack`. */
  url: string;
  /** Status code sent back. */
  status: number;
  /** Bytes of response body sent back. */
  responseBytes: number;
}

/** A bare repository served by a {@link GitServer}. */
export interface GitRepo {
  /** Name given to {@link GitServer.createRepo}. */
  readonly name: string;
  /** Clone URL: `http://127.0.0.1:PORT/<name>.git`. */
  readonly url: string;
  /** The branch commits go to. */
  readonly branch: string;
  /** Path of the bare repository on disk. */
  readonly path: string;
  /**
   * Commits on top of the branch: each key is a path (sub-folders allowed), a
   * string value is the file's new content, `null` deletes the file. Resolves
   * with the new commit's sha. Commits to one repository are applied in call order.
   */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  /** The sha the branch points at; fails while the repository has no commit. */
  head(): Promise<string>;
}

/** A local Git server over HTTP (git http-backend as CGI) with basic auth. */
export interface GitServer {
  /** Base URL, `http://127.0.0.1:PORT`, without a trailing slash. */
  readonly url: string;
  /** The port, kept across {@link GitServer.pause} and {@link GitServer.resume}. */
  readonly port: number;
  /** The first configured account, handy for clients. */
  readonly credentials: { username: string; password: string };
  /** Temp folder with the server's data and logs, removed by `stop()`. */
  readonly dir: string;
  /** Number of HTTP requests received so far, including rejected ones. */
  readonly requestCount: number;
  /** Every request received so far, oldest first. */
  readonly requests: readonly GitRequest[];
  /** Creates an empty bare repository `<name>.git` whose HEAD points at the branch. */
  createRepo(name: string, options?: CreateRepoOptions): Promise<GitRepo>;
  /** Makes the server unreachable: stops listening and drops open connections. */
  pause(): Promise<void>;
  /** Listens again on the same port after {@link GitServer.pause}. */
  resume(): Promise<void>;
  /** Stops the server and removes its repositories. */
  stop(): Promise<void>;
}

/** Runs git and resolves with its trimmed stdout; fails with its stderr. */
function runGit(args: string[], options: { gitDir: string; input?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { env: gitEnv({ GIT_DIR: options.gitDir }) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) =>
      reject(new HarnessError(`git ${args[0]}: ${error.message}`, { cause: error })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8').trim());
      else {
        const stderr = Buffer.concat(err).toString('utf8').trim();
        reject(
          new HarnessError(`git ${args[0]} in ${options.gitDir} exited with ${code}: ${stderr}`),
        );
      }
    });
    // A git that fails early closes its stdin; its exit status tells what went wrong.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input);
  });
}

/** Environment for git: no user or system configuration, so results do not depend on the machine. */
function gitEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    HOME: '/nonexistent',
    LANG: 'C',
    ...extra,
  };
}

function checkPath(path: string): void {
  const segments = path.split('/');
  if (
    path === '' ||
    path.startsWith('"') ||
    /[\n\r\0]/.test(path) ||
    segments.some((s) => s === '' || s === '.' || s === '..' || s === '.git')
  ) {
    throw new HarnessError(`commit: invalid file path ${JSON.stringify(path)}`);
  }
}

/** The git fast-import stream of one commit on `branch`. */
function fastImportStream(
  branch: string,
  parent: string | undefined,
  files: Record<string, string | null>,
  message: string,
): string {
  const data = (text: string): string => `data ${Buffer.byteLength(text)}\n${text}\n`;
  const seconds = Math.floor(Date.now() / 1000);
  let stream = `commit refs/heads/${branch}\n`;
  stream += `committer Driftless Test <test@driftless.invalid> ${seconds} +0000\n`;
  stream += data(message);
  if (parent) stream += `from ${parent}\n`;
  for (const [path, content] of Object.entries(files)) {
    checkPath(path);
    stream += content === null ? `D ${path}\n` : `M 100644 inline ${path}\n${data(content)}`;
  }
  return `${stream}\ndone\n`;
}

function checkBasicAuth(
  header: string | undefined,
  users: Record<string, string>,
): string | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  return Object.hasOwn(users, user) && users[user] === decoded.slice(colon + 1) ? user : undefined;
}

/** Splits a CGI response into status, headers and the start of the body. */
function parseCgiHeaders(
  head: Buffer,
): { status: number; headers: [string, string][]; rest: Buffer } | undefined {
  let end = head.indexOf('\r\n\r\n');
  let separator = 4;
  const lf = head.indexOf('\n\n');
  if (lf >= 0 && (end < 0 || lf < end)) {
    end = lf;
    separator = 2;
  }
  if (end < 0) return undefined;
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers.push([name, value]);
  }
  return { status, headers, rest: head.subarray(end + separator) };
}

/**
 * Starts an HTTP Git server on a free 127.0.0.1 port: bare repositories under
 * a temp folder, served by `git http-backend` (clone, fetch and push), every
 * request checked against `users` with basic auth (401 with
 * `WWW-Authenticate` otherwise).
 */
export async function startGitServer(options: GitServerOptions = {}): Promise<GitServer> {
  const users = options.users ?? { [DEFAULT_GIT_USER.username]: DEFAULT_GIT_USER.password };
  const first = Object.entries(users)[0];
  if (!first) throw new HarnessError('startGitServer: users must name at least one account');
  const dir = createTempDir('git');
  const root = join(dir.path, 'repos');
  await mkdir(root);
  const backendLog = createWriteStream(join(dir.path, 'http-backend.log'), { flags: 'a' });
  const requests: GitRequest[] = [];
  const backends = new Set<ChildProcess>();

  function serveCgi(
    req: IncomingMessage,
    res: ServerResponse,
    user: string,
    record: GitRequest,
  ): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let pathInfo: string;
    try {
      pathInfo = decodeURIComponent(url.pathname);
    } catch {
      record.status = 400;
      res.writeHead(400).end('malformed path\n');
      return;
    }
    const env = gitEnv({
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: pathInfo,
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      REMOTE_USER: user,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    });
    const optional: [string, string | undefined][] = [
      ['CONTENT_TYPE', req.headers['content-type']],
      ['CONTENT_LENGTH', req.headers['content-length']],
      ['HTTP_CONTENT_ENCODING', req.headers['content-encoding']],
      ['GIT_PROTOCOL', req.headers['git-protocol'] as string | undefined],
    ];
    for (const [name, value] of optional) if (value) env[name] = value;

    const backend = spawn(HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    backends.add(backend);
    backend.on('close', () => backends.delete(backend));
    backend.stderr.pipe(backendLog, { end: false });
    backend.on('error', (error) => {
      record.status = 500;
      if (!res.headersSent) res.writeHead(500).end(`git http-backend: ${error.message}\n`);
    });
    backend.stdin.on('error', () => {});
    req.pipe(backend.stdin);

    let head = Buffer.alloc(0);
    let started = false;
    backend.stdout.on('data', (chunk: Buffer) => {
      if (started) {
        record.responseBytes += chunk.length;
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const parsed = parseCgiHeaders(head);
      if (!parsed) return;
      started = true;
      record.status = parsed.status;
      res.writeHead(parsed.status, parsed.headers.flat());
      record.responseBytes += parsed.rest.length;
      res.write(parsed.rest);
    });
    backend.stdout.on('end', () => {
      if (!started) {
        record.status = 502;
        res.writeHead(502).end('git http-backend sent no response headers\n');
      } else res.end();
    });
  }

  const server: Server = createServer((req, res) => {
    const record: GitRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      status: 0,
      responseBytes: 0,
    };
    requests.push(record);
    const user = checkBasicAuth(req.headers.authorization, users);
    if (!user) {
      record.status = 401;
      res
        .writeHead(401, {
          'WWW-Authenticate': 'Basic realm="driftless-test-git"',
          'Content-Type': 'text/plain',
        })
        .end('authentication required\n');
      return;
    }
    serveCgi(req, res, user, record);
  });

  let port = 0;
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  try {
    await retryOnPortClash(async () => {
      port = await freePort();
      await listen();
    });
  } catch (error) {
    backendLog.end();
    dir.remove();
    throw new HarnessError(`start git server: ${String(error)}`, { cause: error });
  }
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    credentials: { username: first[0], password: first[1] },
    dir: dir.path,
    get requestCount() {
      return requests.length;
    },
    requests,
    async createRepo(name, { branch = 'main' } = {}) {
      if (!/^[\w.-]+(\/[\w.-]+)*$/.test(name) || name.split('/').includes('..')) {
        throw new HarnessError(`createRepo: invalid repository name ${JSON.stringify(name)}`);
      }
      const path = join(root, `${name}.git`);
      await mkdir(path, { recursive: true });
      await runGit(['init', '--bare', '--quiet', `--initial-branch=${branch}`], { gitDir: path });
      let queue: Promise<unknown> = Promise.resolve();
      const head = (): Promise<string> =>
        runGit(['rev-parse', '--verify', `refs/heads/${branch}`], { gitDir: path });
      return {
        name,
        url: `${url}/${name}.git`,
        branch,
        path,
        head,
        commit(files, message) {
          const result = queue.then(async () => {
            const parent = await head().catch(() => undefined);
            const input = fastImportStream(branch, parent, files, message);
            await runGit(['fast-import', '--quiet', '--date-format=raw'], { gitDir: path, input });
            return head();
          });
          queue = result.catch(() => {});
          return result;
        },
      };
    },
    async pause() {
      await close();
      // Let clients in this process see their pooled connections close, so
      // their next request is refused instead of racing a dying socket.
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
    resume: listen,
    async stop() {
      await close();
      for (const backend of backends) backend.kill('SIGKILL');
      backendLog.end();
      dir.remove();
    },
  };
}
