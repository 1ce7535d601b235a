/**
 * A hostile repository against the real renderers (`helm`, `kustomize`) and
 * a real Git server: every way a chart, a kustomization, a values file or a
 * plain folder can name a file or URL must stay inside the checkout, and a
 * URL must never be fetched unless the app allows remotes. Each case plants
 * a secret outside the checkout and a canary HTTP server on loopback, and
 * checks that the render is refused with one error naming the path, that
 * the secret is in no output or message, and that the canary saw nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appSpec, GitSource, render, RenderError, type AppSpec } from '@driftless/agent';
import {
  DEFAULT_GIT_USER,
  findBinary,
  startChartRepo,
  startGitServer,
  type GitServer,
} from '@driftless/test';

const SECRET = `s3cr3t-${process.pid}-outside-the-checkout`;

/** A temp folder: `outside/` holds the secret, `repo/` is the checkout. */
function layout() {
  const base = mkdtempSync(path.join(tmpdir(), 'driftless-hostile-'));
  const outside = path.join(base, 'outside');
  const repo = path.join(base, 'repo');
  mkdirSync(outside, { recursive: true });
  mkdirSync(repo, { recursive: true });
  writeFileSync(path.join(outside, 'secret.txt'), `${SECRET}\n`);
  writeFileSync(path.join(outside, 'secret.yaml'), configMap('leak', SECRET));
  writeFileSync(path.join(outside, 'kustomization.yaml'), 'resources: [secret.yaml]\n');
  mkdirSync(path.join(outside, 'chart', 'templates'), { recursive: true });
  writeFileSync(
    path.join(outside, 'chart', 'Chart.yaml'),
    'apiVersion: v2\nname: outside\nversion: 0.1.0\n',
  );
  writeFileSync(
    path.join(outside, 'chart', 'templates', 'cm.yaml'),
    configMap('outside-chart', SECRET),
  );
  return {
    base,
    outside,
    repo,
    /** Writes files of the checkout; `{ link: target }` makes a symbolic link. */
    write(files: Record<string, string | { link: string }>) {
      for (const [rel, content] of Object.entries(files)) {
        const file = path.join(repo, rel);
        mkdirSync(path.dirname(file), { recursive: true });
        if (typeof content === 'string') writeFileSync(file, content);
        else symlinkSync(content.link, file);
      }
    },
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
}

function configMap(name: string, value: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: ${JSON.stringify(value)}\n`;
}

const CHART = { 'app/Chart.yaml': 'apiVersion: v2\nname: app\nversion: 0.1.0\n' };
const FILES_TEMPLATE = {
  ...CHART,
  'app/templates/cm.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: files\ndata:\n  token: {{ .Files.Get "files/token" | quote }}\n{{- range $p, $_ := .Files.Glob "files/**" }}\n  {{ base $p }}: {{ $.Files.Get $p | quote }}\n{{- end }}\n',
};

describe('renderers are confined to the checkout', () => {
  let canary: Server;
  let canaryUrl: string;
  let canaryHits: string[] = [];
  let kustomizeBin: string;
  let helmBin: string;

  before(async () => {
    kustomizeBin = findBinary('kustomize');
    helmBin = findBinary('helm');
    canary = createServer((req, res) => {
      canaryHits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(configMap('fetched', SECRET));
    });
    // A TLS or OCI attempt is no HTTP request: count connections too.
    canary.on('connection', () => canaryHits.push('(connection)'));
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    const address = canary.address();
    canaryUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(() => {
    canary?.closeAllConnections();
    canary?.close();
  });

  /** Renders `app` from the layout's checkout; the result and any error are searched for the secret. */
  async function renderApp(l: ReturnType<typeof layout>, app: Partial<AppSpec> & { path: string }) {
    return render({
      root: l.repo,
      app: appSpec({ name: 'hostile', namespace: 'ns', ...app }),
      kustomizeBin,
      helmBin,
    });
  }

  /**
   * The render fails with a RenderError whose message matches `why` and names
   * `where`; no secret in it; the canary saw no request.
   */
  async function refused(
    files: Record<
      string,
      string | { link: string } | ((l: ReturnType<typeof layout>) => string | { link: string })
    >,
    app: Partial<AppSpec> & { path: string },
    expect: { why: RegExp; where?: string },
    prepare?: (l: ReturnType<typeof layout>) => void,
  ) {
    const l = layout();
    canaryHits = [];
    try {
      l.write(
        Object.fromEntries(
          Object.entries(files).map(([k, v]) => [k, typeof v === 'function' ? v(l) : v]),
        ),
      );
      prepare?.(l);
      let rendered: unknown;
      try {
        rendered = await renderApp(l, app);
      } catch (err) {
        assert.ok(err instanceof RenderError, `expected a RenderError, got ${String(err)}`);
        assert.match(err.message, expect.why);
        if (expect.where)
          assert.ok(
            err.message.includes(expect.where),
            `message names ${expect.where}: ${err.message}`,
          );
        assert.ok(!err.message.includes(SECRET), 'the secret is not in the message');
        assert.ok(
          !err.message.includes(l.base),
          `no absolute path of the machine in: ${err.message}`,
        );
        assert.deepEqual(canaryHits, [], 'no request reached the canary server');
        return;
      }
      assert.fail(`rendered instead of refusing: ${JSON.stringify(rendered).slice(0, 400)}`);
    } finally {
      l.remove();
    }
  }

  const OUTSIDE_LINK = /symbolic link points outside the checkout/;
  const OUTSIDE_PATH = /outside the checkout|leaves|absolute paths are not allowed/;
  const REMOTE = /remote resource \S+ refused|file URLs are not allowed|is a URL/;

  describe('Helm', () => {
    it('.Files.Get through a symlink to an absolute path (the reported leak)', () =>
      refused(
        {
          ...FILES_TEMPLATE,
          'app/files/token': (l) => ({ link: path.join(l.outside, 'secret.txt') }),
        },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'app/files/token' },
      ));
    it('.Files.Get through a relative ../../.. symlink', () =>
      refused(
        { ...FILES_TEMPLATE, 'app/files/token': { link: '../../../outside/secret.txt' } },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'app/files/token' },
      ));
    it('.Files.Glob through a symlinked directory', () =>
      refused(
        { ...FILES_TEMPLATE, 'app/files': (l) => ({ link: l.outside }) },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'app/files' },
      ));
    it('a template that is a symlink to a file outside', () =>
      refused(
        {
          ...CHART,
          'app/templates/cm.yaml': (l) => ({ link: path.join(l.outside, 'secret.yaml') }),
        },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'app/templates/cm.yaml' },
      ));
    it('a subchart that is a symlink to a chart outside', () =>
      refused(
        { ...CHART, 'app/charts/outside': (l) => ({ link: path.join(l.outside, 'chart') }) },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'app/charts/outside' },
      ));
    it('a link inside the chart to a folder inside the checkout that links out', () =>
      refused(
        {
          ...CHART,
          'app/templates/shared': { link: '../../shared' },
          'shared/cm.yaml': (l) => ({ link: path.join(l.outside, 'secret.yaml') }),
        },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'shared/cm.yaml' },
      ));
    it('a dangling symlink that points outside', () =>
      refused(
        { ...FILES_TEMPLATE, 'app/files/token': { link: '/nonexistent/driftless/token' } },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'app/files/token' },
      ));
    it('the chart folder itself is a symlink to a chart outside', () =>
      refused(
        { app: (l) => ({ link: path.join(l.outside, 'chart') }) },
        { path: 'app' },
        { why: /links outside the checkout/, where: 'app' },
      ));
    it('a values file that is a symlink outside', () =>
      refused(
        {
          ...CHART,
          'app/values-prod.yaml': (l) => ({ link: path.join(l.outside, 'secret.yaml') }),
        },
        { path: 'app', helm: { releaseName: 'x', valuesFiles: ['values-prod.yaml'], values: {} } },
        { why: /links outside the checkout/, where: 'values-prod.yaml' },
      ));
    it('a values file named with ../../..', () =>
      refused(
        CHART,
        {
          path: 'app',
          helm: { releaseName: 'x', valuesFiles: ['../../outside/secret.yaml'], values: {} },
        },
        { why: /outside the checkout/ },
      ));
    it('a values file named by an absolute path', () =>
      refused(
        CHART,
        { path: 'app', helm: { releaseName: 'x', valuesFiles: ['/etc/hostname'], values: {} } },
        { why: /outside the checkout/ },
      ));
    for (const scheme of ['http', 'file']) {
      it(`a values file named by a ${scheme}:// URL`, () =>
        refused(
          CHART,
          {
            path: 'app',
            helm: {
              releaseName: 'x',
              valuesFiles: [
                scheme === 'http' ? `${canaryUrl}/values.yaml` : 'file:///etc/hostname',
              ],
              values: {},
            },
          },
          { why: REMOTE },
        ));
    }
    it('a file:// dependency outside the checkout', () =>
      refused(
        {
          'app/Chart.yaml':
            'apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: outside\n    version: 0.1.0\n    repository: file://../../outside/chart\n',
        },
        { path: 'app' },
        { why: /outside the checkout/, where: 'outside' },
      ));
    const dep = (name: string, repository: string) =>
      `  - name: ${name}\n    version: 1.0.0\n    repository: ${repository}\n`;
    const withDeps = (...deps: string[]) =>
      `apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n${deps.join('')}`;
    const NEEDS_NETWORK =
      /dependency \S+ from \S+ is not in app\/charts\/ and fetching it needs the network: vendor it \(run "helm dependency build app" and commit app\/charts\/\) or set helm\.allowRemoteDependencies: true on app hostile/;
    it('a Chart.yaml dependency from an http:// repository (the reported probe)', () =>
      refused(
        { ...CHART, 'app/Chart.yaml': withDeps(dep('x', canaryUrl)) },
        { path: 'app' },
        { why: NEEDS_NETWORK, where: 'dependency x' },
      ));
    it('a Chart.yaml dependency from an oci:// registry', () =>
      refused(
        {
          ...CHART,
          'app/Chart.yaml': withDeps(dep('x', `${canaryUrl.replace('http', 'oci')}/charts`)),
        },
        { path: 'app' },
        { why: NEEDS_NETWORK, where: 'dependency x' },
      ));
    it('a remote dependency after a vendored and a file:// one', () =>
      refused(
        {
          'app/Chart.yaml': withDeps(
            dep('vend', 'https://charts.example.invalid'),
            dep('lib', 'file://../lib'),
            dep('x', canaryUrl),
          ),
          'app/charts/vend/Chart.yaml': 'apiVersion: v2\nname: vend\nversion: 1.0.0\n',
          'lib/Chart.yaml': 'apiVersion: v2\nname: lib\nversion: 1.0.0\n',
        },
        { path: 'app' },
        { why: NEEDS_NETWORK, where: 'dependency x' },
      ));
    it('a vendored subchart whose own Chart.yaml names a remote dependency is not fetched, even with the setting', async () => {
      const l = layout();
      try {
        l.write({
          'app/Chart.yaml': withDeps(dep('sub', 'https://charts.example.invalid')),
          'app/charts/sub/Chart.yaml': `apiVersion: v2\nname: sub\nversion: 1.0.0\ndependencies:\n${dep('x', canaryUrl)}`,
          'app/charts/sub/templates/cm.yaml': configMap('sub', 'vendored'),
        });
        canaryHits = [];
        // Helm itself checks only the top chart's dependencies and fetches nothing.
        const out = await renderApp(l, {
          path: 'app',
          helm: { releaseName: 'x', valuesFiles: [], values: {}, allowRemoteDependencies: true },
        });
        assert.deepEqual(
          out.map((o) => o.object.metadata.name),
          ['sub'],
        );
        assert.deepEqual(canaryHits, []);
      } finally {
        l.remove();
      }
    });
    it('a Kustomize helmCharts chart, vendored, that names a remote dependency', () =>
      refused(
        {
          'app/kustomization.yaml': 'helmCharts:\n  - name: c\n    releaseName: c\n',
          'app/charts/c/Chart.yaml': `apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n${dep('x', canaryUrl)}`,
          'app/charts/c/values.yaml': '',
        },
        { path: 'app' },
        { why: /missing in charts\/ directory: x/ },
      ));
    it('with helm.allowRemoteDependencies, the dependency comes from the repository it names', async () => {
      const l = layout();
      const repo = await startChartRepo();
      try {
        mkdirSync(path.join(l.base, 'src', 'dep', 'templates'), { recursive: true });
        writeFileSync(
          path.join(l.base, 'src', 'dep', 'Chart.yaml'),
          'apiVersion: v2\nname: dep\nversion: 1.0.0\n',
        );
        writeFileSync(
          path.join(l.base, 'src', 'dep', 'templates', 'cm.yaml'),
          configMap('dep', 'served'),
        );
        await repo.publish(path.join(l.base, 'src', 'dep'));
        l.write({ ...CHART, 'app/Chart.yaml': withDeps(dep('dep', repo.url)) });
        canaryHits = [];
        const out = await render({
          root: l.repo,
          app: appSpec({
            name: 'hostile',
            namespace: 'ns',
            path: 'app',
            helm: { releaseName: 'x', valuesFiles: [], values: {}, allowRemoteDependencies: true },
          }),
          helmBin,
          charts: { cacheDir: path.join(l.base, 'cache') },
        });
        assert.deepEqual(
          out.map((o) => (o.object['data'] as Record<string, string> | undefined)?.['value']),
          ['served'],
        );
        assert.ok(
          repo.requests.some((r) => r.path.endsWith('/index.yaml')),
          'the repository served index.yaml',
        );
        assert.deepEqual(canaryHits, []);
      } finally {
        await repo.stop();
        l.remove();
      }
    });
    const schemaRef = (ref: string) =>
      JSON.stringify({ type: 'object', properties: { a: { $ref: ref } } });
    const SCHEMA = /points outside the schema/;
    it('values.schema.json with a $ref to an http:// URL', () =>
      refused(
        { ...CHART, 'app/values.schema.json': schemaRef(`${canaryUrl}/s.json`) },
        { path: 'app' },
        { why: SCHEMA, where: 'app/values.schema.json' },
      ));
    it('values.schema.json with a $ref to a file outside (file:// and relative)', async () => {
      for (const ref of [
        (l: ReturnType<typeof layout>) => `file://${l.outside}/secret.txt`,
        () => '../../../../../../etc/hostname',
      ]) {
        await refused(
          { ...CHART, 'app/values.schema.json': (l) => schemaRef(ref(l)) },
          { path: 'app' },
          { why: SCHEMA, where: 'app/values.schema.json' },
        );
      }
    });
    it('values.schema.json whose $schema is an http:// URL', () =>
      refused(
        { ...CHART, 'app/values.schema.json': JSON.stringify({ $schema: `${canaryUrl}/meta` }) },
        { path: 'app' },
        { why: SCHEMA, where: '$schema' },
      ));
    it('a subchart folder and a packaged subchart whose schema refers out', async () => {
      await refused(
        {
          ...CHART,
          'app/charts/sub/Chart.yaml': 'apiVersion: v2\nname: sub\nversion: 0.1.0\n',
          'app/charts/sub/values.schema.json': schemaRef(`${canaryUrl}/s.json`),
        },
        { path: 'app' },
        { why: SCHEMA, where: 'app/charts/sub/values.schema.json' },
      );
      const pkg = mkdtempSync(path.join(tmpdir(), 'driftless-pkg-'));
      try {
        mkdirSync(path.join(pkg, 'sub'));
        writeFileSync(
          path.join(pkg, 'sub', 'Chart.yaml'),
          'apiVersion: v2\nname: sub\nversion: 0.1.0\n',
        );
        writeFileSync(
          path.join(pkg, 'sub', 'values.schema.json'),
          schemaRef(`${canaryUrl}/s.json`),
        );
        execFileSync('tar', ['czf', path.join(pkg, 'sub-0.1.0.tgz'), '-C', pkg, 'sub']);
        const tgz = readFileSync(path.join(pkg, 'sub-0.1.0.tgz'));
        await refused(
          { ...CHART },
          { path: 'app' },
          { why: SCHEMA, where: 'app/charts/sub-0.1.0.tgz (sub/values.schema.json)' },
          (l) => {
            mkdirSync(path.join(l.repo, 'app', 'charts'), { recursive: true });
            writeFileSync(path.join(l.repo, 'app', 'charts', 'sub-0.1.0.tgz'), tgz);
          },
        );
      } finally {
        rmSync(pkg, { recursive: true, force: true });
      }
    });
    it('a Kustomize helmCharts chart whose schema refers to an http:// URL', () =>
      refused(
        {
          'app/kustomization.yaml': 'helmCharts:\n  - name: c\n    releaseName: c\n',
          'app/charts/c/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 0.1.0\n',
          'app/charts/c/values.yaml': '',
          'app/charts/c/values.schema.json': schemaRef(`${canaryUrl}/s.json`),
        },
        { path: 'app' },
        { why: SCHEMA, where: 'app/charts/c/values.schema.json' },
      ));
    it('a schema referring only to itself and a standard meta-schema renders', async () => {
      const l = layout();
      try {
        l.write({
          ...CHART,
          'app/templates/cm.yaml': configMap('ok', 'fine'),
          'app/values.schema.json': JSON.stringify({
            $schema: 'http://json-schema.org/draft-07/schema#',
            definitions: { s: { type: 'string' } },
            properties: { a: { $ref: '#/definitions/s' } },
          }),
        });
        canaryHits = [];
        const out = await renderApp(l, { path: 'app' });
        assert.deepEqual(
          out.map((o) => o.object.metadata.name),
          ['ok'],
        );
        assert.deepEqual(canaryHits, []);
      } finally {
        l.remove();
      }
    });
    it('a packaged subchart (charts/*.tgz) holding a symlink to a file outside leaks nothing', async () => {
      const l = layout();
      try {
        const sub = path.join(l.base, 'pkg', 'sub');
        mkdirSync(path.join(sub, 'templates'), { recursive: true });
        writeFileSync(path.join(sub, 'Chart.yaml'), 'apiVersion: v2\nname: sub\nversion: 0.1.0\n');
        writeFileSync(
          path.join(sub, 'templates', 'cm.yaml'),
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sub\ndata:\n  token: {{ .Files.Get "token" | quote }}\n',
        );
        symlinkSync(path.join(l.outside, 'secret.txt'), path.join(sub, 'token'));
        l.write(CHART);
        mkdirSync(path.join(l.repo, 'app', 'charts'), { recursive: true });
        // tar keeps the link as a link entry, as an attacker's package would.
        execFileSync('tar', [
          'czf',
          path.join(l.repo, 'app', 'charts', 'sub-0.1.0.tgz'),
          '-C',
          path.dirname(sub),
          'sub',
        ]);
        const out = await renderApp(l, { path: 'app' }).catch((err: unknown) => err);
        assert.ok(
          !JSON.stringify(out, Object.getOwnPropertyNames(out ?? {})).includes(SECRET),
          'the secret is not rendered',
        );
      } finally {
        l.remove();
      }
    });
    it('a chart symlinked from elsewhere inside the checkout still renders (links inside are fine)', async () => {
      const l = layout();
      try {
        l.write({
          'charts/real/Chart.yaml': 'apiVersion: v2\nname: real\nversion: 0.1.0\n',
          'charts/real/templates/cm.yaml': configMap('inside', 'ok'),
          'charts/real/files/shared.txt': 'shared',
          app: { link: 'charts/real' },
        });
        const out = await renderApp(l, { path: 'app' });
        assert.deepEqual(
          out.map((o) => o.object.metadata.name),
          ['inside'],
        );
      } finally {
        l.remove();
      }
    });
  });

  describe('Kustomize', () => {
    const k = (body: string) => ({
      'app/kustomization.yaml': body,
      'app/cm.yaml': configMap('cm', 'ok'),
    });
    const cases: Array<
      [
        string,
        Record<
          string,
          string | { link: string } | ((l: ReturnType<typeof layout>) => string | { link: string })
        >,
        RegExp,
        string?,
      ]
    > = [
      [
        'resources: a file outside through ../..',
        k('resources: [../../outside/secret.yaml]\n'),
        OUTSIDE_PATH,
        'resources',
      ],
      [
        'resources: a kustomization folder outside through ../..',
        k('resources: [../../outside]\n'),
        OUTSIDE_PATH,
        'resources',
      ],
      ['resources: an absolute path', k('resources: [/etc]\n'), OUTSIDE_PATH, 'resources'],
      ['resources: an http:// URL', k('resources: [CANARY/r.yaml]\n'), REMOTE, 'resources'],
      ['resources: a file:// URL', k('resources: [file:///etc/hostname]\n'), REMOTE, 'resources'],
      [
        'resources: a Git URL',
        k('resources: [github.com/example/repo//deploy?ref=v1]\n'),
        REMOTE,
        'resources',
      ],
      [
        'resources: a symlinked file outside',
        {
          ...k('resources: [cm.yaml, leak.yaml]\n'),
          'app/leak.yaml': (l) => ({ link: path.join(l.outside, 'secret.yaml') }),
        },
        OUTSIDE_LINK,
        'app/leak.yaml',
      ],
      [
        'resources: a symlinked folder outside',
        { ...k('resources: [cm.yaml, base]\n'), 'app/base': (l) => ({ link: l.outside }) },
        OUTSIDE_LINK,
        'app/base',
      ],
      ['bases: a folder outside', k('bases: [../../outside]\n'), OUTSIDE_PATH, 'bases'],
      [
        'components: a folder outside',
        k('components: [../../outside]\n'),
        OUTSIDE_PATH,
        'components',
      ],
      ['components: an http:// URL', k('components: [CANARY/c]\n'), REMOTE, 'components'],
      [
        'patches[].path: a file outside',
        k('resources: [cm.yaml]\npatches:\n  - path: ../../outside/secret.yaml\n'),
        OUTSIDE_PATH,
        'patches[0].path',
      ],
      [
        'patches[].path: an http:// URL',
        k('resources: [cm.yaml]\npatches:\n  - path: CANARY/p.yaml\n'),
        REMOTE,
        'patches[0].path',
      ],
      [
        'patchesStrategicMerge: a file outside',
        k('resources: [cm.yaml]\npatchesStrategicMerge: [../../outside/secret.yaml]\n'),
        OUTSIDE_PATH,
        'patchesStrategicMerge',
      ],
      [
        'patchesStrategicMerge: an http:// URL',
        k('resources: [cm.yaml]\npatchesStrategicMerge: [CANARY/p.yaml]\n'),
        REMOTE,
        'patchesStrategicMerge',
      ],
      [
        'patchesJson6902[].path: a file outside',
        k(
          'resources: [cm.yaml]\npatchesJson6902:\n  - target: { version: v1, kind: ConfigMap, name: cm }\n    path: /etc/hostname\n',
        ),
        OUTSIDE_PATH,
        'patchesJson6902[0].path',
      ],
      [
        'patchesJson6902[].path: an http:// URL',
        k(
          'resources: [cm.yaml]\npatchesJson6902:\n  - target: { version: v1, kind: ConfigMap, name: cm }\n    path: CANARY/j.yaml\n',
        ),
        REMOTE,
        'patchesJson6902[0].path',
      ],
      [
        'replacements[].path: an http:// URL (the reported fetch)',
        k('resources: [cm.yaml]\nreplacements:\n  - path: CANARY/replacement.yaml\n'),
        REMOTE,
        'replacements[0].path',
      ],
      [
        'replacements[].path: a file outside',
        k('resources: [cm.yaml]\nreplacements:\n  - path: ../../outside/secret.yaml\n'),
        OUTSIDE_PATH,
        'replacements[0].path',
      ],
      [
        'configMapGenerator files: key=../.. outside',
        k('configMapGenerator:\n  - name: g\n    files: [token=../../outside/secret.txt]\n'),
        OUTSIDE_PATH,
        'configMapGenerator[0].files',
      ],
      [
        'configMapGenerator files: a symlink outside',
        {
          ...k('configMapGenerator:\n  - name: g\n    files: [token]\n'),
          'app/token': (l) => ({ link: path.join(l.outside, 'secret.txt') }),
        },
        OUTSIDE_LINK,
        'app/token',
      ],
      [
        'configMapGenerator files: an http:// URL',
        k('configMapGenerator:\n  - name: g\n    files: [CANARY/f.txt]\n'),
        REMOTE,
        'configMapGenerator[0].files',
      ],
      [
        'secretGenerator envs: an absolute path',
        k('secretGenerator:\n  - name: g\n    envs: [/etc/hostname]\n'),
        OUTSIDE_PATH,
        'secretGenerator[0].envs',
      ],
      [
        'secretGenerator env: a file outside',
        k('secretGenerator:\n  - name: g\n    env: ../../outside/secret.txt\n'),
        OUTSIDE_PATH,
        'secretGenerator[0].env',
      ],
      [
        'openapi.path: an http:// URL',
        k('resources: [cm.yaml]\nopenapi:\n  path: CANARY/schema.json\n'),
        REMOTE,
        'openapi.path',
      ],
      [
        'openapi.path: a file outside',
        k('resources: [cm.yaml]\nopenapi:\n  path: ../../outside/secret.txt\n'),
        OUTSIDE_PATH,
        'openapi.path',
      ],
      [
        'crds: an http:// URL',
        k('resources: [cm.yaml]\ncrds: [CANARY/crd.json]\n'),
        REMOTE,
        'crds',
      ],
      [
        'crds: a file outside',
        k('resources: [cm.yaml]\ncrds: [../../outside/secret.txt]\n'),
        OUTSIDE_PATH,
        'crds',
      ],
      [
        'configurations: an http:// URL',
        k('resources: [cm.yaml]\nconfigurations: [CANARY/c.yaml]\n'),
        REMOTE,
        'configurations',
      ],
      [
        'transformers: a config file naming an http:// patch',
        {
          ...k('resources: [cm.yaml]\ntransformers: [t.yaml]\n'),
          'app/t.yaml':
            'apiVersion: builtin\nkind: PatchTransformer\nmetadata: { name: t }\npath: CANARY/t.yaml\n',
        },
        REMOTE,
        'transformers[0].path',
      ],
      [
        'transformers: a config file naming a file outside',
        {
          ...k('resources: [cm.yaml]\ntransformers: [t.yaml]\n'),
          'app/t.yaml':
            'apiVersion: builtin\nkind: PatchTransformer\nmetadata: { name: t }\npath: ../../outside/secret.yaml\n',
        },
        OUTSIDE_PATH,
        'transformers[0].path',
      ],
      [
        'transformers: a config file outside',
        k('resources: [cm.yaml]\ntransformers: [../../outside/secret.yaml]\n'),
        OUTSIDE_PATH,
        'transformers',
      ],
      [
        'generators: an inline config naming an http:// file',
        k(
          'generators:\n  - |\n    apiVersion: builtin\n    kind: ConfigMapGenerator\n    metadata: { name: g }\n    files: [CANARY/g.txt]\n',
        ),
        REMOTE,
        'generators[0].files',
      ],
      [
        'validators: a file outside',
        k('resources: [cm.yaml]\nvalidators: [/etc/hostname]\n'),
        OUTSIDE_PATH,
        'validators',
      ],
      [
        'helmGlobals.chartHome: a folder outside',
        k('helmGlobals:\n  chartHome: ../../outside\nhelmCharts:\n  - name: chart\n'),
        OUTSIDE_PATH,
        'helmGlobals.chartHome',
      ],
      [
        'helmCharts[].valuesFile: a file outside',
        {
          ...k('helmCharts:\n  - name: c\n    valuesFile: ../../outside/secret.yaml\n'),
          'app/charts/c/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 0.1.0\n',
        },
        OUTSIDE_PATH,
        'helmCharts[0].valuesFile',
      ],
      [
        'helmCharts[].valuesFile: an http:// URL',
        {
          ...k('helmCharts:\n  - name: c\n    valuesFile: CANARY/v.yaml\n'),
          'app/charts/c/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 0.1.0\n',
        },
        REMOTE,
        'helmCharts[0].valuesFile',
      ],
      [
        'helmCharts[].repo: a chart from the network without permission',
        k('helmCharts:\n  - name: remote\n    repo: CANARY/charts\n    version: 1.0.0\n'),
        /needs the network.*allowRemoteCharts/,
        'helmCharts[0]',
      ],
      [
        'helmCharts[].repo: a file:// repository',
        k('helmCharts:\n  - name: remote\n    repo: file:///etc\n'),
        /file URLs are not allowed/,
        'helmCharts[0].repo',
      ],
      [
        'a symlinked chart folder under charts/ pointing outside',
        {
          ...k('helmCharts:\n  - name: outside\n'),
          'app/charts/outside': (l) => ({ link: path.join(l.outside, 'chart') }),
        },
        OUTSIDE_LINK,
        'app/charts/outside',
      ],
      [
        'a field kustomize may add later that names a URL',
        k('resources: [cm.yaml]\nsomeFutureField:\n  - location: CANARY/x.yaml\n'),
        REMOTE,
        'someFutureField[0].location',
      ],
      [
        'a base (inside) whose own kustomization reaches outside',
        {
          ...k('resources: [../base]\n'),
          'base/kustomization.yaml': 'resources: [../../outside/secret.yaml]\n',
        },
        OUTSIDE_PATH,
        'base/kustomization.yaml',
      ],
      [
        'a link anywhere in the checkout, not even referenced (kustomize may load any folder)',
        { ...k('resources: [cm.yaml]\n'), 'elsewhere/x': (l) => ({ link: l.outside }) },
        OUTSIDE_LINK,
        'elsewhere/x',
      ],
    ];
    for (const [name, files, why, where] of cases) {
      it(name, () =>
        refused(
          Object.fromEntries(
            Object.entries(files).map(([f, v]) => [
              f,
              typeof v === 'string' ? v.replaceAll('CANARY', canaryUrl) : v,
            ]),
          ),
          { path: 'app' },
          { why, ...(where ? { where } : {}) },
        ),
      );
    }
    it('with remote resources allowed, file:// and escapes are still refused', () =>
      refused(
        k('resources: [cm.yaml]\npatches:\n  - path: file:///etc/hostname\n'),
        {
          path: 'app',
          kustomize: { allowRemoteResources: true, allowRemoteCharts: true },
        },
        { why: /file URLs are not allowed/ },
      ));
    it('with remote resources allowed, a git:: file URL is refused too (kustomize would clone a repository of the disk)', async () => {
      // A Git repository of the agent's disk holding a kustomization of the secret.
      const local = mkdtempSync(path.join(tmpdir(), 'driftless-local-repo-'));
      try {
        writeFileSync(path.join(local, 'secret.yaml'), configMap('leak', SECRET));
        writeFileSync(path.join(local, 'kustomization.yaml'), 'resources: [secret.yaml]\n');
        const git = (...args: string[]) =>
          execFileSync('git', args, {
            cwd: local,
            env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: local },
          });
        git('init', '-q');
        git('add', '-A');
        git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'local');
        await refused(
          { 'app/kustomization.yaml': `resources: ["git::file://${local}"]\n` },
          { path: 'app', kustomize: { allowRemoteResources: true, allowRemoteCharts: false } },
          { why: /file URLs are not allowed/ },
        );
      } finally {
        rmSync(local, { recursive: true, force: true });
      }
    });
    it('URLs in data fields (annotations, inline patches) are not mistaken for locations', async () => {
      const l = layout();
      try {
        l.write(
          k(
            `resources: [cm.yaml]\ncommonAnnotations:\n  docs: ${canaryUrl}/docs\npatches:\n  - target: { kind: ConfigMap }\n    patch: |\n      - op: add\n        path: /data/url\n        value: ${canaryUrl}/x\n`,
          ),
        );
        canaryHits = [];
        const out = await renderApp(l, { path: 'app' });
        assert.equal(out[0]?.object.metadata.annotations?.['docs'], `${canaryUrl}/docs`);
        assert.deepEqual(canaryHits, []);
      } finally {
        l.remove();
      }
    });
  });

  describe('plain YAML', () => {
    it('a manifest that is a symlink outside', () =>
      refused(
        {
          'app/a.yaml': configMap('a', 'ok'),
          'app/b.yaml': (l) => ({ link: path.join(l.outside, 'secret.yaml') }),
        },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'app/b.yaml' },
      ));
    it('a sub-folder that is a symlink outside', () =>
      refused(
        { 'app/a.yaml': configMap('a', 'ok'), 'app/sub': (l) => ({ link: l.outside }) },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'app/sub' },
      ));
    it('a relative ../../.. link', () =>
      refused(
        { 'app/a.yaml': { link: '../../outside/secret.yaml' } },
        { path: 'app' },
        { why: OUTSIDE_LINK, where: 'app/a.yaml' },
      ));
    it('the app path itself leaves the checkout', () =>
      refused(
        { 'app/a.yaml': configMap('a', 'ok') },
        { path: '../outside' },
        { why: /outside the checkout/ },
      ));
  });

  describe('through a real Git server', () => {
    let git: GitServer;
    before(async () => {
      git = await startGitServer();
    });
    after(async () => {
      await git?.stop();
    });

    it('a chart committed with files/token linking to an absolute path is refused after the fetch', async () => {
      const l = layout();
      const work = path.join(l.base, 'work');
      try {
        const repo = await git.createRepo('hostile');
        l.write({
          ...FILES_TEMPLATE,
          'app/files/token': { link: path.join(l.outside, 'secret.txt') },
        });
        const gitCmd = (...args: string[]) =>
          execFileSync('git', args, {
            cwd: l.repo,
            env: {
              ...process.env,
              GIT_AUTHOR_NAME: 't',
              GIT_AUTHOR_EMAIL: 't@t',
              GIT_COMMITTER_NAME: 't',
              GIT_COMMITTER_EMAIL: 't@t',
            },
          });
        gitCmd('init', '-q', '-b', repo.branch);
        gitCmd('add', '-A');
        gitCmd('commit', '-qm', 'hostile chart');
        gitCmd('push', '-q', repo.path, `HEAD:${repo.branch}`);
        const source = new GitSource({
          url: repo.url,
          branch: repo.branch,
          dir: work,
          auth: DEFAULT_GIT_USER,
        });
        const checkout = await source.sync();
        await assert.rejects(
          render({
            root: checkout.dir,
            app: appSpec({ name: 'hostile', path: 'app', namespace: 'ns' }),
            helmBin,
          }),
          (err: unknown) =>
            err instanceof RenderError &&
            OUTSIDE_LINK.test(err.message) &&
            err.message.includes('app/files/token') &&
            !err.message.includes(SECRET),
        );
      } finally {
        l.remove();
      }
    });
  });
});
