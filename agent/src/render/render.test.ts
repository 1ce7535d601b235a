import { after, before, describe, it } from 'node:test';
import { createServer, type Server } from 'node:http';
import { appSpec } from '../config/index.ts';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { classify } from '@driftless/common';
import type { AppSpec, KubeObject, RenderedObject } from '../model.ts';
import { render, RenderError, RenderTimeoutError } from './index.ts';

const testdata = path.join(import.meta.dirname, 'testdata');

function app(overrides: Partial<AppSpec> = {}): AppSpec {
  return appSpec({ name: 'web', path: '.', namespace: 'web', ...overrides });
}

/** Writes `files` (path → content) under a fresh temporary folder and returns it. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'driftless-render-test-'));
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
  return root;
}

const summary = (rendered: RenderedObject[]) =>
  rendered.map((r) => `${r.object.kind}/${r.object.metadata.name} <- ${r.source}`);

async function rejectsRender(promise: Promise<unknown>, message: RegExp): Promise<RenderError> {
  const err = await promise.then(
    () => assert.fail('render should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RenderError, `expected a RenderError, got ${String(err)}`);
  assert.match(err.message, message);
  assert.equal(classify(err), 'terminal');
  return err;
}

describe('render: plain directory', () => {
  it('renders nested, multi-document, JSON and List files in sorted order', async () => {
    const rendered = await render({ root: testdata, app: app({ path: 'plain/app' }) });
    assert.deepEqual(summary(rendered), [
      'Deployment/api <- plain/app/deploy.yaml',
      'Service/api <- plain/app/deploy.yaml',
      'Namespace/web <- plain/app/namespace.yaml',
      'ConfigMap/api-config <- plain/app/nested/config.json',
      'ServiceAccount/api <- plain/app/nested/deeper/list.yml',
      'RoleBinding/api-view <- plain/app/nested/deeper/list.yml',
    ]);
  });

  it('reads YAML as Kubernetes does: 0644 is octal', async () => {
    const rendered = await render({ root: testdata, app: app({ path: 'plain/app' }) });
    const deploy = rendered[0]?.object as unknown as {
      spec: { template: { spec: { volumes: { configMap: { defaultMode: number } }[] } } };
    };
    assert.equal(deploy.spec.template.spec.volumes[0]?.configMap.defaultMode, 0o644);
  });

  it('keeps times and dates as strings, as Kubernetes does', async () => {
    const root = await tree({
      'a/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  at: 12:30\n  day: 2025-05-02\n',
    });
    try {
      const [cm] = await render({ root, app: app({ path: 'a' }) });
      assert.deepEqual(cm?.object['data'], { at: '12:30', day: '2025-05-02' });
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('renders a single file path', async () => {
    const rendered = await render({ root: testdata, app: app({ path: 'plain/app/deploy.yaml' }) });
    assert.equal(rendered.length, 2);
  });

  it('names file, line and column of a YAML syntax error', async () => {
    const root = await tree({
      'apps/x/ok.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n',
      'apps/x/broken.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  labels: a: b\n',
    });
    try {
      const err = await rejectsRender(
        render({ root, app: app({ path: 'apps/x' }) }),
        /^render apps\/x\/broken\.yaml:10:\d+: /,
      );
      assert.equal(err.file, 'apps/x/broken.yaml');
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('names file, line and column of a JSON syntax error', async () => {
    const root = await tree({ 'a/cm.json': '{\n  "apiVersion": "v1",\n  "kind": }\n' });
    try {
      await rejectsRender(render({ root, app: app({ path: 'a' }) }), /^render a\/cm\.json:3:\d+: /);
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('refuses a document that is not a mapping', async () => {
    const root = await tree({
      'a/x.yaml': 'apiVersion: v1\nkind: ConfigMap\n---\n- just\n- a list\n',
    });
    try {
      await rejectsRender(
        render({ root, app: app({ path: 'a' }) }),
        /^render a\/x\.yaml:4:1: expected a Kubernetes object \(a mapping\), got a sequence/,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('refuses a YAML alias bomb', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
      .concat(
        ['b', 'c', 'd', 'e', 'f'].map(
          (k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcde'[i]}`).join(', ')}]`,
        ),
      )
      .join('\n');
    const root = await tree({ 'a/bomb.yaml': `${bomb}\n` });
    try {
      await rejectsRender(
        render({ root, app: app({ path: 'a' }) }),
        /^render a\/bomb\.yaml:1:1: .*alias/i,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('names a missing path', async () => {
    await rejectsRender(
      render({ root: testdata, app: app({ path: 'apps/nope' }) }),
      /^render apps\/nope: no such path in the repository \(app web\)/,
    );
  });

  it('refuses a path that leaves the checkout', async () => {
    await rejectsRender(
      render({ root: path.join(testdata, 'plain'), app: app({ path: '../kustomize' }) }),
      /outside the checkout/,
    );
  });

  it('refuses a symlink to a file outside the checkout', async () => {
    const root = await tree({ 'a/ok.yaml': 'apiVersion: v1\nkind: ConfigMap\n' });
    try {
      await symlink('/etc/hostname', path.join(root, 'a', 'host.yaml'));
      await rejectsRender(
        render({ root, app: app({ path: 'a' }) }),
        /^render a\/host\.yaml: symbolic link points outside the checkout/,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('refuses a kustomization or chart nested in a plain folder', async () => {
    const root = await tree({
      'a/ok.yaml': 'apiVersion: v1\nkind: ConfigMap\n',
      'a/sub/kustomization.yaml': 'resources: []\n',
    });
    try {
      await rejectsRender(
        render({ root, app: app({ path: 'a' }) }),
        /^render a\/sub: a kustomization inside a plain YAML folder/,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('refuses an explicit renderer that does not match the folder', async () => {
    await rejectsRender(
      render({ root: testdata, app: app({ path: 'plain/app', render: 'kustomize' }) }),
      /render is kustomize but there is no kustomization\.yaml here/,
    );
    await rejectsRender(
      render({ root: testdata, app: app({ path: 'plain/app', render: 'helm' }) }),
      /render is helm but there is no Chart\.yaml here/,
    );
  });

  it('renders a kustomize folder as plain YAML when told to', async () => {
    const rendered = await render({
      root: testdata,
      app: app({ path: 'kustomize/base', render: 'directory' }),
    });
    assert.deepEqual(summary(rendered), [
      'Deployment/web <- kustomize/base/deployment.yaml',
      'Service/web <- kustomize/base/service.yaml',
    ]);
  });
});

describe('render: kustomize remote resources', () => {
  it('refuses a remote resource, naming the kustomization', async () => {
    await rejectsRender(
      render({ root: testdata, app: app({ path: 'kustomize/overlays/remote' }) }),
      /^render kustomize\/overlays\/remote\/kustomization\.yaml: remote resource https:\/\/github\.com\/example\/platform\/\/deploy\/web\?ref=v1\.2\.0 refused/,
    );
  });

  it('refuses a remote resource of a local base', async () => {
    await rejectsRender(
      render({ root: testdata, app: app({ path: 'kustomize/overlays/remote-via-base' }) }),
      /^render kustomize\/remote-base\/kustomization\.yaml: remote resource github\.com\/example\/platform\/deploy\/web\?ref=main refused/,
    );
  });

  it('refuses a base outside the checkout', async () => {
    const root = await tree({ 'a/kustomization.yaml': 'resources:\n  - ../../../etc\n' });
    try {
      await rejectsRender(
        render({ root, app: app({ path: 'a' }) }),
        /^render a\/kustomization\.yaml: resources\[0\] \.\.\/\.\.\/\.\.\/etc is outside the checkout/,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('says how to get kustomize when it is missing', async () => {
    await rejectsRender(
      render({
        root: testdata,
        app: app({ path: 'kustomize/base' }),
        kustomizeBin: '/nonexistent/kustomize',
      }),
      /kustomize binary \/nonexistent\/kustomize not found/,
    );
    const saved = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      await rejectsRender(
        render({ root: testdata, app: app({ path: 'kustomize/base' }) }),
        /^kustomize not found on PATH: run make tools/,
      );
    } finally {
      process.env['PATH'] = saved;
    }
  });
});

describe('render: renderer processes', () => {
  /** A stand-in for kustomize: a shell script. */
  async function fakeTool(script: string): Promise<{ root: string; bin: string }> {
    const root = await tree({ 'app/kustomization.yaml': 'resources: []\n', 'bin/fake': script });
    const bin = path.join(root, 'bin', 'fake');
    await chmod(bin, 0o755);
    return { root, bin };
  }

  it('gives the child a minimal environment and a private HOME', async () => {
    const { root, bin } = await fakeTool(
      [
        '#!/bin/sh',
        'echo "apiVersion: v1"',
        'echo "kind: ConfigMap"',
        'echo "metadata: {name: env}"',
        'echo "data:"',
        'echo "  home: \\"$HOME\\""',
        'echo "  secret: \\"${DRIFTLESS_TEST_SECRET:-absent}\\""',
        'echo "  kubeconfig: \\"$KUBECONFIG\\""',
        'echo "  args: \\"$*\\""',
      ].join('\n'),
    );
    process.env['DRIFTLESS_TEST_SECRET'] = 'hunter2';
    try {
      const [cm] = await render({ root, app: app({ path: 'app' }), kustomizeBin: bin });
      const data = cm?.object['data'] as Record<string, string>;
      assert.equal(data['secret'], 'absent');
      assert.match(data['home'] ?? '', /driftless-render-/);
      assert.notEqual(data['home'], process.env['HOME']);
      assert.ok(data['kubeconfig']?.startsWith(data['home'] ?? '?'));
      assert.equal(data['args'], 'build app --load-restrictor LoadRestrictionsRootOnly');
      assert.equal(cm?.source, 'kustomize build app');
    } finally {
      delete process.env['DRIFTLESS_TEST_SECRET'];
      await rm(root, { recursive: true });
    }
  });

  it('lets remote resources through when the app allows them', async () => {
    const { root, bin } = await fakeTool(
      '#!/bin/sh\necho "apiVersion: v1"\necho "kind: ConfigMap"\necho "metadata: {name: remote}"\n',
    );
    try {
      await writeFile(
        path.join(root, 'app', 'kustomization.yaml'),
        'resources:\n  - https://github.com/example/platform//deploy?ref=v1\n',
      );
      const rendered = await render({
        root,
        app: app({
          path: 'app',
          kustomize: { allowRemoteResources: true, allowRemoteCharts: false },
        }),
        kustomizeBin: bin,
      });
      assert.deepEqual(summary(rendered), ['ConfigMap/remote <- kustomize build app']);
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('reports the tool’s error output', async () => {
    const { root, bin } = await fakeTool(
      '#!/bin/sh\necho "Error: no matches for Id Deployment" >&2\nexit 1\n',
    );
    try {
      await rejectsRender(
        render({ root, app: app({ path: 'app' }), kustomizeBin: bin }),
        /^render app: kustomize build: Error: no matches for Id Deployment$/,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('kills the tool after the timeout, as a transient error', async () => {
    const { root, bin } = await fakeTool('#!/bin/sh\n/bin/sleep 30\n');
    try {
      const started = Date.now();
      const err = await render({
        root,
        app: app({ path: 'app' }),
        kustomizeBin: bin,
        timeoutMs: 200,
      }).catch((e: unknown) => e);
      assert.ok(err instanceof RenderTimeoutError);
      assert.equal(classify(err), 'transient');
      assert.match(err.message, /timed out after 200ms/);
      assert.ok(Date.now() - started < 5000, 'the child (and its sleep) must be killed');
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('kills the tool when the signal aborts', async () => {
    const { root, bin } = await fakeTool('#!/bin/sh\n/bin/sleep 30\n');
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('sync cancelled')), 100);
      await assert.rejects(
        render({ root, app: app({ path: 'app' }), kustomizeBin: bin, signal: controller.signal }),
        /sync cancelled/,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });
});

describe('render: kustomize', () => {
  it('builds an overlay: base, patch, namePrefix, labels and namespace', async () => {
    const rendered = await render({
      root: testdata,
      app: app({ path: 'kustomize/overlays/prod' }),
    });
    assert.deepEqual(summary(rendered), [
      'Service/prod-web <- kustomize build kustomize/overlays/prod',
      'Deployment/prod-web <- kustomize build kustomize/overlays/prod',
    ]);
    const deploy = rendered[1]?.object as KubeObject & { spec: { replicas: number } };
    assert.equal(deploy.spec.replicas, 3);
    assert.equal(deploy.metadata.namespace, 'web-prod');
    assert.deepEqual(deploy.metadata.labels, { env: 'prod' });
  });

  it('reports kustomize errors, naming the folder', async () => {
    const root = await tree({ 'a/kustomization.yaml': 'resources:\n  - missing.yaml\n' });
    try {
      await rejectsRender(
        render({ root, app: app({ path: 'a' }) }),
        /^render a: kustomize build: Error: .*missing\.yaml/s,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('keeps kustomize inside the kustomization root', async () => {
    const root = await tree({
      'shared/extra.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n',
      'a/kustomization.yaml': 'resources:\n  - ../shared/extra.yaml\n',
    });
    try {
      await rejectsRender(
        render({ root, app: app({ path: 'a' }) }),
        /^render a: kustomize build: .*security; file .* is not in or below/s,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });
});

/** A chart as a repository would hold it, with a values file kept outside the chart. */
const CHART = {
  'apps/web/chart/Chart.yaml':
    'apiVersion: v2\nname: web\nversion: 0.1.0\nkubeVersion: ">=1.28.0-0"\n',
  'apps/web/chart/values.yaml':
    'replicas: 1\nimage: ghcr.io/example/web:2.0.0\nservice:\n  port: 80\n',
  'apps/web/chart/templates/_helpers.tpl':
    '{{- define "web.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end }}\n',
  'apps/web/chart/templates/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: {{ include "web.fullname" . }}',
    '  namespace: {{ .Release.Namespace }}',
    '  annotations:',
    '    kube-version: {{ .Capabilities.KubeVersion.Version | quote }}',
    'spec:',
    '  replicas: {{ .Values.replicas }}',
    '  selector:',
    '    matchLabels: {app: web}',
    '  template:',
    '    metadata:',
    '      labels: {app: web}',
    '    spec:',
    '      containers:',
    '        - name: web',
    '          image: {{ .Values.image }}',
    '',
  ].join('\n'),
  'apps/web/chart/templates/service.yaml': [
    'apiVersion: v1',
    'kind: Service',
    'metadata:',
    '  name: {{ include "web.fullname" . }}',
    'spec:',
    '  selector: {app: web}',
    '  ports:',
    '    - port: {{ .Values.service.port }}',
    '',
  ].join('\n'),
  'apps/web/chart/templates/tests/test-connection.yaml': [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    '  name: test-connection',
    '  annotations:',
    '    helm.sh/hook: test',
    'spec:',
    '  containers: [{name: t, image: busybox}]',
    '',
  ].join('\n'),
  'apps/web/chart/crds/widgets.yaml': [
    'apiVersion: apiextensions.k8s.io/v1',
    'kind: CustomResourceDefinition',
    'metadata:',
    '  name: widgets.example.com',
    'spec:',
    '  group: example.com',
    '  scope: Namespaced',
    '  names: {kind: Widget, plural: widgets}',
    '  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]',
    '',
  ].join('\n'),
  'values/prod.yaml': 'replicas: 3\n',
};

describe('render: helm', () => {
  const helmApp = (helm: Partial<AppSpec['helm']> = {}) =>
    app({
      path: 'apps/web/chart',
      namespace: 'web',
      helm: { releaseName: 'web-prod', valuesFiles: [], values: {}, ...helm },
    });

  it('templates a chart with release name, namespace, values files and values', async () => {
    const root = await tree(CHART);
    try {
      const rendered = await render({
        root,
        app: helmApp({ valuesFiles: ['values/prod.yaml'], values: { service: { port: 8080 } } }),
        kubeVersion: 'v1.33.2',
      });
      assert.deepEqual(summary(rendered), [
        'CustomResourceDefinition/widgets.example.com <- apps/web/chart/crds/widgets.yaml',
        'Service/web-prod-web <- apps/web/chart/templates/service.yaml',
        'Deployment/web-prod-web <- apps/web/chart/templates/deployment.yaml',
      ]);
      const [, svc, deploy] = rendered.map((r) => r.object);
      assert.equal(
        (deploy?.['spec'] as { replicas: number }).replicas,
        3,
        'values file over values.yaml',
      );
      assert.equal(deploy?.metadata.namespace, 'web');
      assert.equal(deploy?.metadata.annotations?.['kube-version'], 'v1.33.2');
      assert.deepEqual(
        (svc?.['spec'] as { ports: unknown[] }).ports,
        [{ port: 8080 }],
        'app values last',
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('defaults the release name to the app name and finds values files next to the chart', async () => {
    const root = await tree({ ...CHART, 'apps/web/chart/values-small.yaml': 'replicas: 2\n' });
    try {
      const rendered = await render({
        root,
        app: helmApp({ releaseName: '', valuesFiles: ['values-small.yaml'] }),
      });
      const deploy = rendered.find((r) => r.object.kind === 'Deployment')?.object;
      assert.equal(deploy?.metadata.name, 'web-web');
      assert.equal((deploy?.['spec'] as { replicas: number }).replicas, 2);
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('refuses values files outside the checkout, and names missing ones', async () => {
    const root = await tree(CHART);
    try {
      await rejectsRender(
        render({ root, app: helmApp({ valuesFiles: ['../../../../../etc/passwd'] }) }),
        /values file \.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd of app web is outside the checkout/,
      );
      await rejectsRender(
        render({ root, app: helmApp({ valuesFiles: ['values/staging.yaml'] }) }),
        /values file values\/staging\.yaml of app web not found in apps\/web\/chart or at the repository root/,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('reports template errors, naming the chart', async () => {
    const root = await tree({
      ...CHART,
      'apps/web/chart/templates/broken.yaml': 'value: {{ .Values.missing.deeper }}\n',
    });
    try {
      await rejectsRender(
        render({ root, app: helmApp() }),
        /^render apps\/web\/chart: helm template: Error: template: apps\/web\/chart\/templates\/broken\.yaml:1:.*nil pointer/s,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('names the template that renders invalid YAML', async () => {
    const root = await tree({
      ...CHART,
      'apps/web/chart/templates/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b: c\n',
    });
    try {
      await rejectsRender(
        render({ root, app: helmApp() }),
        /^render apps\/web\/chart: helm template: Error: YAML parse error on apps\/web\/chart\/templates\/cm\.yaml: /,
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });
});

describe('render: helm chart dependencies', () => {
  /** Counts every connection, so a TLS or OCI attempt shows as well as an HTTP request. */
  let listener: Server;
  let connections = 0;
  let url = '';
  before(async () => {
    listener = createServer((_req, res) => res.writeHead(404).end());
    listener.on('connection', () => connections++);
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const address = listener.address();
    url = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(() => {
    listener.closeAllConnections();
    listener.close();
  });

  const sub = {
    'libs/sub/Chart.yaml': 'apiVersion: v2\nname: sub\nversion: 0.1.0\n',
    'libs/sub/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sub\n',
  };
  const chart = (deps: string[]) => ({
    'apps/app/Chart.yaml': `apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n${deps.join('')}`,
    'apps/app/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n',
    ...sub,
  });
  const local = '  - name: sub\n    version: 0.1.0\n    repository: file://../../libs/sub\n';
  const depsApp = (allowRemoteDependencies?: boolean) =>
    app({
      path: 'apps/app',
      helm: {
        releaseName: 'web',
        valuesFiles: [],
        values: {},
        ...(allowRemoteDependencies === undefined ? {} : { allowRemoteDependencies }),
      },
    });

  for (const scheme of ['http', 'oci']) {
    it(`refuses a ${scheme}:// dependency without helm.allowRemoteDependencies, before any connection`, async () => {
      const remote = `  - name: x\n    version: 1.0.0\n    repository: ${scheme}://${url}/charts\n`;
      // The file:// dependency first: nothing is fetched even after one that needs no network.
      const root = await tree(chart([local, remote]));
      connections = 0;
      try {
        const err = await rejectsRender(
          render({ root, app: depsApp() }),
          /^render apps\/app: dependency x from \S+ is not in apps\/app\/charts\/ and fetching it needs the network: vendor it \(run "helm dependency build apps\/app" and commit apps\/app\/charts\/\) or set helm\.allowRemoteDependencies: true on app web in driftless\.yaml$/,
        );
        assert.equal(err.file, 'apps/app');
        assert.equal(connections, 0, 'no connection was made');
      } finally {
        await rm(root, { recursive: true });
      }
    });
  }

  it('with helm.allowRemoteDependencies the agent asks the repository the dependency names', async () => {
    const root = await tree(
      chart([`  - name: x\n    version: 1.0.0\n    repository: http://${url}/charts\n`]),
    );
    connections = 0;
    try {
      await rejectsRender(
        render({ root, app: depsApp(true) }),
        /dependency x 1\.0\.0 cannot be fetched/,
      );
      assert.ok(connections > 0, 'the repository was asked');
    } finally {
      await rm(root, { recursive: true });
    }
  });

  it('renders vendored and file:// dependencies without the setting', async () => {
    const root = await tree({
      ...chart([
        local,
        '  - name: vend\n    version: 0.1.0\n    repository: https://charts.example.invalid\n',
      ]),
      'apps/app/charts/vend/Chart.yaml': 'apiVersion: v2\nname: vend\nversion: 0.1.0\n',
      'apps/app/charts/vend/templates/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vend\n',
    });
    connections = 0;
    try {
      const rendered = await render({ root, app: depsApp(false) });
      assert.deepEqual(rendered.map((r) => r.object.metadata.name).sort(), ['app', 'sub', 'vend']);
      assert.equal(connections, 0);
    } finally {
      await rm(root, { recursive: true });
    }
  });
});

describe('render: helm values schemas', () => {
  const schema = (body: unknown) => ({
    'apps/app/Chart.yaml': 'apiVersion: v2\nname: app\nversion: 0.1.0\n',
    'apps/app/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n',
    'apps/app/values.schema.json': JSON.stringify(body),
  });
  const cases: [string, unknown, string][] = [
    [
      'a $ref to a URL',
      { properties: { a: { $ref: 'https://example.invalid/s.json' } } },
      '$ref at /properties/a/$ref',
    ],
    [
      'a relative $ref (helm reads it from /)',
      { items: [{ $ref: 'etc/hostname' }] },
      '$ref at /items/0/$ref',
    ],
    [
      'a $dynamicRef to a file',
      { $dynamicRef: 'file:///etc/hostname' },
      '$dynamicRef at /$dynamicRef',
    ],
    [
      'a $schema that is not a standard meta-schema',
      { $schema: 'http://127.0.0.1:1/meta' },
      '$schema at /$schema',
    ],
  ];
  for (const [name, body, where] of cases) {
    it(`refuses ${name}`, async () => {
      const root = await tree(schema(body));
      try {
        const err = await rejectsRender(
          render({ root, app: app({ path: 'apps/app' }) }),
          /^render apps\/app\/values\.schema\.json: \S+ at \S+ points outside the schema; /,
        );
        assert.ok(err.message.includes(where), err.message);
        assert.equal(err.file, 'apps/app/values.schema.json');
      } finally {
        await rm(root, { recursive: true });
      }
    });
  }
  it('renders a schema that refers only to itself', async () => {
    const root = await tree(
      schema({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        $defs: { s: { type: 'string' } },
        properties: { a: { $ref: '#/$defs/s' } },
      }),
    );
    try {
      const rendered = await render({ root, app: app({ path: 'apps/app' }) });
      assert.deepEqual(
        rendered.map((r) => r.object.metadata.name),
        ['app'],
      );
    } finally {
      await rm(root, { recursive: true });
    }
  });
});
