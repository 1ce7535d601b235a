import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from '@driftless/common';
import {
  startFakeKubeApi,
  status,
  type Handler,
  type RecordedRequest,
} from '../../test-support/fake-kube-api.ts';
import { KubeApiError } from './client.ts';
import { clusterCapabilities } from './discovery.ts';

const VERSION = { major: '1', minor: '34', gitVersion: 'v1.34.4' };

/** A server with aggregated discovery (Kubernetes ≥ 1.30). */
const aggregated: Handler = (r) => {
  const wantsAggregated = (r.headers.accept ?? '').includes('as=APIGroupDiscoveryList');
  if (r.path === '/version') return { body: VERSION };
  if ((r.path === '/api' || r.path === '/apis') && !wantsAggregated)
    return { status: 406, body: status(406, 'NotAcceptable', 'aggregated only in this test') };
  if (r.path === '/api')
    return {
      body: {
        kind: 'APIGroupDiscoveryList',
        items: [
          {
            metadata: {},
            versions: [
              {
                version: 'v1',
                resources: [
                  { responseKind: { kind: 'Pod' } },
                  { responseKind: { kind: 'ConfigMap' } },
                ],
              },
            ],
          },
        ],
      },
    };
  if (r.path === '/apis')
    return {
      body: {
        kind: 'APIGroupDiscoveryList',
        items: [
          {
            metadata: { name: 'apps' },
            versions: [{ version: 'v1', resources: [{ responseKind: { kind: 'Deployment' } }] }],
          },
          {
            metadata: { name: 'example.com' },
            versions: [
              { version: 'v1', resources: [{ responseKind: { kind: 'Widget' } }] },
              { version: 'v1beta1' },
            ],
          },
        ],
      },
    };
  return undefined;
};

/** A server without aggregated discovery: plain lists, then one request per group version. */
const legacy: Handler = (r) => {
  if (r.path === '/version') return { body: VERSION };
  if (r.path === '/api') return { body: { kind: 'APIVersions', versions: ['v1'] } };
  if (r.path === '/apis')
    return {
      body: {
        kind: 'APIGroupList',
        groups: [
          { name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }] },
          {
            name: 'rbac.authorization.k8s.io',
            versions: [{ groupVersion: 'rbac.authorization.k8s.io/v1', version: 'v1' }],
          },
        ],
      },
    };
  return undefined; // per group version: the fake's built-in discovery
};

describe('clusterCapabilities', () => {
  it('reads the version and every group version and kind from aggregated discovery', async () => {
    const api = await startFakeKubeApi(aggregated);
    try {
      const caps = await clusterCapabilities(api.client);
      assert.equal(caps.kubeVersion, 'v1.34.4');
      assert.deepEqual(caps.apiVersions, [
        'apps/v1',
        'apps/v1/Deployment',
        'example.com/v1',
        'example.com/v1/Widget',
        'example.com/v1beta1',
        'v1',
        'v1/ConfigMap',
        'v1/Pod',
      ]);
      assert.equal(api.requests.length, 3, 'no per-group requests when aggregated');
    } finally {
      await api.close();
    }
  });

  it('falls back to one request per group version, leaving out subresources', async () => {
    const api = await startFakeKubeApi(legacy);
    try {
      const caps = await clusterCapabilities(api.client);
      assert.deepEqual(caps.apiVersions, [
        'apps/v1',
        'apps/v1/Deployment',
        'rbac.authorization.k8s.io/v1',
        'rbac.authorization.k8s.io/v1/ClusterRole',
        'v1',
        'v1/ConfigMap',
        'v1/Namespace',
        'v1/Pod',
      ]);
      assert.ok(!caps.apiVersions.includes('apps/v1/Scale'), 'deployments/scale is a subresource');
      assert.equal(caps.kubeVersion, 'v1.34.4');
    } finally {
      await api.close();
    }
  });

  it('shares one running discovery and reuses a finished one only within maxAgeMs', async () => {
    const api = await startFakeKubeApi(aggregated);
    const versionCalls = () =>
      api.requests.filter((r: RecordedRequest) => r.path === '/version').length;
    let now = 1_000;
    const options = { maxAgeMs: 10_000, now: () => now };
    try {
      const [a, b] = await Promise.all([
        clusterCapabilities(api.client, options),
        clusterCapabilities(api.client, options),
      ]);
      assert.deepEqual(a, b);
      assert.equal(versionCalls(), 1);
      now += 9_999;
      await clusterCapabilities(api.client, options);
      assert.equal(versionCalls(), 1, 'younger than maxAgeMs: reused');
      now += 1;
      await clusterCapabilities(api.client, options);
      assert.equal(versionCalls(), 2, 'as old as maxAgeMs: asked again');
      await clusterCapabilities(api.client);
      assert.equal(versionCalls(), 3, 'by default a finished discovery is not reused');
    } finally {
      await api.close();
    }
  });

  it('reuses one discovery per cluster connection while the served-API generation holds and no CRD was written', async () => {
    const api = await startFakeKubeApi(aggregated);
    const versionCalls = () =>
      api.requests.filter((r: RecordedRequest) => r.path === '/version').length;
    const tenant = api.client.impersonating('system:serviceaccount:shop:deployer');
    try {
      await clusterCapabilities(api.client, { generation: 1 });
      await clusterCapabilities(tenant, { generation: 1 });
      await clusterCapabilities(api.client, { generation: 1 });
      assert.equal(versionCalls(), 1, 'same generation: one discovery, shared by the tenant');
      await clusterCapabilities(api.client, { generation: 2 });
      assert.equal(versionCalls(), 2, 'the served APIs changed: asked again');
      const crd = {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'gadgets.example.com' },
      };
      await tenant.apply(crd, { fieldManager: 'test', dryRun: true }).catch(() => undefined);
      await clusterCapabilities(api.client, { generation: 2 });
      assert.equal(versionCalls(), 2, 'a dry-run changes nothing');
      await tenant.apply(crd, { fieldManager: 'test' }).catch(() => undefined);
      await clusterCapabilities(api.client, { generation: 2 });
      assert.equal(versionCalls(), 3, 'a CRD written through the connection: asked again');
    } finally {
      await api.close();
    }
  });

  it('asks again after a minute though the served-API generation holds (a CRD whose watch event came before discovery served it, or a watch that cannot see CRDs)', async () => {
    let widgets = false;
    const api = await startFakeKubeApi((r, res) => {
      const answer = aggregated(r, res);
      if (r.path !== '/apis' || widgets || typeof answer !== 'object') return answer;
      const body = answer.body as { items: Array<{ metadata: { name?: string } }> };
      return {
        ...answer,
        body: { ...body, items: body.items.filter((g) => g.metadata.name !== 'example.com') },
      };
    });
    let clock = 1_000_000;
    const now = () => clock;
    try {
      const before = await clusterCapabilities(api.client, { generation: 7, now });
      assert.ok(!before.apiVersions.includes('example.com/v1/Widget'));
      widgets = true;
      clock += 30_000;
      const soon = await clusterCapabilities(api.client, { generation: 7, now });
      assert.ok(!soon.apiVersions.includes('example.com/v1/Widget'), 'reused within a minute');
      clock += 31_000;
      const later = await clusterCapabilities(api.client, { generation: 7, now });
      assert.ok(later.apiVersions.includes('example.com/v1/Widget'), 'asked again after a minute');
    } finally {
      await api.close();
    }
  });

  it('fails with the server’s error, transient when it is unavailable, and does not keep it', async () => {
    let down = true;
    const api = await startFakeKubeApi((r) =>
      down && r.path === '/apis'
        ? { status: 503, body: status(503, 'ServiceUnavailable', 'etcd is not ready') }
        : aggregated(r, undefined as never),
    );
    try {
      const err = await clusterCapabilities(api.client, { maxAgeMs: 60_000 }).catch(
        (e: unknown) => e,
      );
      assert.ok(err instanceof KubeApiError, String(err));
      assert.equal(err.statusCode, 503);
      assert.equal(classify(err), 'transient');
      down = false;
      const caps = await clusterCapabilities(api.client, { maxAgeMs: 60_000 });
      assert.ok(caps.apiVersions.includes('apps/v1/Deployment'));
    } finally {
      await api.close();
    }
  });
});

describe('KubeClient discovery', () => {
  it('finds a kind served moments after a miss (a CRD just established)', async () => {
    let established = false;
    const widgets = {
      kind: 'APIResourceList',
      groupVersion: 'example.com/v1',
      resources: [{ name: 'widgets', kind: 'Widget', namespaced: true, verbs: ['get'] }],
    };
    const api = await startFakeKubeApi(
      (r) => {
        if (r.path !== '/apis/example.com/v1') return undefined;
        return established ? { body: widgets } : { status: 404, body: status(404, 'NotFound', '') };
      },
      { discoveryRefreshMs: 0 },
    );
    try {
      assert.equal(await api.client.resource('example.com/v1', 'Widget'), undefined);
      established = true;
      assert.deepEqual(await api.client.resource('example.com/v1', 'Widget'), {
        group: 'example.com',
        version: 'v1',
        kind: 'Widget',
        plural: 'widgets',
        namespaced: true,
        verbs: ['get'],
      });
    } finally {
      await api.close();
    }
  });

  it('asks once for a known kind, and not again within the refresh interval for a miss', async () => {
    const api = await startFakeKubeApi(undefined, { discoveryRefreshMs: 60_000 });
    const asked = () => api.requests.filter((r) => r.path === '/api/v1').length;
    try {
      await api.client.resource('v1', 'ConfigMap');
      await api.client.resource('v1', 'ConfigMap');
      assert.equal(asked(), 1);
      await api.client.resource('v1', 'Widget');
      assert.equal(asked(), 1, 'a miss within the refresh interval reuses discovery');
    } finally {
      await api.close();
    }
  });
});
