import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKube } from '../../test/engine/fake-kube.ts';
import { InventoryStore, unionRefs } from './inventory.ts';

const ref = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'web', name });

describe('InventoryStore', () => {
  it('saves, lists, loads (sorted, without duplicates) and removes an app inventory', async () => {
    const kube = new FakeKube();
    const store = new InventoryStore(kube.client, 'driftless-system');
    await store.save({
      app: 'web',
      revision: 'abc',
      prune: true,
      objects: [ref('b'), ref('a'), ref('b')],
    });
    await store.save({ app: 'api', revision: 'def', prune: false, objects: [] });
    assert.deepEqual(await store.apps(), ['api', 'web']);
    const web = await store.load('web');
    assert.equal(web?.revision, 'abc');
    assert.equal(web?.prune, true);
    assert.deepEqual(web?.objects, [ref('a'), ref('b')]);
    await store.remove('web');
    assert.equal(await store.load('web'), undefined);
    assert.deepEqual(await store.apps(), ['api']);
  });

  it('passes the server error on, to be classified by its status', async () => {
    const kube = new FakeKube();
    kube.fail({ verb: 'apply', status: 503 });
    await assert.rejects(
      new InventoryStore(kube.client, 'driftless-system').save({
        app: 'x',
        revision: '',
        prune: false,
        objects: [],
      }),
      { statusCode: 503 },
    );
  });

  it('unites inventories by object identity', () => {
    assert.deepEqual(unionRefs([ref('a'), ref('b')], [ref('b'), ref('c')]), [
      ref('a'),
      ref('b'),
      ref('c'),
    ]);
  });
});
