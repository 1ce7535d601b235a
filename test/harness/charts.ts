import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from './binaries.ts';
import { HarnessError } from './errors.ts';
import { freePort, retryOnPortClash } from './net.ts';
import { createTempDir, startProcess, waitForReady, type ServerProcess } from './process.ts';

const run = promisify(execFile);

/** One request a chart server saw. */
export interface ChartRequest {
  method: string;
  path: string;
  /** The user of the basic-auth header, '' without one. */
  user: string;
}

/** Options of {@link startChartRepo}. */
export interface ChartRepoOptions {
  /** Users and passwords for basic auth; empty (the default) serves anyone. */
  users?: Record<string, string>;
}

/** A Helm HTTP chart repository: static `index.yaml` and packages. */
export interface ChartRepo {
  /** Base URL, `http://127.0.0.1:PORT/charts`. */
  readonly url: string;
  /** Folder served. */
  readonly dir: string;
  /** Every request, in order. */
  readonly requests: ChartRequest[];
  /**
   * Packages the chart folder with `helm package` into the repository and
   * rebuilds `index.yaml` with `helm repo index`. Returns the package file name.
   */
  publish(chartDir: string): Promise<string>;
  stop(): Promise<void>;
}

/** Runs the pinned `helm` with a private HOME, as the tests' packager. */
export async function helm(args: string[], options: { cwd?: string } = {}): Promise<string> {
  const home = createTempDir('helm-home');
  try {
    const { stdout } = await run(findBinary('helm'), args, {
      cwd: options.cwd,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: home.path,
        HELM_CACHE_HOME: join(home.path, 'c'),
        HELM_CONFIG_HOME: join(home.path, 'f'),
        HELM_DATA_HOME: join(home.path, 'd'),
      },
    });
    return stdout;
  } finally {
    home.remove();
  }
}

/**
 * Serves a folder as a Helm chart repository over HTTP on 127.0.0.1, with
 * optional basic auth, the way a static chart host does (`index.yaml` plus
 * `.tgz` packages).
 */
export async function startChartRepo(options: ChartRepoOptions = {}): Promise<ChartRepo> {
  const dir = createTempDir('chart-repo');
  const root = join(dir.path, 'charts');
  await mkdir(root, { recursive: true });
  const requests: ChartRequest[] = [];
  const users = options.users ?? {};
  const server: Server = createServer((req, res) => {
    const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [user = '', password = ''] = auth
      ? Buffer.from(auth, 'base64').toString('utf8').split(/:(.*)/s)
      : [];
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push({ method: req.method ?? '', path, user });
    if (Object.keys(users).length > 0 && users[user] !== password) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="charts"' }).end();
      return;
    }
    const file = normalize(join(dir.path, path));
    if (!file.startsWith(root + sep)) return void res.writeHead(404).end();
    stat(file).then(
      (info) => {
        if (!info.isFile()) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': info.size });
        createReadStream(file).pipe(res);
      },
      () => void res.writeHead(404).end(),
    );
  });
  const port = await retryOnPortClash(async () => {
    const p = await freePort();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', resolve);
    });
    return p;
  });
  const url = `http://127.0.0.1:${port}/charts`;
  return {
    url,
    dir: root,
    requests,
    async publish(chartDir) {
      const out = await helm(['package', chartDir, '--destination', root]);
      const file = /saved it to: (.+\.tgz)/.exec(out)?.[1]?.trim();
      if (!file) throw new HarnessError(`helm package ${chartDir}: ${out}`);
      await helm(['repo', 'index', root, '--url', url]);
      return file.slice(file.lastIndexOf('/') + 1);
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      dir.remove();
    },
  };
}

/** A running OCI registry (`github.com/distribution/distribution/v3`). */
export interface OciRegistry {
  /** `127.0.0.1:PORT`, plain HTTP. */
  readonly host: string;
  readonly process: ServerProcess;
  /** Pushes a packaged chart to `oci://HOST/<path>` with `helm push`. */
  push(chartTgz: string, path: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the distribution registry on a free 127.0.0.1 port, storing in a temp folder. */
export function startOciRegistry(): Promise<OciRegistry> {
  return retryOnPortClash(async () => {
    const dir = createTempDir('oci-registry');
    const port = await freePort();
    const config = join(dir.path, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log: { level: warn }',
        'storage:',
        `  filesystem: { rootdirectory: ${join(dir.path, 'data')} }`,
        '  delete: { enabled: true }',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '',
      ].join('\n'),
    );
    const proc = startProcess({
      name: 'registry',
      command: findBinary('registry'),
      args: ['serve', config],
      dir,
      env: { PATH: process.env['PATH'] ?? '', OTEL_TRACES_EXPORTER: 'none' },
    });
    try {
      await waitForReady(proc, async () => (await fetch(`http://127.0.0.1:${port}/v2/`)).ok, {
        what: 'registry /v2/',
        timeoutMs: 30_000,
      });
    } catch (err) {
      await proc.stop();
      dir.remove();
      throw err;
    }
    const host = `127.0.0.1:${port}`;
    return {
      host,
      process: proc,
      async push(chartTgz, path) {
        await helm(['push', chartTgz, `oci://${host}/${path}`, '--plain-http']);
      },
      async stop() {
        await proc.stop();
        dir.remove();
      },
    };
  });
}
