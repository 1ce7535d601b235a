import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HarnessError } from './errors.ts';
import { freePort, retryOnPortClash } from './net.ts';
import { createTempDir, startProcess, waitForReady, type ServerProcess } from './process.ts';

const execFileAsync = promisify(execFile);

/** Options of {@link startPostgres}. */
export interface PostgresOptions {
  /** Give up when the server is not accepting connections after this long. Default: 30000 ms. */
  startTimeoutMs?: number;
  /**
   * Server settings (`-c name=value`) after the harness's own, so they win: e.g.
   * `{ fsync: 'on', synchronous_commit: 'on' }` for a durable server, or
   * `{ shared_preload_libraries: 'pg_stat_statements' }` to count statements.
   */
  settings?: Record<string, string>;
}

/** A running throw-away PostgreSQL server. */
export interface PostgresServer {
  /** `postgresql://postgres@127.0.0.1:PORT/postgres` (trust authentication, superuser). */
  readonly connectionString: string;
  /** The TCP port on 127.0.0.1. */
  readonly port: number;
  /** Temp folder with the server's data and logs, removed by `stop()`. */
  readonly dir: string;
  /** The postgres process, for logs and measurements. */
  readonly process: ServerProcess;
  /**
   * Writes the database (`postgres`: schema and rows) to `file` in pg_dump's custom format.
   * Throws a {@link HarnessError} with pg_dump's message when it fails.
   */
  dump(file: string): Promise<void>;
  /**
   * Loads a {@link dump} into the database, which must not yet hold its tables (a fresh
   * server). Throws a {@link HarnessError} with pg_restore's message when it fails; the
   * restore runs in one transaction, so a failed one leaves nothing behind.
   */
  restore(file: string): Promise<void>;
  /** Stops the server (fast shutdown) and removes its data. Idempotent. */
  stop(): Promise<void>;
}

/** The folder with initdb and postgres: `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin. */
async function postgresBinDir(): Promise<string> {
  try {
    const { stdout } = await execFileAsync('pg_config', ['--bindir']);
    const dir = stdout.trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // No pg_config (it comes with libpq-dev); look in Debian's layout.
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] === undefined) {
    throw new HarnessError(
      'PostgreSQL not found (no initdb from pg_config --bindir or in /usr/lib/postgresql/*/bin): install postgresql',
    );
  }
  return join(root, versions[0], 'bin');
}

/** uid and gid of the `postgres` system user, from /etc/passwd. */
function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new HarnessError(
      'running as root, but there is no postgres user to run PostgreSQL as (initdb refuses root)',
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Starts a throw-away PostgreSQL: initdb into a temp folder, then postgres on
 * a free 127.0.0.1 port with its unix socket in that folder and durability
 * off. As root (where initdb refuses to run) both run as the `postgres` system
 * user, through setpriv so that signals reach postgres directly.
 */
export function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  return retryOnPortClash(() => startPostgresOnce(options));
}

async function startPostgresOnce(options: PostgresOptions): Promise<PostgresServer> {
  const { startTimeoutMs = 30_000 } = options;
  const bin = await postgresBinDir();
  const dir = createTempDir('postgres');
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
    const data = join(dir.path, 'data');
    const sockets = join(dir.path, 'sockets');
    await mkdir(sockets);
    const prefix: string[] = [];
    if (process.getuid?.() === 0) {
      const { uid, gid } = postgresUser();
      await chown(dir.path, uid, gid);
      await chown(sockets, uid, gid);
      prefix.push('setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--');
    }
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
    const initdb = [
      join(bin, 'initdb'),
      `--pgdata=${data}`,
      '--username=postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ];
    const [command = '', ...args] = [...prefix, ...initdb];
    try {
      await execFileAsync(command, args, { env, cwd: dir.path });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? '';
      throw new HarnessError(`initdb failed: ${stderr.trim()}`, { cause: error });
    }

    const port = await freePort();
    const postgres = [
      join(bin, 'postgres'),
      '-D',
      data,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-k',
      sockets,
      // Throw-away data: durability only costs time.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      ...Object.entries(options.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ];
    const [serverCommand = '', ...serverArgs] = [...prefix, ...postgres];
    // SIGINT is postgres's fast shutdown; SIGTERM would wait for clients to disconnect.
    server = startProcess({
      name: 'postgres',
      command: serverCommand,
      args: serverArgs,
      dir,
      env,
      stopSignal: 'SIGINT',
      stopTimeoutMs: 10_000,
    });
    const started = server;
    await waitForReady(
      started,
      () => readFileSync(started.logPath, 'utf8').includes('ready to accept connections'),
      { what: 'postgres', timeoutMs: startTimeoutMs },
    );
    const connectionString = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    // The client tools connect over TCP (trust authentication), so they need not run as postgres.
    const tool = async (name: string, args: string[]) => {
      try {
        await execFileAsync(join(bin, name), args, { env, maxBuffer: 16 * 1024 * 1024 });
      } catch (error) {
        const stderr = (error as { stderr?: string }).stderr ?? '';
        throw new HarnessError(`${name} failed: ${stderr.trim() || String(error)}`, {
          cause: error,
        });
      }
    };
    return {
      connectionString,
      port,
      dump: (file) =>
        tool('pg_dump', ['--format=custom', '--no-owner', `--file=${file}`, connectionString]),
      restore: (file) =>
        tool('pg_restore', [
          '--single-transaction',
          '--exit-on-error',
          '--no-owner',
          `--dbname=${connectionString}`,
          file,
        ]),
      process: started,
      dir: dir.path,
      stop,
    };
  } catch (error) {
    await stop();
    throw new HarnessError(
      `start postgres: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
}
