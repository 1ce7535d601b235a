/**
 * The client-side schema check of objects in a Namespace that does not exist yet
 * (kube/openapi.ts), against a real API server: whatever it passes, the server's own
 * server-side apply dry-run passes its schema checks too (it answers 404 for the missing
 * Namespace, which it checks only after the schema); what the server refuses, the check
 * refuses too, so the plan asks the server and fails with the server's answer. Where the
 * identity may not create the kind (the server refuses a dry-run for that first), the plan
 * still dry-runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  conformsToServedSchema,
  KubeApiError,
  KubeClient,
  planApp,
  type KubeObject,
} from '@driftless/agent';
import { startCluster, type Cluster } from '@driftless/test';

const NS = 'not-created-yet';
const meta = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  namespace: NS,
  ...extra,
});
const deployment = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: meta(name),
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec },
  },
});

/** Objects whose schema is right: the check passes them. */
const good: KubeObject[] = [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('plain'), data: { a: 'b' } },
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta('labelled', { labels: { x: 'y' }, annotations: { 'a.b/c': 'd' } }),
    data: {},
    binaryData: { blob: 'aGVsbG8=' },
    immutable: true,
  },
  {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta('secret'),
    type: 'Opaque',
    data: { token: 'c2VjcmV0' },
    stringData: { other: 'x' },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('web'),
    spec: {
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' },
      ],
    },
  },
  deployment('full', {
    containers: [
      {
        name: 'main',
        image: 'registry.local/web:1.0',
        args: ['--port', '8080'],
        env: [
          { name: 'A', value: '1' },
          { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        ],
        ports: [{ containerPort: 8080 }, { containerPort: 8080, protocol: 'UDP' }],
        resources: { limits: { cpu: 1, memory: '128Mi' }, requests: { cpu: '500m' } },
        readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5 },
      },
      { name: 'side', image: 'registry.local/side:1.0' },
    ],
    tolerations: [{ key: 'k', operator: 'Exists' }],
  }),
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta('reader'),
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
  },
];

/** Objects the server refuses on its schema before it looks for the Namespace. */
const bad: [string, KubeObject][] = [
  [
    'a number where the schema says string',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('typed'), data: { count: 3 } },
  ],
  [
    'an undeclared field',
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('extra'),
      spec: { ports: [{ port: 80 }], bogus: true },
    },
  ],
  [
    'an undeclared field in metadata',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('m', { labelz: { a: 'b' } }) },
  ],
  [
    'two containers of one name (a keyed list)',
    deployment('twins', {
      containers: [
        { name: 'main', image: 'a' },
        { name: 'main', image: 'b' },
      ],
    }),
  ],
  [
    'two ports of one number and protocol (a keyed list with a defaulted key)',
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('twoports'),
      spec: { ports: [{ port: 80 }, { port: 80, protocol: 'TCP', name: 'b' }] },
    },
  ],
  [
    'a finalizer twice (a set)',
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('fin', { finalizers: ['example.com/a', 'example.com/a'] }),
    },
  ],
  [
    'a list where the schema says object',
    { apiVersion: 'v1', kind: 'Service', metadata: meta('list'), spec: [] as never },
  ],
  [
    'a string where the schema says integer',
    (() => {
      const d = deployment('count', { containers: [{ name: 'main', image: 'a' }] });
      return { ...d, spec: { ...(d['spec'] as object), replicas: 'two' } };
    })(),
  ],
  [
    'a quantity that does not parse',
    deployment('quantity', {
      containers: [{ name: 'main', image: 'a', resources: { limits: { cpu: 'lots' } } }],
    }),
  ],
  [
    'data that is not base64',
    { apiVersion: 'v1', kind: 'Secret', metadata: meta('b64'), data: { token: 'not base64!' } },
  ],
];

/**
 * Objects the server may take or refuse before it finds the Namespace missing (duplicate keys of
 * merge-key lists, bad names, a missing required field): whatever the server refuses there, the
 * check must not pass, or the plan creates the Namespace and then fails on the object.
 */
const edge: [string, KubeObject][] = [
  [
    'two env entries of one name (a patch-merge-key list)',
    deployment('env', {
      containers: [
        {
          name: 'main',
          image: 'a',
          env: [
            { name: 'A', value: '1' },
            { name: 'A', value: '2' },
          ],
        },
      ],
    }),
  ],
  [
    'two volume mounts of one path',
    deployment('mounts', {
      containers: [
        {
          name: 'main',
          image: 'a',
          volumeMounts: [
            { name: 'v', mountPath: '/x' },
            { name: 'w', mountPath: '/x' },
          ],
        },
      ],
      volumes: [
        { name: 'v', emptyDir: {} },
        { name: 'w', emptyDir: {} },
      ],
    }),
  ],
  [
    'two volumes of one name',
    deployment('volumes', {
      containers: [{ name: 'main', image: 'a' }],
      volumes: [
        { name: 'v', emptyDir: {} },
        { name: 'v', emptyDir: {} },
      ],
    }),
  ],
  [
    'two image pull secrets of one name',
    deployment('pulls', {
      containers: [{ name: 'main', image: 'a' }],
      imagePullSecrets: [{ name: 's' }, { name: 's' }],
    }),
  ],
  [
    'a name that is not a DNS subdomain',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Not_Valid', namespace: NS } },
  ],
  [
    'a name too long',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a'.repeat(300), namespace: NS } },
  ],
  [
    'a Deployment without its required selector',
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'nosel', namespace: NS },
      spec: { template: { spec: { containers: [{ name: 'main', image: 'a' }] } } },
    },
  ],
];

describe('client-side schema check of objects in a new Namespace, against a real API server', () => {
  let cluster: Cluster;
  let client: KubeClient;

  before(async () => {
    cluster = await startCluster();
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
  });

  /** The server's verdict: 404 means its schema checks passed (the Namespace is missing). */
  const server = async (obj: KubeObject): Promise<number> => {
    try {
      await client.apply(obj, { fieldManager: 'test', dryRun: true });
      return 200;
    } catch (err) {
      assert.ok(err instanceof KubeApiError, String(err));
      return err.statusCode;
    }
  };

  it('passes objects with a right schema, which the server passes too', async () => {
    for (const obj of good) {
      const name = `${obj.kind} ${obj.metadata.name}`;
      assert.equal(await conformsToServedSchema(client, obj), true, `${name}: the check passes it`);
      assert.equal(await server(obj), 404, `${name}: the server's schema check passes it`);
    }
  });

  it('refuses every object the server refuses on its schema', async () => {
    const verdicts = [];
    for (const [what, obj] of bad)
      verdicts.push({
        what,
        server: await server(obj),
        check: await conformsToServedSchema(client, obj),
      });
    assert.deepEqual(
      verdicts.filter((v) => v.server === 404 || v.check),
      [],
      'each refused by the server before the Namespace, and by the check',
    );
  });

  it('passes nothing the server refuses before it finds the Namespace missing', async () => {
    const verdicts = [];
    for (const [what, obj] of edge)
      verdicts.push({
        what,
        server: await server(obj),
        check: await conformsToServedSchema(client, obj),
      });
    assert.deepEqual(
      verdicts.filter((v) => v.server !== 404 && v.check),
      [],
      'the check passed an object the server refuses',
    );
  });

  it('leaves to the server what it cannot judge: nulls, free-form fields, custom kinds', async () => {
    const unsure: KubeObject[] = [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: meta('rendered', { creationTimestamp: null }),
        data: { a: 'b' },
      },
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: meta('w'), spec: {} },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: meta('managed', { managedFields: [] }),
      },
      // Stricter than the server, which takes it here and refuses it only once the Namespace exists.
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: meta('wide'),
        spec: { ports: [{ port: 2 ** 40 }] },
      },
    ];
    for (const obj of unsure)
      assert.equal(await conformsToServedSchema(client, obj), false, obj.metadata.name);
  });

  it('reads the OpenAPI index at most once per refresh and each document once', async () => {
    const fresh = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    const paths: string[] = [];
    const request = fresh.request.bind(fresh);
    fresh.request = (method, path, options) => {
      paths.push(path);
      return request(method, path, options);
    };
    try {
      await Promise.all(good.map((o) => conformsToServedSchema(fresh, o)));
      const openapi = paths
        .filter((p) => p.startsWith('/openapi/v3'))
        .map((p) => p.replace(/\?.*$/, ''));
      assert.deepEqual(openapi.sort(), [
        '/openapi/v3',
        '/openapi/v3/api/v1',
        '/openapi/v3/apis/apps/v1',
        '/openapi/v3/apis/rbac.authorization.k8s.io/v1',
      ]);
    } finally {
      fresh.close();
    }
  });

  it('still dry-runs, and fails the plan, where the identity may not create the kind: the server refuses that before anything else', async () => {
    const role = (name: string, verbs: string[]): KubeObject => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name },
      rules: [
        { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'create', 'patch'] },
        { apiGroups: [''], resources: ['configmaps'], verbs },
      ],
    });
    const binding = (name: string): KubeObject => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name }],
    });
    for (const [name, verbs] of [
      ['may-read', ['get', 'list']],
      ['may-create', ['get', 'list', 'patch', 'create']],
      ['may-post', ['get', 'list', 'create']],
    ] as const) {
      await client.apply(role(name, [...verbs]), { fieldManager: 'test' });
      await client.apply(binding(name), { fieldManager: 'test' });
    }
    const desired = (ns: string): KubeObject[] => [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: ns }, data: {} },
    ];
    const reviews: Record<string, string[]> = {};
    const sent = (c: KubeClient, user: string) => {
      const paths: string[] = [];
      const asked: string[] = (reviews[user] = []);
      const request = c.request.bind(c);
      c.request = (method, path, options) => {
        if (options?.query?.['dryRun']) paths.push(path);
        if (path.includes('/apis/authorization.k8s.io/')) asked.push(path.replace(/.*\//, ''));
        return request(method, path, options);
      };
      return paths;
    };
    const plan = (user: string, ns: string) =>
      planApp({
        client: limited[user] as KubeClient,
        app: ns,
        revision: 'r',
        desired: desired(ns),
        inventory: [],
        prune: false,
      });
    const limited: Record<string, KubeClient> = {
      'may-read': client.impersonating('may-read'),
      'may-create': client.impersonating('may-create'),
      'may-post': client.impersonating('may-post'),
    };
    const refused = sent(limited['may-read'] as KubeClient, 'may-read');
    await assert.rejects(
      plan('may-read', 'rbac-refused'),
      /ConfigMap rbac-refused\/c.*forbidden/is,
    );
    assert.ok(
      refused.includes('/api/v1/namespaces/rbac-refused/configmaps/c'),
      'the ConfigMap was dry-run: only the server can judge it',
    );
    const allowed = sent(limited['may-create'] as KubeClient, 'may-create');
    const ok = await plan('may-create', 'rbac-allowed');
    assert.equal(ok.counts.create, 2);
    assert.deepEqual(allowed, ['/api/v1/namespaces/rbac-allowed'], 'only the Namespace dry-run');
    // `create` without `patch`: a server-side apply is a PATCH, so the rules do not grant it.
    const posting = sent(limited['may-post'] as KubeClient, 'may-post');
    await assert.rejects(
      plan('may-post', 'rbac-post-only'),
      /ConfigMap rbac-post-only\/c.*forbidden/is,
    );
    assert.ok(posting.includes('/api/v1/namespaces/rbac-post-only/configmaps/c'), 'dry-run');
    // One rules review per new Namespace decided each way; its answer was complete, so no
    // per-kind access review was needed.
    assert.deepEqual(reviews, {
      'may-read': ['selfsubjectrulesreviews'],
      'may-create': ['selfsubjectrulesreviews'],
      'may-post': ['selfsubjectrulesreviews'],
    });
  });
});
