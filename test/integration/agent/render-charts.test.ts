/**
 * Charts from where charts live, rendered with the real helm and kustomize:
 * a Helm HTTP repository (static index.yaml and packages, with basic auth),
 * an OCI registry (distribution), dependencies of an in-repository chart
 * resolved from both, the on-disk cache, and the messages when a chart
 * cannot be had. Kustomize `helmCharts` with a vendored chart and from a
 * repository.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  appSpec,
  chartCredentials,
  ChartUnreachableError,
  render,
  RenderError,
  type AppSpec,
  type RenderOptions,
} from '@driftless/agent';
import {
  findBinary,
  freePort,
  startChartRepo,
  startOciRegistry,
  type ChartRepo,
  type OciRegistry,
} from '@driftless/test';

const PASSWORD = 'chart-repo-password-not-in-messages';

function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
}

/** A chart whose ConfigMap says which chart and version rendered it. */
function chartFiles(name: string, version: string, extra: Record<string, string> = {}) {
  return {
    [`${name}/Chart.yaml`]: `apiVersion: v2\nname: ${name}\nversion: ${version}\n`,
    [`${name}/values.yaml`]: 'greeting: hello\n',
    [`${name}/templates/cm.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-${name}\ndata:\n  chart: ${name}-${version}\n  greeting: {{ .Values.greeting | quote }}\n`,
    ...extra,
  };
}

describe('charts from Helm repositories and OCI registries', () => {
  let repo: ChartRepo;
  /** A repository without credentials, for dependencies. */
  let openRepo: ChartRepo;
  let registry: OciRegistry;
  let work: string;
  let credentialsDir: string;
  let helmBin: string;
  let kustomizeBin: string;

  before(async () => {
    helmBin = findBinary('helm');
    kustomizeBin = findBinary('kustomize');
    [repo, openRepo, registry] = await Promise.all([
      startChartRepo({ users: { reader: PASSWORD } }),
      startChartRepo(),
      startOciRegistry(),
    ]);
    work = mkdtempSync(path.join(tmpdir(), 'driftless-charts-test-'));
    const src = path.join(work, 'src');
    writeTree(src, {
      ...chartFiles('hello', '1.0.0'),
      ...chartFiles('redis', '17.3.0'),
    });
    await repo.publish(path.join(src, 'hello'));
    await openRepo.publish(path.join(src, 'redis'));
    writeTree(path.join(work, 'oci'), chartFiles('ocichart', '2.1.0'));
    const packaged = path.join(work, 'pkg');
    mkdirSync(packaged);
    const { helm } = await import('@driftless/test');
    await helm(['package', path.join(work, 'oci', 'ocichart'), '--destination', packaged]);
    await registry.push(path.join(packaged, 'ocichart-2.1.0.tgz'), 'charts');
    credentialsDir = path.join(work, 'credentials');
    writeTree(credentialsDir, { reader: `reader:${PASSWORD}\n`, wrong: 'reader:nope\n' });
  });
  after(async () => {
    await Promise.all([repo?.stop(), openRepo?.stop(), registry?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A fresh checkout folder and chart cache per test. */
  function setup(files: Record<string, string>) {
    const root = mkdtempSync(path.join(work, 'checkout-'));
    writeTree(root, files);
    const cacheDir = mkdtempSync(path.join(work, 'cache-'));
    const run = (app: Partial<AppSpec> & { path: string }, extra: Partial<RenderOptions> = {}) =>
      render({
        root,
        app: appSpec({ name: 'web', namespace: 'web', ...app }),
        helmBin,
        kustomizeBin,
        charts: {
          cacheDir,
          credentials: chartCredentials({ dir: credentialsDir }),
          plainHttpRegistries: [registry.host],
        },
        ...extra,
      });
    return { root, cacheDir, run };
  }
  const helmApp = (chart: NonNullable<AppSpec['helm']['chart']>, valuesFiles: string[] = []) => ({
    path: 'apps/web',
    helm: { releaseName: 'web', valuesFiles, values: {}, chart },
  });

  it('renders a pinned chart from an HTTP repository with credentials from a file, values from Git, then from the cache', async () => {
    const { run } = setup({ 'apps/web/values-prod.yaml': 'greeting: from git\n' });
    const chart = {
      repository: repo.url,
      name: 'hello',
      version: '1.0.0',
      credentials: { file: 'reader' },
    };
    const out = await run(helmApp(chart, ['values-prod.yaml']));
    assert.deepEqual(
      out.map((o) => [o.object.metadata.name, o.object['data']]),
      [['web-hello', { chart: 'hello-1.0.0', greeting: 'from git' }]],
    );
    assert.match(
      out[0]?.source ?? '',
      /^http:\/\/127\.0\.0\.1:\d+\/charts\/hello@1\.0\.0\/templates\/cm\.yaml$/,
    );
    const fetched = repo.requests.length;
    await run(helmApp(chart, ['values-prod.yaml']));
    assert.equal(repo.requests.length, fetched, 'the second render used the cached package');
  });

  it('refuses wrong credentials and no credentials with a message that names neither password nor file content', async () => {
    const { run } = setup({ 'apps/web/.keep': '' });
    for (const credentials of [{ file: 'wrong' }, undefined]) {
      await assert.rejects(
        run(
          helmApp({
            repository: repo.url,
            name: 'hello',
            version: '1.0.0',
            ...(credentials ? { credentials } : {}),
          }),
        ),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.match(
            err.message,
            /chart hello 1\.0\.0 from http:\/\/127\.0\.0\.1:\d+\/charts: .*refused access \(HTTP 401\)/,
          );
          assert.ok(!err.message.includes(PASSWORD) && !err.message.includes('nope'));
          return true;
        },
      );
    }
  });

  it('says which versions exist when the pinned one does not', async () => {
    const { run } = setup({ 'apps/web/.keep': '' });
    await assert.rejects(
      run(
        helmApp({
          repository: repo.url,
          name: 'hello',
          version: '9.9.9',
          credentials: { file: 'reader' },
        }),
      ),
      /chart hello 9\.9\.9 .*not in the repository's index \(it has 1\.0\.0\)/,
    );
  });

  it('renders a chart from an OCI registry', async () => {
    const { run } = setup({ 'apps/web/.keep': '' });
    const out = await run(
      helmApp({
        repository: `oci://${registry.host}/charts`,
        name: 'ocichart',
        version: '2.1.0',
        plainHttp: true,
      }),
    );
    assert.deepEqual(
      out.map((o) => o.object['data']),
      [{ chart: 'ocichart-2.1.0', greeting: 'hello' }],
    );
  });

  /** The chart at `apps/app`, allowed to fetch its dependencies. */
  const depsApp = {
    path: 'apps/app',
    helm: { releaseName: 'web', valuesFiles: [], values: {}, allowRemoteDependencies: true },
  };

  it('resolves Chart.yaml dependencies from an HTTP repository (Chart.lock pins) and an OCI registry, without writing to the checkout', async () => {
    const { root, run } = setup({
      ...Object.fromEntries(
        Object.entries(chartFiles('app', '0.1.0')).map(([k, v]) => [`apps/${k}`, v]),
      ),
      'apps/app/Chart.yaml': [
        'apiVersion: v2',
        'name: app',
        'version: 0.1.0',
        'dependencies:',
        '  - name: redis',
        '    version: ~17.3.0',
        `    repository: ${openRepo.url}`,
        '  - name: ocichart',
        '    version: 2.1.0',
        `    repository: oci://${registry.host}/charts`,
        '',
      ].join('\n'),
      'apps/app/Chart.lock': `dependencies:\n  - name: redis\n    version: 17.3.0\n    repository: ${openRepo.url}\n  - name: ocichart\n    version: 2.1.0\n    repository: oci://${registry.host}/charts\n`,
    });
    const out = await run(depsApp);
    assert.deepEqual(
      out
        .map((o) => o.object['data'])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [
        { chart: 'app-0.1.0', greeting: 'hello' },
        { chart: 'ocichart-2.1.0', greeting: 'hello' },
        { chart: 'redis-17.3.0', greeting: 'hello' },
      ],
    );
    assert.equal(
      existsSync(path.join(root, 'apps/app/charts')),
      false,
      'nothing written to the checkout',
    );
  });

  it('a dependency from an unreachable repository fails saying so and how to vendor it', async () => {
    const port = await freePort();
    const { run } = setup({
      ...Object.fromEntries(
        Object.entries(chartFiles('app', '0.1.0')).map(([k, v]) => [`apps/${k}`, v]),
      ),
      'apps/app/Chart.yaml': `apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: gone\n    version: 1.0.0\n    repository: http://127.0.0.1:${port}/charts\n`,
    });
    await assert.rejects(run(depsApp), (err: unknown) => {
      assert.ok(err instanceof ChartUnreachableError, String(err));
      assert.match(err.message, /dependency gone 1\.0\.0 cannot be fetched: .*unreachable/);
      assert.match(err.message, /helm dependency build apps\/app.*commit apps\/app\/charts\//);
      return true;
    });
  });

  it('a dependency with a version range and no Chart.lock is refused, asking for a pin', async () => {
    const { run } = setup({
      ...Object.fromEntries(
        Object.entries(chartFiles('app', '0.1.0')).map(([k, v]) => [`apps/${k}`, v]),
      ),
      'apps/app/Chart.yaml': `apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: ^17.0.0\n    repository: ${openRepo.url}\n`,
    });
    await assert.rejects(
      run(depsApp),
      (err: unknown) =>
        err instanceof RenderError &&
        /not an exact version; commit a Chart\.lock/.test(err.message),
    );
  });

  it('chart credentials from a Secret need the chart-credentials label', async () => {
    const secret = (labels: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'repo', namespace: 'driftless-system', labels },
      data: {
        username: Buffer.from('reader').toString('base64'),
        password: Buffer.from(PASSWORD).toString('base64'),
      },
    });
    const labelled = chartCredentials({
      dir: '',
      readSecret: () => Promise.resolve(secret({ 'driftless.dev/chart-credentials': 'true' })),
    });
    assert.deepEqual(await labelled({ secret: 'repo' }), {
      username: 'reader',
      password: PASSWORD,
    });
    const unlabelled = chartCredentials({ dir: '', readSecret: () => Promise.resolve(secret({})) });
    await assert.rejects(
      unlabelled({ secret: 'repo' }),
      /lacks the label driftless\.dev\/chart-credentials/,
    );
    await assert.rejects(
      chartCredentials({ dir: credentialsDir })({ file: '../reader' }),
      /bare file name/,
    );
  });

  describe('Kustomize helmCharts', () => {
    const kustomization = (chart: string) =>
      `namespace: c13\nhelmCharts:\n${chart}\npatches:\n  - target: { kind: ConfigMap }\n    patch: |\n      - op: add\n        path: /data/env\n        value: prod\n`;

    it('renders a chart vendored in the repository without any setting', async () => {
      const { run } = setup({
        'app/kustomization.yaml': kustomization(
          '  - name: hello\n    releaseName: greeter\n    valuesInline: { greeting: hi from kustomize }',
        ),
        ...Object.fromEntries(
          Object.entries(chartFiles('hello', '1.0.0')).map(([k, v]) => [`app/charts/${k}`, v]),
        ),
      });
      const out = await run({ path: 'app' });
      assert.deepEqual(
        out.map((o) => [o.object.metadata.name, o.object['data']]),
        [['greeter-hello', { chart: 'hello-1.0.0', greeting: 'hi from kustomize', env: 'prod' }]],
      );
    });

    it('a pinned chart vendored where kustomize looks for it (<name>-<version>/<name>) needs no network', async () => {
      const { run } = setup({
        'app/kustomization.yaml': kustomization(
          `  - name: hello\n    repo: ${repo.url}\n    version: 1.0.0\n    releaseName: pinned`,
        ),
        ...Object.fromEntries(
          Object.entries(chartFiles('hello', '1.0.0')).map(([k, v]) => [
            `app/charts/hello-1.0.0/${k}`,
            v,
          ]),
        ),
      });
      const before = repo.requests.length;
      const out = await run({ path: 'app' });
      assert.deepEqual(
        out.map((o) => o.object.metadata.name),
        ['pinned-hello'],
      );
      assert.equal(repo.requests.length, before, 'nothing was fetched');
    });

    it('a chart from a repository without allowRemoteCharts fails saying what to set or how to vendor', async () => {
      const { run } = setup({
        'app/kustomization.yaml': kustomization(
          `  - name: hello\n    repo: ${repo.url}\n    version: 1.0.0\n    releaseName: greeter`,
        ),
      });
      const before = repo.requests.length;
      await assert.rejects(run({ path: 'app' }), (err: unknown) => {
        assert.ok(err instanceof RenderError);
        assert.match(
          err.message,
          /helmCharts\[0\] chart hello from http:\/\/127\.0\.0\.1:\d+\/charts needs the network/,
        );
        assert.match(
          err.message,
          /helm pull hello --repo .* --version 1\.0\.0 --untar --untardir app\/charts\/hello-1\.0\.0/,
        );
        assert.match(
          err.message,
          /kustomize\.allowRemoteCharts: true on app web in driftless\.yaml/,
        );
        return true;
      });
      assert.equal(repo.requests.length, before, 'nothing was fetched');
    });

    it('with allowRemoteCharts, kustomize pulls the chart from the repository', async () => {
      const { run } = setup({
        'app/kustomization.yaml': kustomization(
          `  - name: redis\n    repo: ${openRepo.url}\n    version: 17.3.0\n    releaseName: cache`,
        ),
      });
      const before = openRepo.requests.length;
      const out = await run({
        path: 'app',
        kustomize: { allowRemoteResources: false, allowRemoteCharts: true },
      });
      assert.deepEqual(
        out.map((o) => [o.object.metadata.name, o.object['data']]),
        [['cache-redis', { chart: 'redis-17.3.0', greeting: 'hello', env: 'prod' }]],
      );
      assert.ok(openRepo.requests.length > before, 'the chart came from the repository');
    });
  });
});
