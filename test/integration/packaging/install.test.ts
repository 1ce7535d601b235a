/**
 * The release artifact as a user gets it: the npm package tarball that
 * `make release` builds, installed with `npm install -g --prefix` from an
 * empty npm cache with the registry switched off (it has no dependencies),
 * then its commands run from outside the checkout — help, versions, the
 * agent's render of a folder, and the CLI against a real hub.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { startChartRepo, type ChartRepo } from '../../harness/charts.ts';
import { findBinary, startHub, type Hub } from '../../harness/index.ts';
import { createTempDir, type TempDir } from '../../harness/process.ts';
import { enroll, makeAgentKey } from '../hub/helpers.ts';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** An exit code with the output, whether the command succeeded or not. */
interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('the release tarball, installed', { timeout: 5 * 60_000 }, () => {
  let dir: TempDir;
  let prefix: string;
  let work: string;
  let hub: Hub;
  let env: NodeJS.ProcessEnv;

  /** Runs an installed command by name from PATH, in a folder outside the checkout. */
  const installed = async (args: readonly string[], cwd = work): Promise<Result> => {
    const [command, ...rest] = args;
    assert.ok(command);
    try {
      const { stdout, stderr } = await execFileAsync(command, rest, { cwd, env });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  before(
    async () => {
      dir = createTempDir('install');
      prefix = join(dir.path, 'prefix');
      work = join(dir.path, 'work');
      // Step 1: build the tarball as make release does.
      const { stdout } = await execFileAsync(
        process.execPath,
        [join(ROOT, 'deploy/release.ts'), '--out', join(dir.path, 'release')],
        { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
      );
      const tarball = stdout.trim();
      assert.ok(tarball.endsWith(`driftless-${VERSION}.tgz`), tarball);
      // Step 2: install it offline, from an empty cache: nothing may come from a registry.
      await execFileAsync('npm', [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--cache',
        join(dir.path, 'npm-cache'),
        '--offline',
        '--no-audit',
        '--no-fund',
        tarball,
      ]);
      cpSync(join(import.meta.dirname, 'fixtures/greeter'), join(work, 'greeter'), {
        recursive: true,
      });
      hub = await startHub();
      // Only the installed commands, Node, and the renderers the agent runs are on PATH.
      env = {
        PATH: [
          join(prefix, 'bin'),
          dirname(process.execPath),
          dirname(findBinary('helm')),
          dirname(findBinary('kustomize')),
          '/usr/bin',
          '/bin',
        ].join(delimiter),
        HOME: work,
        DRIFTLESS_HUB: hub.httpUrl,
        DRIFTLESS_TOKEN: hub.adminToken,
      };
    },
    { timeout: 4 * 60_000 },
  );
  after(async () => {
    await hub?.stop();
    dir?.remove();
  });

  it('installs the three commands as JavaScript outside the checkout', () => {
    for (const name of ['driftless', 'driftless-agent', 'driftless-hub']) {
      const target = realpathSync(join(prefix, 'bin', name));
      assert.equal(
        target,
        join(prefix, 'lib/node_modules/driftless/bin', `${name}.mjs`),
        `${name} runs the installed bundle`,
      );
    }
    assert.equal(existsSync(join(prefix, 'lib/node_modules/driftless/node_modules')), false);
  });

  it('driftless --help', async () => {
    const r = await installed(['driftless', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: driftless <command>/m);
  });

  it('driftless version names the release of the CLI and of the hub', async () => {
    const r = await installed(['driftless', 'version', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const versions = JSON.parse(r.stdout) as {
      cli: { version: string };
      hub: { version: string; url: string };
    };
    assert.equal(versions.cli.version, VERSION);
    assert.equal(versions.hub.version, VERSION);
    assert.equal(versions.hub.url, hub.httpUrl);
  });

  it('driftless-agent --version and driftless-hub --version name the release', async () => {
    for (const name of ['driftless-agent', 'driftless-hub']) {
      const r = await installed([name, '--version']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${name} ${VERSION.replaceAll('.', '\\.')}\\b`));
    }
  });

  it('driftless-agent render prints what a folder renders to, with kustomize and helm', async () => {
    const r = await installed(
      ['driftless-agent', 'render', '.', '-n', 'greeter', '--app', 'greeter'],
      join(work, 'greeter'),
    );
    assert.equal(r.code, 0, r.stderr);
    const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, unknown>);
    assert.deepEqual(
      objects.map((o) => [o['kind'], (o['metadata'] as { name: string }).name, o['data']]),
      [
        [
          'ConfigMap',
          'greeter-config',
          { greeting: 'hello from the image', 'rendered-by': 'kustomize' },
        ],
      ],
    );
  });

  it('driftless cluster list shows an enrolled cluster of a real hub', async () => {
    const created = await installed([
      'driftless',
      'token',
      'create',
      '--cluster',
      'edge-1',
      '--labels',
      'env=edge',
      '-o',
      'json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    await enroll(
      { grpc: hub.grpcAddress, caPem: readFileSync(hub.caFile, 'utf8') },
      { token, clusterName: 'edge-1', csrPem: (await makeAgentKey()).csrPem },
    );
    const list = await installed(['driftless', 'cluster', 'list', '-o', 'json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { name: string }[]).map((c) => c.name),
      ['edge-1'],
    );
  });

  it('a duration without a unit is refused before anything reaches the hub', async () => {
    // `--ttl 5` once made a token that expired 5 ms later; `--timeout 2` waited 2 ms.
    const cases: [string[], string][] = [
      [['token', 'create', '--cluster', 'edge-2', '--ttl', '5'], '--ttl "5" has no unit'],
      [['suspend', 'edge-1', '--for', '30', '--reason', 'x'], '--for "30" has no unit'],
      [['wait', '--revision', 'abcdef1', '--timeout', '120'], '--timeout "120" has no unit'],
    ];
    for (const [args, message] of cases) {
      const r = await installed(['driftless', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const [first] = r.stderr.split('\n');
      assert.ok(first?.startsWith(`driftless: ${message}: write e.g. `), r.stderr);
    }
    const tokens = await installed(['driftless', 'token', 'list', '-o', 'json']);
    assert.equal(tokens.code, 0, tokens.stderr);
    assert.deepEqual(
      (JSON.parse(tokens.stdout) as { cluster: string }[]).filter((t) => t.cluster === 'edge-2'),
      [],
    );
    const accepted = await installed([
      'driftless',
      'token',
      'create',
      '--cluster',
      'edge-2',
      '--ttl',
      '90s',
    ]);
    assert.equal(accepted.code, 0, accepted.stderr);
  });

  it('an Argo CD or Flux command name points to the one that does it here', async () => {
    const cases: [string[], string][] = [
      [['status'], 'driftless app list'],
      [['app', 'sync', 'edge-1/web'], 'driftless sync CLUSTER/APP'],
      [['cluster', 'add', 'edge-3'], 'driftless token create --cluster NAME'],
    ];
    for (const [args, nearest] of cases) {
      const r = await installed(['driftless', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const [first] = r.stderr.split('\n');
      assert.match(first ?? '', /^driftless: unknown command "[a-z ]+"; did you mean /);
      assert.ok(first?.includes(nearest), r.stderr);
    }
  });

  describe("under the agent image's Node flags", () => {
    let repo: ChartRepo;
    before(async () => {
      repo = await startChartRepo();
      const chart = join(dir.path, 'published/redis');
      mkdirSync(join(chart, 'templates'), { recursive: true });
      writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: redis\nversion: 17.3.0\n');
      writeFileSync(
        join(chart, 'templates/cm.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\ndata:\n  chart: {{ .Chart.Name }}-{{ .Chart.Version }}\n',
      );
      await repo.publish(chart);
    });
    after(() => repo?.stop());

    // The image runs the agent as `node --lite-mode`, which has no WebAssembly; Node's
    // global fetch needs it (its HTTP parser), so a chart download must not use it.
    it('the agent downloads a chart dependency from a chart repository', async () => {
      const app = join(work, 'with-deps');
      mkdirSync(app, { recursive: true });
      writeFileSync(
        join(app, 'Chart.yaml'),
        `apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 17.3.0\n    repository: ${repo.url}\n`,
      );
      const agent = join(prefix, 'lib/node_modules/driftless/bin/driftless-agent.mjs');
      const r = await installed(
        [
          process.execPath,
          '--lite-mode',
          '--max-semi-space-size=1',
          agent,
          'render',
          '.',
          '-n',
          'web',
          '--app',
          'web',
          '--allow-remote-bases',
        ],
        app,
      );
      assert.equal(r.code, 0, r.stderr);
      const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, unknown>);
      assert.deepEqual(
        objects.map((o) => o['data']),
        [{ chart: 'redis-17.3.0' }],
      );
      assert.deepEqual(
        repo.requests.map((q) => q.path),
        ['/charts/index.yaml', '/charts/redis-17.3.0.tgz'],
      );
    });
  });
});
