import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarnessError } from './errors.ts';

const WATCHDOG = fileURLToPath(new URL('./watchdog.sh', import.meta.url));

/**
 * A throw-away folder under `os.tmpdir()/driftless-<kind>-*`. A janitor process
 * removes it, after the servers registered with {@link TempDir.adopt} have
 * ended, if this Node process dies without calling {@link TempDir.remove}.
 */
export interface TempDir {
  /** Absolute path of the folder. */
  readonly path: string;
  /** Registers a process group whose end the janitor waits for before removing the folder. */
  adopt(processGroup: number): void;
  /** Removes the folder now and retires its janitor. Idempotent. */
  remove(): void;
}

/** A server started by {@link startProcess}, running under `watchdog.sh`. */
export interface ServerProcess {
  /** The name given at start, used in messages. */
  readonly name: string;
  /** Pid of the watchdog, which is also the id of the process group the server runs in. */
  readonly pid: number;
  /** File that collects the server's stdout and stderr. */
  readonly logPath: string;
  /** Settles with the exit code (null when ended by a signal) once the server has ended. */
  readonly exited: Promise<number | null>;
  /** Whether the server has not ended yet. */
  readonly running: boolean;
  /** Pid of the server itself (the watchdog's child), once the watchdog has recorded it. */
  serverPid(): number | undefined;
  /** The last `lines` lines of the log (default 30). */
  logTail(lines?: number): string;
  /**
   * Asks the server to end with its stop signal, waits up to `timeoutMs`
   * (default: the `stopTimeoutMs` it was started with) and then kills
   * whatever is left of its process group.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** Options of {@link startProcess}. */
export interface ProcessOptions {
  /** Name used in messages and for the log file `<dir>/<name>.log`. */
  name: string;
  /** Executable to run. */
  command: string;
  /** Its arguments. */
  args: readonly string[];
  /** Folder for the log and pid files; its janitor also waits for this server. */
  dir: TempDir;
  /** Environment of the server. Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Working directory. Default: `dir.path`. */
  cwd?: string;
  /** Signal that makes the server shut down cleanly. Default: `SIGTERM`. */
  stopSignal?: NodeJS.Signals;
  /**
   * How long the server may take to end after its stop signal before its
   * process group is killed, in {@link ServerProcess.stop} and when this
   * process dies. Default: 5000 ms.
   */
  stopTimeoutMs?: number;
}

const running = new Set<ServerProcess>();
let hooksInstalled = false;

/** Ask every server still running to stop; used when this process is going away. */
function stopAllNow(): void {
  for (const server of running) signal(server.pid, 'SIGTERM');
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', stopAllNow);
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      stopAllNow();
      // Keep the default behaviour (die by the signal) unless someone else handles it.
      if (process.listenerCount(name) === 1) {
        process.removeListener(name, onSignal);
        process.kill(process.pid, name);
      }
    };
    process.on(name, onSignal);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/**
 * Spawns a watchdog that holds a pipe from this process and acts when it
 * closes. Its stdin must not keep the event loop alive: a test that forgets to
 * stop a server should still exit, and the watchdog then cleans up.
 */
function spawnWatched(
  args: string[],
  stdout: number | 'ignore',
  cwd: string,
  env?: NodeJS.ProcessEnv,
): ChildProcess {
  const child = spawn('bash', [WATCHDOG, ...args], {
    cwd,
    env: env ?? process.env,
    detached: true,
    stdio: ['pipe', stdout, stdout],
  });
  (child.stdin as Socket | null)?.unref();
  child.unref();
  return child;
}

/** Creates a {@link TempDir} named `driftless-<kind>-XXXXXX` under `os.tmpdir()`. */
export function createTempDir(kind: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), `driftless-${kind}-`));
  const janitor = spawnWatched(['janitor', path], 'ignore', tmpdir());
  janitor.on('error', () => {});
  let removed = false;
  return {
    path,
    adopt(processGroup) {
      appendFileSync(join(path, '.pgids'), `${processGroup}\n`);
    },
    remove() {
      if (removed) return;
      removed = true;
      rmSync(path, { recursive: true, force: true });
      if (janitor.pid !== undefined) signal(janitor.pid, 'SIGKILL');
    },
  };
}

function readTail(path: string, lines: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(path).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

/**
 * Starts `command` under `watchdog.sh` in its own process group, with stdout
 * and stderr appended to `<dir>/<name>.log`. The server ends when
 * {@link ServerProcess.stop} is called, when this process exits or is killed
 * by a signal (SIGKILL included), whichever comes first.
 */
export function startProcess(options: ProcessOptions): ServerProcess {
  installExitHooks();
  const { name, command, args, dir, stopTimeoutMs = 5000 } = options;
  const logPath = join(dir.path, `${name}.log`);
  const pidFile = join(dir.path, `${name}.pid`);
  const log = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawnWatched(
      [
        'run',
        options.stopSignal ?? 'SIGTERM',
        String(stopTimeoutMs),
        pidFile,
        '--',
        command,
        ...args,
      ],
      log,
      options.cwd ?? dir.path,
      options.env,
    );
  } finally {
    closeSync(log);
  }
  // Spawn failures also arrive as an event; without a listener they would crash the process.
  child.on('error', () => {});
  const pid = child.pid;
  if (pid === undefined) throw new HarnessError(`start ${name}: could not spawn bash`);
  dir.adopt(pid);

  let isRunning = true;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      isRunning = false;
      running.delete(server);
      // Anything the server left behind in its group goes with it.
      signal(-pid, 'SIGKILL');
      resolve(code);
    });
  });

  const server: ServerProcess = {
    name,
    pid,
    logPath,
    exited,
    get running() {
      return isRunning;
    },
    serverPid() {
      try {
        const value = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
        return Number.isNaN(value) ? undefined : value;
      } catch {
        return undefined;
      }
    },
    logTail(lines = 30) {
      return readTail(logPath, lines);
    },
    async stop({ timeoutMs = stopTimeoutMs } = {}) {
      // Keep the event loop alive until the exit event arrives.
      child.ref();
      if (isRunning) {
        signal(pid, 'SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        });
        await Promise.race([exited, timeout]);
        clearTimeout(timer);
      }
      signal(-pid, 'SIGKILL');
      await exited;
    },
  };
  running.add(server);
  return server;
}

/** Options of {@link waitForReady}. */
export interface ReadyOptions {
  /** What is being waited for, for the error message (e.g. "kube-apiserver /readyz"). */
  what: string;
  /** Give up after this long. Default: 60000 ms. */
  timeoutMs?: number;
  /** Pause between checks. Default: 50 ms. */
  intervalMs?: number;
}

/**
 * Polls `check` until it returns true. Fails with the tail of a server's log
 * when one of `servers` ends first, or with the first server's log when the
 * time runs out. A check that throws counts as "not yet"; its last error
 * becomes the failure's cause.
 */
export async function waitForReady(
  servers: ServerProcess | readonly ServerProcess[],
  check: () => boolean | Promise<boolean>,
  options: ReadyOptions,
): Promise<void> {
  const watched: readonly ServerProcess[] = 'pid' in servers ? [servers] : servers;
  const { what, timeoutMs = 60_000, intervalMs = 50 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const ended = watched.find((server) => !server.running);
    if (ended) {
      const code = await ended.exited;
      throw new HarnessError(
        `${ended.name} exited with code ${code} before ${what} was ready; last lines of ${ended.logPath}:\n${ended.logTail()}`,
        { cause: lastError },
      );
    }
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const logs = watched.map(
        (server) => `last lines of ${server.logPath}:\n${server.logTail(15)}`,
      );
      const reason = lastError instanceof Error ? ` (last check: ${lastError.message})` : '';
      throw new HarnessError(
        `${what} not ready after ${timeoutMs} ms${reason}; ${logs.join('\n')}`,
        {
          cause: lastError,
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
