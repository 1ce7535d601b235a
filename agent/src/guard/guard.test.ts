import { describe, it } from 'node:test';
import { appSpec } from '../config/index.ts';
import assert from 'node:assert/strict';
import { classify, TerminalError } from '@driftless/common';
import { Marks, type AppSpec, type KubeObject, type RenderedObject } from '../model.ts';
import { guard, GuardError, type ObjectReader, type Scope, type ScopeResolver } from './index.ts';

function app(overrides: Partial<AppSpec> = {}): AppSpec {
  return appSpec({ name: 'web', path: 'apps/web', namespace: 'web', ...overrides });
}

/** A cluster that serves the built-in kinds below, and counts lookups. */
class FakeDiscovery implements ScopeResolver, ObjectReader {
  calls = 0;
  /** An empty cluster: no object exists. */
  get = async () => undefined;
  private readonly kinds = new Map<string, Scope>([
    ['v1/Namespace', 'Cluster'],
    ['v1/ConfigMap', 'Namespaced'],
    ['v1/Secret', 'Namespaced'],
    ['v1/Service', 'Namespaced'],
    ['apps/v1/Deployment', 'Namespaced'],
    ['rbac.authorization.k8s.io/v1/ClusterRole', 'Cluster'],
    ['rbac.authorization.k8s.io/v1/RoleBinding', 'Namespaced'],
    ['apiextensions.k8s.io/v1/CustomResourceDefinition', 'Cluster'],
  ]);
  async scopeOf(apiVersion: string, kind: string) {
    this.calls++;
    return this.kinds.get(`${apiVersion}/${kind}`);
  }
}

function obj(apiVersion: string, kind: string, name: string, extra: object = {}): KubeObject {
  return { apiVersion, kind, metadata: { name }, ...extra };
}

const at = (source: string, ...objects: KubeObject[]): RenderedObject[] =>
  objects.map((object) => ({ object, source }));

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  const err = await promise.then(
    () => assert.fail('guard should have refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof GuardError, `expected a GuardError, got ${String(err)}`);
  assert.ok(err instanceof TerminalError);
  assert.equal(classify(err), 'terminal');
  return err.problems;
}

describe('guard', () => {
  it('defaults namespaces, drops them from cluster kinds and marks every object', async () => {
    const input = at(
      'apps/web/all.yaml',
      obj('v1', 'Namespace', 'web', { metadata: { name: 'web', namespace: 'ignored' } }),
      obj('apps/v1', 'Deployment', 'api', {
        metadata: { name: 'api', labels: { [Marks.managedBy]: 'Helm', tier: 'backend' } },
      }),
      obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'system:web-reader'),
    );
    const before = structuredClone(input);
    const out = await guard(
      input,
      app({ allowedClusterKinds: ['rbac.authorization.k8s.io/ClusterRole'] }),
      new FakeDiscovery(),
    );
    assert.deepEqual(input, before, 'the input is not changed');
    assert.deepEqual(
      out.map((o) => o.metadata),
      [
        { name: 'web', labels: { [Marks.managedBy]: 'driftless', [Marks.app]: 'web' } },
        {
          name: 'api',
          namespace: 'web',
          labels: { tier: 'backend', [Marks.managedBy]: 'driftless', [Marks.app]: 'web' },
        },
        {
          name: 'system:web-reader',
          labels: { [Marks.managedBy]: 'driftless', [Marks.app]: 'web' },
        },
      ],
    );
  });

  it('drops server-owned metadata copied from kubectl get', async () => {
    const [out] = await guard(
      at(
        'a.yaml',
        obj('v1', 'ConfigMap', 'c', {
          metadata: {
            name: 'c',
            resourceVersion: '123',
            uid: 'f00',
            creationTimestamp: null,
            managedFields: [],
          },
        }),
      ),
      app(),
      new FakeDiscovery(),
    );
    assert.deepEqual(Object.keys(out?.metadata ?? {}).sort(), ['labels', 'name', 'namespace']);
  });

  it('looks each kind up once', async () => {
    const discovery = new FakeDiscovery();
    await guard(
      at('a.yaml', ...['a', 'b', 'c'].map((n) => obj('v1', 'ConfigMap', n))),
      app(),
      discovery,
    );
    assert.equal(discovery.calls, 1);
  });

  it('collects every invalid object, naming object and file', async () => {
    const problems = await problemsOf(
      guard(
        [
          ...at('apps/web/a.yaml', { kind: 'ConfigMap', metadata: { name: 'x' } } as never),
          ...at('apps/web/b.yaml', obj('v1', '', 'y')),
          ...at('apps/web/c.yaml', { apiVersion: 'v1', kind: 'ConfigMap' } as never),
          ...at('apps/web/d.yaml', obj('v1', 'ConfigMap', 'Bad_Name')),
          ...at('apps/web/e.yaml', obj('v1', 'Service', '1st')),
          ...at(
            'apps/web/f.yaml',
            obj('v1', 'ConfigMap', 'gen', { metadata: { generateName: 'gen-' } }),
          ),
          ...at(
            'apps/web/g.yaml',
            obj('v1', 'ConfigMap', 'labels', {
              metadata: {
                name: 'labels',
                labels: { enabled: true, 'bad key!': 'x', ok: 'has space' },
              },
            }),
          ),
          ...at('apps/web/h.yaml', obj('apps/v1/extra', 'Deployment', 'z')),
        ],
        app(),
        new FakeDiscovery(),
      ),
    );
    assert.deepEqual(problems, [
      'ConfigMap x in apps/web/a.yaml: apiVersion is missing',
      'object y in apps/web/b.yaml: kind is missing',
      'ConfigMap #3 (no name) in apps/web/c.yaml: metadata is missing',
      'ConfigMap Bad_Name in apps/web/d.yaml: name "Bad_Name" is not a DNS-1123 subdomain (lower case letters, digits, - and .)',
      'Service 1st in apps/web/e.yaml: name "1st" is not a DNS-1035 label',
      'ConfigMap #6 (no name) in apps/web/f.yaml: metadata.generateName is not supported: an object needs a fixed name to be tracked',
      'ConfigMap labels in apps/web/g.yaml: label enabled must be a string (quote the value in YAML)',
      'ConfigMap labels in apps/web/g.yaml: label key "bad key!" is not a valid key',
      'ConfigMap labels in apps/web/g.yaml: label ok value "has space" is not a valid label value',
      'Deployment z in apps/web/h.yaml: apiVersion "apps/v1/extra" is not group/version or version',
    ]);
  });

  it('refuses duplicates, once namespaces are defaulted', async () => {
    const problems = await problemsOf(
      guard(
        [
          ...at('apps/web/a.yaml', obj('apps/v1', 'Deployment', 'api')),
          ...at(
            'apps/web/b.yaml',
            obj('apps/v1', 'Deployment', 'api', { metadata: { name: 'api', namespace: 'web' } }),
          ),
          ...at('apps/web/c.yaml', obj('v1', 'ConfigMap', 'api')),
        ],
        app(),
        new FakeDiscovery(),
      ),
    );
    assert.deepEqual(problems, [
      'duplicate Deployment web/api in apps/web/b.yaml: also in apps/web/a.yaml',
    ]);
  });

  it('refuses unknown kinds, but knows the kinds of CRDs in the same render', async () => {
    const crd = obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'widgets.example.com', {
      spec: {
        group: 'example.com',
        scope: 'Cluster',
        names: { kind: 'Widget', plural: 'widgets' },
        versions: [{ name: 'v1', served: true, storage: true }],
      },
    });
    const out = await guard(
      at(
        'apps/web/widgets.yaml',
        crd,
        obj('example.com/v1', 'Widget', 'w', { metadata: { name: 'w', namespace: 'web' } }),
      ),
      app({ allowedClusterKinds: ['*'] }),
      new FakeDiscovery(),
    );
    assert.equal(out[1]?.metadata.namespace, undefined, 'the CRD says Widgets are cluster-scoped');

    const problems = await problemsOf(
      guard(
        [
          ...at('apps/x/foo.yaml', obj('example.com/v1', 'Foo', 'bar')),
          ...at('apps/web/widgets.yaml', crd, obj('example.com/v2', 'Widget', 'w2')),
        ],
        app({ allowedClusterKinds: ['*'] }),
        new FakeDiscovery(),
      ),
    );
    assert.deepEqual(problems, [
      'unknown kind Foo (example.com/v1) for bar in apps/x/foo.yaml: no such API on the cluster and no CRD in this app',
      'Widget w2 in apps/web/widgets.yaml: CRD widgets.example.com of this app has no version v2 (it has v1)',
    ]);
  });

  it('needs a namespace for namespaced kinds when the app has none', async () => {
    const problems = await problemsOf(
      guard(at('a.yaml', obj('v1', 'ConfigMap', 'c')), app({ namespace: '' }), new FakeDiscovery()),
    );
    assert.deepEqual(problems, [
      "ConfigMap c in a.yaml: no namespace; set metadata.namespace or the app's namespace",
    ]);
  });

  it('says a name YAML read as a boolean is not a string, rather than missing', async () => {
    // `name: y` and `namespace: n` are booleans in the YAML Kubernetes reads.
    const problems = await problemsOf(
      guard(
        at('a.yaml', {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: true, namespace: false } as never,
        }),
        app(),
        new FakeDiscovery(),
      ),
    );
    assert.deepEqual(problems, [
      'ConfigMap true in a.yaml: metadata.name must be a string, not true (quote the name in YAML)',
      'ConfigMap true in a.yaml: metadata.namespace must be a string, not false (quote it in YAML)',
    ]);
  });

  it('keeps objects in the allowed namespaces', async () => {
    const inOther = obj('v1', 'ConfigMap', 'c', { metadata: { name: 'c', namespace: 'other' } });
    const problems = await problemsOf(
      guard(
        at('a.yaml', inOther, obj('v1', 'Namespace', 'kube-system')),
        app(),
        new FakeDiscovery(),
      ),
    );
    assert.deepEqual(problems, [
      'ConfigMap other/c in a.yaml: namespace other is not allowed for app web (allowed: web)',
      'Namespace kube-system in a.yaml: namespace kube-system is not allowed for app web (allowed: web)',
    ]);
    // An explicit list replaces the default.
    const out = await guard(
      at('a.yaml', inOther),
      app({ allowedNamespaces: ['web', 'other'] }),
      new FakeDiscovery(),
    );
    assert.equal(out[0]?.metadata.namespace, 'other');
    // Neither a namespace nor a list: any namespace.
    await guard(at('a.yaml', inOther), app({ namespace: '' }), new FakeDiscovery());
  });

  it('refuses plaintext Secrets unless the app allows them', async () => {
    const secret = obj('v1', 'Secret', 'db', { stringData: { password: 'hunter2' } });
    const problems = await problemsOf(
      guard(at('apps/web/db.yaml', secret), app(), new FakeDiscovery()),
    );
    assert.deepEqual(problems, [
      'plaintext Secret web/db in apps/web/db.yaml: secrets come from an external store; set allowPlaintextSecrets: true on the app to allow',
    ]);
    const err = await guard(at('apps/web/db.yaml', secret), app(), new FakeDiscovery()).catch(
      (e: unknown) => e as Error,
    );
    assert.doesNotMatch((err as Error).message, /hunter2/, 'no secret value in the message');
    const out = await guard(
      at('apps/web/db.yaml', secret),
      app({ allowPlaintextSecrets: true }),
      new FakeDiscovery(),
    );
    assert.equal(out.length, 1);
  });

  it('passes discovery failures through unchanged', async () => {
    const down: ScopeResolver & ObjectReader = {
      get: async () => undefined,
      scopeOf: () => Promise.reject(Object.assign(new Error('discovery failed'), { code: 503 })),
    };
    await assert.rejects(guard(at('a.yaml', obj('v1', 'ConfigMap', 'c')), app(), down), {
      message: 'discovery failed',
    });
  });

  it('lists every problem in one message', async () => {
    const err = await guard(
      at('a.yaml', obj('v1', 'Secret', 's'), obj('example.com/v1', 'Foo', 'f')),
      app(),
      new FakeDiscovery(),
    ).catch((e: unknown) => e as Error);
    assert.match(
      String((err as Error).message),
      /^guard refused app web \(2 problems\): plaintext Secret web\/s in a\.yaml: .*; unknown kind Foo/,
    );
  });
});
