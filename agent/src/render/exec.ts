import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RenderError, RenderTimeoutError } from './errors.ts';
import { formatBytes, RENDER_LIMIT_DEFAULTS } from './limits.ts';

/** Default limit of one `kustomize build` or `helm template`. */
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000;

/** Largest output accepted when the run sets none; a runaway template should fail, not exhaust memory. */
const MAX_STDOUT_BYTES = RENDER_LIMIT_DEFAULTS.maxRenderBytes;

/**
 * A proxy address nothing listens on. Without network, every HTTP(S) request
 * a tool makes to a non-loopback host goes there and fails, whatever field of
 * a chart or kustomization named the URL.
 */
const DEAD_PROXY = 'http://127.0.0.1:1';

/** How much of the tool's standard error ends up in an error message. */
const MAX_STDERR_CHARS = 4096;

/**
 * Finds `name` on `$PATH`, or checks `override` when one is given. Throws a
 * {@link RenderError} that says how to get the binary.
 */
export async function findBinary(name: string, override?: string): Promise<string> {
  if (override) {
    if (await isExecutable(override)) return override;
    throw new RenderError(`${name} binary ${override} not found or not executable`);
  }
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  throw new RenderError(`${name} not found on PATH: run make tools`);
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** One run of a renderer binary. */
export interface ToolRun {
  /** Absolute path of the binary. */
  bin: string;
  args: string[];
  cwd: string;
  /** Names the run in errors, e.g. `kustomize build apps/web`. */
  what: string;
  /** Kill the child after this long. Default {@link DEFAULT_TOOL_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Kills the child when aborted; the run then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * May the tool reach the network? Without (the default) it gets an empty
   * PATH (no `git` for remote bases) and a proxy that does not exist; with,
   * the agent's PATH and proxy variables.
   */
  network?: boolean;
  /** Largest standard output accepted, in bytes; the tool is killed past it. Default 64 MiB. */
  maxOutputBytes?: number;
  /** Written to the child's standard input (e.g. a password for `--password-stdin`). */
  stdin?: string;
  /** Rewrites the tool's error output for people (e.g. chart paths to repository paths). */
  tidyError?: (stderr: string) => string;
  /** Called with the private temporary folder before the child starts (e.g. to write a values file). */
  prepare?: (tmp: string) => Promise<string[]>;
}

/**
 * Runs a renderer and returns its standard output.
 *
 * The child gets a minimal environment: no tokens, no kubeconfig, no cloud
 * credentials from the agent's own environment, and HOME and the XDG and
 * Helm folders pointed at a fresh temporary folder, so a chart or plugin
 * sees no user configuration and leaves nothing behind. It runs in its own
 * process group so that on timeout or abort its children (git, plugins)
 * are killed with it.
 */
export async function runTool(run: ToolRun): Promise<string> {
  run.signal?.throwIfAborted();
  const tmp = await mkdtemp(path.join(tmpdir(), 'driftless-render-'));
  try {
    const extraArgs = run.prepare ? await run.prepare(tmp) : [];
    const empty = path.join(tmp, 'no-bin');
    await mkdir(empty);
    return await spawnTool(
      run,
      [...run.args, ...extraArgs],
      childEnv(tmp, empty, run.network ?? false),
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function childEnv(tmp: string, emptyBin: string, network: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    // With network, PATH stays so kustomize can find git for remote bases.
    PATH: network ? (process.env['PATH'] ?? '/usr/bin:/bin') : emptyBin,
    LANG: 'C.UTF-8',
    HOME: tmp,
    TMPDIR: tmp,
    XDG_CONFIG_HOME: path.join(tmp, 'config'),
    XDG_CACHE_HOME: path.join(tmp, 'cache'),
    XDG_DATA_HOME: path.join(tmp, 'data'),
    HELM_CONFIG_HOME: path.join(tmp, 'helm', 'config'),
    HELM_CACHE_HOME: path.join(tmp, 'helm', 'cache'),
    HELM_DATA_HOME: path.join(tmp, 'helm', 'data'),
    // A file that does not exist: nothing may read the agent's cluster credentials.
    KUBECONFIG: path.join(tmp, 'no-kubeconfig'),
    // Git (remote kustomize bases) must never stop to ask for a password.
    GIT_TERMINAL_PROMPT: '0',
  };
  if (network) {
    // Proxy settings are needed to reach a remote base from behind a proxy,
    // and only then; they can carry credentials, so not by default.
    for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy']) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
  } else {
    for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy', 'ALL_PROXY']) {
      env[name] = DEAD_PROXY;
    }
    env['NO_PROXY'] = '';
    env['GIT_CONFIG_NOSYSTEM'] = '1';
  }
  return env;
}

function spawnTool(run: ToolRun, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const timeoutMs = run.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  return new Promise<string>((resolve, reject) => {
    const child = spawn(run.bin, args, {
      cwd: run.cwd,
      env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => undefined); // a tool that exits without reading its input
    child.stdin.end(run.stdin ?? '');
    const maxBytes = run.maxOutputBytes ?? MAX_STDOUT_BYTES;
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let failure: Error | undefined;

    const kill = (why: Error) => {
      failure ??= why;
      try {
        // Negative pid: the whole process group started above.
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(
      () =>
        kill(new RenderTimeoutError(`${run.what}: timed out after ${timeoutMs}ms and was killed`)),
      timeoutMs,
    );
    const onAbort = () => kill(toError(run.signal?.reason));
    run.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxBytes) {
        kill(
          new RenderError(
            `${run.what}: output larger than ${formatBytes(maxBytes)} (--render-max-bytes)`,
          ),
        );
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      // Keep the end: tools print the actual error last.
      stderr = (stderr + chunk).slice(-MAX_STDERR_CHARS);
    });
    child.on('error', (err) => {
      failure ??= new RenderError(`${run.what}: cannot start ${run.bin}: ${err.message}`, {
        cause: err,
      });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      if (failure) return reject(failure);
      if (code === 0) return resolve(Buffer.concat(stdout).toString('utf8'));
      const status = code === null ? `killed by ${signal}` : `exit code ${code}`;
      const tidy = run.tidyError ?? ((s: string) => s);
      const detail = tidy(stderr.trim()) || status;
      reject(new RenderError(`${run.what}: ${detail}`, { cause: new Error(status) }));
    });
  });
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
