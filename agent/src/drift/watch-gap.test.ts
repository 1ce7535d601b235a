import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refOf, type KubeObject } from '../model.ts';
import { configMap, setup } from '../../test/drift/fixtures.ts';

describe('DriftWatcher while a watch is down', () => {
  it('does not vouch for an object whose kind it cannot watch now, until the re-list', async () => {
    const cm = configMap('shop');
    const ref = refOf(cm);
    const { clock, cluster, watcher } = await setup([cm]);
    assert.notEqual(watcher.observed(ref), undefined, 'tracked and watched');
    cluster.emitRaw('ConfigMap', {
      type: 'ERROR',
      object: { code: 500, reason: 'InternalError', message: 'etcd' } as unknown as KubeObject,
    });
    await clock.advance(1);
    assert.equal(cluster.watches.size, 0, 'the watch is down, waiting its backoff');
    // Anything may happen to the object now, unseen: a carry-forward or a health wait must
    // read it again rather than take the last copy as the truth.
    assert.equal(watcher.observed(ref), undefined);
    await clock.advance(60_000);
    assert.equal(cluster.watches.size, 1, 'watching again');
    assert.notEqual(watcher.observed(ref), undefined, 'the re-list delivered it');
    await watcher.stop();
  });

  it('counts a change the watch saw as unchecked until a check compared it with Git', async () => {
    const cm = configMap('shop');
    const { clock, cluster, watcher } = await setup([cm]);
    await clock.advance(1_000);
    assert.equal(watcher.unchecked('shop'), 0, 'in line after the sync');
    cluster.update(
      refOf(cm),
      (o) => (o.metadata.annotations = { ...o.metadata.annotations, unrelated: 'x' }),
    );
    assert.equal(watcher.unchecked('shop'), 1, 'seen, not compared yet');
    await clock.advance(1_000);
    assert.equal(watcher.unchecked('shop'), 0, 'compared: still in line');
    assert.equal(watcher.driftCount('shop'), 0);
    await watcher.stop();
  });
});
