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

  it('answers loads asked for together with one LIST, and a few loads with a GET each', async () => {
    const kube = new FakeKube();
    const store = new InventoryStore(kube.client, 'driftless-system');
    const apps = ['a', 'b', 'c', 'd', 'e'];
    for (const app of apps.slice(1))
      await store.save({ app, revision: `r-${app}`, prune: false, objects: [ref(app)] });
    const before = { get: kube.count('get'), list: kube.count('list') };
    const records = await Promise.all([...apps, 'b'].map((app) => store.load(app)));
    assert.deepEqual(
      records.map((r) => r?.revision),
      [undefined, 'r-b', 'r-c', 'r-d', 'r-e', 'r-b'],
    );
    assert.deepEqual(records[2]?.objects, [ref('c')]);
    assert.equal(kube.count('list') - before.list, 1, 'one LIST for all');
    assert.equal(kube.count('get') - before.get, 0, 'no GET');

    const two = await Promise.all([store.load('b'), store.load('c')]);
    assert.deepEqual(
      two.map((r) => r?.revision),
      ['r-b', 'r-c'],
    );
    assert.equal(kube.count('get') - before.get, 2, 'a GET each');
    assert.equal(kube.count('list') - before.list, 1);
  });

  it('fails every load of a batch when the LIST fails', async () => {
    const kube = new FakeKube();
    const store = new InventoryStore(kube.client, 'driftless-system');
    kube.fail({ verb: 'list', status: 503, times: 1 });
    const results = await Promise.allSettled(['a', 'b', 'c', 'd'].map((app) => store.load(app)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected', 'rejected', 'rejected'],
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
