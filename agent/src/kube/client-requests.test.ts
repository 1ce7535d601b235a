import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../model.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../../test-support/fake-kube-api.ts';
import { UnknownKindError } from './client.ts';

const cm = (namespace: string, name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data: { a: '1' },
});

describe('KubeClient requests', () => {
  let api: FakeKubeApi;
  before(async () => {
    api = await startFakeKubeApi();
  });
  after(() => api.close());

  /** Answers every non-discovery request with `body` and returns the calls made by `run`. */
  async function callsOf(run: () => Promise<unknown>, body: unknown = {}) {
    api.handle((r) => (r.path.match(/^\/apis?\/[^/]+(\/v1)?$/) ? undefined : { body }));
    const before = api.calls().length;
    await run();
    return api.calls().slice(before);
  }

  it('addresses core and grouped kinds, namespaced and cluster-scoped', async () => {
    const refs = [
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team-a', name: 'cfg' },
      { apiVersion: 'v1', kind: 'Namespace', namespace: '', name: 'team-a' },
      // discovery also lists pods/log with kind Pod: a subresource is never the kind's path
      { apiVersion: 'v1', kind: 'Pod', namespace: 'team-a', name: 'p' },
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'web', name: 'front' },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', namespace: '', name: 'r' },
    ];
    const calls = await callsOf(async () => {
      for (const ref of refs) await api.client.get(ref);
    });
    assert.deepEqual(
      calls.map((c) => `${c.method} ${c.path}`),
      [
        'GET /api/v1/namespaces/team-a/configmaps/cfg',
        'GET /api/v1/namespaces/team-a',
        'GET /api/v1/namespaces/team-a/pods/p',
        'GET /apis/apps/v1/namespaces/web/deployments/front',
        'GET /apis/rbac.authorization.k8s.io/v1/clusterroles/r',
      ],
    );
  });

  it('leaves out a namespace given for a cluster-scoped kind', async () => {
    const calls = await callsOf(() =>
      api.client.get({ apiVersion: 'v1', kind: 'Namespace', namespace: 'stray', name: 'team-a' }),
    );
    assert.equal(calls[0]?.path, '/api/v1/namespaces/team-a');
  });

  it('escapes names and namespaces in the path', async () => {
    const calls = await callsOf(() =>
      api.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'a b', name: 'x/y' }),
    );
    assert.equal(calls[0]?.path, '/api/v1/namespaces/a%20b/configmaps/x%2Fy');
  });

  it('answers undefined for an object that does not exist', async () => {
    api.handle((r) =>
      r.path.includes('/configmaps/') ? { status: 404, body: { reason: 'NotFound' } } : undefined,
    );
    assert.equal(await api.client.get(refOf('a', 'gone')), undefined);
  });

  it('applies server-side: apply-patch content type, field manager, force, dry run', async () => {
    const obj = cm('team-a', 'cfg');
    const calls = await callsOf(async () => {
      await api.client.apply(obj, { fieldManager: 'driftless' });
      await api.client.apply(obj, { fieldManager: 'driftless', dryRun: true, force: false });
    });
    const [write, dry] = calls;
    assert.equal(write?.method, 'PATCH');
    assert.equal(write?.path, '/api/v1/namespaces/team-a/configmaps/cfg');
    assert.equal(write?.headers['content-type'], 'application/apply-patch+yaml');
    assert.deepEqual(JSON.parse(write?.body ?? ''), obj);
    assert.equal(write?.query.get('fieldManager'), 'driftless');
    assert.equal(write?.query.get('force'), 'true');
    assert.equal(write?.query.has('dryRun'), false, 'a real apply is not a dry run');
    assert.equal(dry?.query.get('dryRun'), 'All');
    assert.equal(dry?.query.get('force'), 'false');
  });

  it('returns what the server answered to an apply', async () => {
    const live = { ...cm('a', 'x'), metadata: { name: 'x', namespace: 'a', uid: 'u-1' } };
    let got: KubeObject | undefined;
    await callsOf(async () => {
      got = await api.client.apply(cm('a', 'x'), { fieldManager: 'driftless', dryRun: true });
    }, live);
    assert.equal(got?.metadata.uid, 'u-1');
  });

  it('creates with POST to the collection and deletes with propagation and uid precondition', async () => {
    const calls = await callsOf(async () => {
      await api.client.create(cm('a', 'x'), { fieldManager: 'driftless', dryRun: true });
      await api.client.delete(refOf('a', 'x'), { uid: 'u-1', propagation: 'Foreground' });
    });
    assert.equal(`${calls[0]?.method} ${calls[0]?.path}`, 'POST /api/v1/namespaces/a/configmaps');
    assert.equal(calls[0]?.query.get('dryRun'), 'All');
    assert.equal(calls[0]?.query.get('fieldManager'), 'driftless');
    assert.equal(
      `${calls[1]?.method} ${calls[1]?.path}`,
      'DELETE /api/v1/namespaces/a/configmaps/x',
    );
    const options = JSON.parse(calls[1]?.body ?? '') as Record<string, unknown>;
    assert.equal(options.propagationPolicy, 'Foreground');
    assert.deepEqual(options.preconditions, { uid: 'u-1' });
  });

  it('tells a delete of an object already gone from one that happened', async () => {
    api.handle((r) =>
      r.method === 'DELETE' ? { status: 404, body: { reason: 'NotFound' } } : undefined,
    );
    assert.equal(await api.client.delete(refOf('a', 'gone')), false);
    api.handle((r) => (r.method === 'DELETE' ? { body: { kind: 'Status' } } : undefined));
    assert.equal(await api.client.delete(refOf('a', 'there')), true);
  });

  it('lists with a label selector across every page, in one namespace or all', async () => {
    api.handle((r) => {
      if (!r.path.endsWith('/configmaps')) return undefined;
      const page = r.query.get('continue');
      return page
        ? { body: { items: [{ metadata: { name: 'b' } }], metadata: { resourceVersion: '42' } } }
        : {
            body: {
              items: [{ metadata: { name: 'a' } }],
              metadata: { resourceVersion: '41', continue: 'p2' },
            },
          };
    });
    const before = api.calls().length;
    const list = await api.client.list('v1', 'ConfigMap', {
      namespace: 'team-a',
      labelSelector: 'app.kubernetes.io/managed-by=driftless,tier in (web)',
    });
    await api.client.list('v1', 'ConfigMap');
    const calls = api.calls().slice(before);
    assert.deepEqual(
      list.items.map((i) => [i.apiVersion, i.kind, i.metadata.name]),
      [
        ['v1', 'ConfigMap', 'a'],
        ['v1', 'ConfigMap', 'b'],
      ],
    );
    assert.equal(list.resourceVersion, '42');
    assert.equal(calls[0]?.path, '/api/v1/namespaces/team-a/configmaps');
    assert.equal(
      calls[0]?.query.get('labelSelector'),
      'app.kubernetes.io/managed-by=driftless,tier in (web)',
    );
    assert.equal(calls[1]?.query.get('continue'), 'p2');
    assert.equal(calls[1]?.query.get('labelSelector'), calls[0]?.query.get('labelSelector'));
    assert.equal(calls[2]?.path, '/api/v1/configmaps');
    assert.equal(calls[2]?.query.has('labelSelector'), false);
  });

  it('refuses a kind the server does not serve with an UnknownKindError naming it', async () => {
    await assert.rejects(
      api.client.get({ apiVersion: 'example.com/v1', kind: 'Widget', namespace: 'a', name: 'w' }),
      (err: unknown) =>
        err instanceof UnknownKindError &&
        err.kind === 'Widget' &&
        err.apiVersion === 'example.com/v1',
    );
  });

  it('reports scope from discovery, and undefined for an unknown kind', async () => {
    assert.equal(await api.client.scopeOf('v1', 'ConfigMap'), 'Namespaced');
    assert.equal(
      await api.client.scopeOf('rbac.authorization.k8s.io/v1', 'ClusterRole'),
      'Cluster',
    );
    assert.equal(await api.client.scopeOf('v1', 'Widget'), undefined);
  });
});

function refOf(namespace: string, name: string) {
  return { apiVersion: 'v1', kind: 'ConfigMap', namespace, name };
}

describe('KubeClient identity', () => {
  let api: FakeKubeApi;
  before(async () => {
    api = await startFakeKubeApi((r) =>
      r.path.includes('/configmaps/') ? { body: {} } : undefined,
    );
  });
  after(() => api.close());

  it('sends Impersonate-User only from an impersonating client, with its own credentials', async () => {
    const user = 'system:serviceaccount:team-a:deployer';
    const tenant = api.client.impersonating(user);
    await tenant.get(refOf('team-a', 'x'));
    await api.client.get(refOf('team-a', 'y'));
    await tenant.apply(cm('team-a', 'z'), { fieldManager: 'driftless' });
    const [asTenant, asAgent, applyAsTenant] = api.calls();
    assert.equal(asTenant?.headers['impersonate-user'], user);
    assert.equal(applyAsTenant?.headers['impersonate-user'], user);
    assert.equal(asAgent?.headers['impersonate-user'], undefined);
    for (const c of api.calls()) {
      assert.equal(c.headers['impersonate-group'], undefined, 'groups come from the server');
      assert.equal(c.headers.authorization, 'Bearer agent-token');
    }
  });
});
