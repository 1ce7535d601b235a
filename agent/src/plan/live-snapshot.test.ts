import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeKube } from '../../test/engine/fake-kube.ts';
import type { KubeObject } from '../model.ts';
import { planApp } from './index.ts';

const cm = (name: string, namespace = 'shop'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data: { k: name },
});

function kubeWithNamespace(): FakeKube {
  const kube = new FakeKube();
  kube.objects.set('/Namespace//shop', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'shop', resourceVersion: '1' },
  });
  return kube;
}

const plan = (kube: FakeKube, desired: KubeObject[]) =>
  planApp({ client: kube.client, desired, app: 'a', revision: 'r1', inventory: [], prune: false });

describe('planning with a live snapshot', () => {
  it('reads several objects of one kind and namespace with one LIST, not a GET each', async () => {
    const kube = kubeWithNamespace();
    kube.objects.set('v1/ConfigMap/shop/b', { ...cm('b'), data: { k: 'old' } });
    const p = await plan(kube, [cm('a'), cm('b'), cm('c'), cm('d')]);
    assert.equal(
      kube.calls.filter((c) => c.verb === 'get' && c.ref.includes('ConfigMap')).length,
      0,
    );
    assert.equal(
      kube.calls.filter((c) => c.verb === 'list' && c.ref.includes('ConfigMap')).length,
      1,
    );
    const actions = Object.fromEntries(p.objects.map((o) => [o.ref.name, o.action]));
    assert.deepEqual(actions, { a: 'create', b: 'update', c: 'create', d: 'create' });
  });

  it('falls back to a GET each when the LIST is refused, and leaves small groups to GETs', async () => {
    const kube = kubeWithNamespace();
    kube.fail({ verb: 'list', status: 403 });
    const p = await plan(kube, [cm('a'), cm('b'), cm('c')]);
    assert.equal(
      kube.calls.filter((c) => c.verb === 'get' && c.ref.includes('ConfigMap')).length,
      3,
    );
    assert.deepEqual(
      p.objects.map((o) => o.action),
      ['create', 'create', 'create'],
    );
    const small = kubeWithNamespace();
    await plan(small, [cm('a'), cm('b')]);
    assert.equal(
      small.calls.filter((c) => c.verb === 'list' && c.ref.includes('ConfigMap')).length,
      0,
    );
  });
});
