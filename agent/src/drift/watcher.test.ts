import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Marks, refKey, refOf, type KubeObject } from '../model.ts';
import { KubeApiError } from '../kube/index.ts';
import { DriftWatcher, DriftWatcherError } from './index.ts';
import { FakeClock, FakeCluster, MemoryReporter, silentLogger } from '../../test/drift/fakes.ts';
import {
  app,
  configMap,
  deployment,
  replicasOf,
  scale,
  setup,
  SYNC,
} from '../../test/drift/fixtures.ts';

describe('DriftWatcher', () => {
  it('checks a burst of events once, reports the field and who changed it, and heals', async () => {
    const { clock, cluster, reporter, watcher } = await setup([deployment('shop', 2)]);
    assert.equal(reporter.drifts.length, 0, 'a fresh sync is in line');
    await scale(cluster, 5);
    await scale(cluster, 6);
    await scale(cluster, 7);
    await clock.advance(60);
    assert.equal(cluster.calls.dryRun, 1, 'one check for the burst');
    assert.equal(cluster.calls.apply, 1, 'one heal');
    assert.equal(replicasOf(cluster), 2);
    const [detected, healed] = reporter.drifts;
    assert.equal(reporter.drifts.length, 2);
    assert.deepEqual(
      {
        type: detected?.type,
        fields: detected?.fields,
        changedBy: detected?.changedBy,
        healed: detected?.healed,
        trace: detected?.lastSyncTraceId,
      },
      {
        type: 'modified',
        fields: [{ path: '.spec.replicas', desired: 2, live: 7 }],
        changedBy: 'ops-team',
        healed: false,
        trace: 'trace-1',
      },
    );
    assert.equal(healed?.driftId, detected?.driftId);
    assert.equal(healed?.healed, true);
    assert.ok((healed?.healedAt ?? 0) >= (detected?.detectedAt ?? Infinity));
    await clock.advance(500);
    assert.equal(reporter.drifts.length, 2, 'the event of our own heal is no drift');
    assert.equal(watcher.driftCount('shop'), 0);
    assert.deepEqual(
      { ...watcher.metrics, checks: 0 },
      {
        driftsDetected: 1,
        driftsHealed: 1,
        driftsResolved: 0,
        fights: 0,
        healFailures: 0,
        checks: 0,
        checkFailures: 0,
        watchRestarts: 0,
        watchedKinds: 1,
        drifted: 0,
      },
    );
    await watcher.stop();
    assert.equal(clock.pending, 0, 'no timer left after stop');
  });

  it('does not count fields Git leaves to others as drift', async () => {
    const { clock, cluster, reporter, watcher } = await setup([deployment('shop')]);
    await scale(cluster, 4, 'horizontal-pod-autoscaler');
    cluster.update(
      refOf(deployment('shop')),
      (o) => (o.metadata.annotations = { ...o.metadata.annotations, 'team/owner': 'ops' }),
    );
    await clock.advance(100);
    assert.ok(cluster.calls.dryRun >= 1, 'the change was checked');
    assert.deepEqual(reporter.drifts, []);
    assert.equal(replicasOf(cluster), 4, 'the autoscaler keeps its replicas');
    await watcher.stop();
  });

  it('without selfHeal reports, reports again only when the fields change, and closes on revert', async () => {
    const { clock, cluster, reporter, watcher } = await setup(
      [deployment('shop', 2)],
      {},
      app('shop', false),
    );
    await scale(cluster, 5);
    await clock.advance(60);
    cluster.update(
      refOf(deployment('shop')),
      (o) => (o.metadata.annotations = { ...o.metadata.annotations, unrelated: 'x' }),
    );
    await clock.advance(60);
    assert.equal(reporter.drifts.length, 1, 'same drift, not reported twice');
    assert.equal(replicasOf(cluster), 5, 'not healed');
    assert.equal(watcher.driftCount('shop'), 1);
    await scale(cluster, 9);
    await clock.advance(60);
    assert.equal(reporter.drifts.length, 2);
    assert.deepEqual(reporter.drifts[1]?.fields, [{ path: '.spec.replicas', desired: 2, live: 9 }]);
    assert.equal(reporter.drifts[1]?.driftId, reporter.drifts[0]?.driftId);
    await scale(cluster, 2); // someone reverts by hand
    await clock.advance(60);
    const closed = reporter.drifts[2];
    assert.equal(closed?.healed, true);
    assert.equal(closed?.driftId, reporter.drifts[0]?.driftId);
    assert.equal(watcher.driftCount('shop'), 0);
    assert.equal(cluster.calls.apply, 0, 'never wrote');
    await watcher.stop();
  });

  it('reports a deletion and re-creates the object', async () => {
    const cm = configMap('shop');
    const { clock, cluster, reporter, watcher } = await setup([cm]);
    cluster.remove(refOf(cm));
    await clock.advance(60);
    assert.deepEqual(
      reporter.drifts.map((d) => [d.type, d.healed, d.changedBy, d.fields.length]),
      [
        ['deleted', false, '', 0],
        ['deleted', true, '', 0],
      ],
    );
    assert.deepEqual(cluster.objects.get('/ConfigMap/shop/settings')?.['data'], { mode: 'fast' });
    await watcher.stop();
  });

  it('catches the removal of our label, which takes the object out of the watch', async () => {
    const cm = configMap('shop');
    const { clock, cluster, reporter, watcher } = await setup([cm]);
    cluster.update(refOf(cm), (o) => delete o.metadata.labels?.[Marks.managedBy]);
    await clock.advance(60);
    assert.equal(reporter.drifts[0]?.type, 'modified');
    assert.deepEqual(reporter.drifts[0]?.fields, [
      { path: `.metadata.labels["${Marks.managedBy}"]`, desired: 'driftless', live: undefined },
    ]);
    assert.equal(reporter.drifts[0]?.changedBy, 'kubectl-edit');
    assert.equal(reporter.drifts[1]?.healed, true);
    assert.equal(
      cluster.objects.get('/ConfigMap/shop/settings')?.metadata.labels?.[Marks.managedBy],
      'driftless',
    );
    await watcher.stop();
  });

  it('stops healing an object another manager keeps reverting, and retries after a backoff', async () => {
    const { clock, cluster, reporter, watcher } = await setup([deployment('shop', 2)], {
      fight: { maxHeals: 3, windowMs: 60_000, backoff: { initialMs: 30_000, jitter: 0 } },
      // This test is about the burst guard alone; the rhythm of re-writes has tests of its own.
      rhythm: { minRewrites: 100 },
    });
    for (let i = 0; i < 4; i++) {
      await scale(cluster, 5, 'other-controller');
      await clock.advance(100);
    }
    assert.equal(cluster.calls.apply, 3, 'healed maxHeals times');
    assert.equal(replicasOf(cluster), 5, 'the fourth revert stands');
    const fight = reporter.drifts.at(-1);
    assert.equal(fight?.healed, false);
    assert.equal(
      fight?.message,
      'fighting with manager other-controller over .spec.replicas; healing paused for 30s',
    );
    assert.equal(watcher.metrics.fights, 1);
    assert.equal(watcher.driftCount('shop'), 1);
    await scale(cluster, 6, 'other-controller'); // still fighting during the pause
    await clock.advance(1_000);
    assert.equal(cluster.calls.apply, 3, 'no heal while paused');
    await clock.advance(30_000);
    assert.equal(cluster.calls.apply, 4, 'one heal after the pause');
    assert.equal(replicasOf(cluster), 2);
    assert.equal(reporter.drifts.at(-1)?.healed, true);
    assert.equal(reporter.drifts.at(-1)?.driftId, fight?.driftId);
    await watcher.stop();
    assert.equal(clock.pending, 0);
  });

  it('holds checks while the app is paused and checks what changed on resume', async () => {
    const { clock, cluster, reporter, watcher } = await setup([deployment('shop', 2)]);
    await watcher.pause('shop');
    await scale(cluster, 5);
    await clock.advance(200);
    assert.equal(cluster.calls.dryRun, 0, 'no check while paused');
    assert.deepEqual(reporter.drifts, []);
    watcher.resume('shop');
    await clock.advance(60);
    assert.equal(replicasOf(cluster), 2);
    assert.equal(reporter.drifts.length, 2);
    await watcher.stop();
  });

  it('needs no check of what the sync just applied, and still catches a later change', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster();
    const obj = deployment('shop', 2);
    const live = await cluster.apply(
      { ...obj, metadata: { ...obj.metadata, annotations: { [Marks.traceId]: SYNC.traceId } } },
      { fieldManager: Marks.fieldManager, force: true },
    );
    const reporter = new MemoryReporter();
    const watcher = new DriftWatcher({ client: cluster, reporter, logger: silentLogger(), clock });
    const applied = new Map([[refKey(refOf(obj)), String(live.metadata['resourceVersion'])]]);
    watcher.track(app('shop', true), [obj], SYNC, applied);
    await clock.advance(100);
    assert.equal(cluster.calls.dryRun, 0, 'no dry-run for an object the sync just wrote');
    await scale(cluster, 5);
    await clock.advance(100);
    assert.equal(replicasOf(cluster), 2);
    assert.deepEqual(
      reporter.drifts.map((d) => d.healed),
      [false, true],
    );
    await watcher.stop();
  });

  it('retries a failed heal with backoff and says why it failed', async () => {
    const { clock, cluster, reporter, watcher } = await setup([deployment('shop', 2)], {
      backoff: { initialMs: 1_000, jitter: 0 },
    });
    cluster.failNextHeal = new KubeApiError('PATCH: 503 unavailable', 503, 'ServiceUnavailable');
    await scale(cluster, 5);
    await clock.advance(60);
    assert.match(reporter.drifts.at(-1)?.message ?? '', /^heal failed: .*503.*retrying in 1s$/);
    assert.equal(replicasOf(cluster), 5);
    await clock.advance(1_100);
    assert.equal(replicasOf(cluster), 2);
    assert.equal(reporter.drifts.at(-1)?.healed, true);
    assert.equal(watcher.metrics.healFailures, 1);
    await watcher.stop();
  });

  it('watches each kind once, re-lists on 410 Gone, and stops kinds no app uses', async () => {
    const { clock, cluster, watcher, spec } = await setup([
      deployment('shop', 2),
      configMap('shop'),
    ]);
    assert.equal(cluster.watches.size, 2);
    assert.equal(watcher.metrics.watchedKinds, 2);
    const lists = cluster.calls.list;
    cluster.emitRaw('Deployment', {
      type: 'ERROR',
      object: { code: 410, reason: 'Expired', message: 'too old' } as unknown as KubeObject,
    });
    await clock.advance(10);
    assert.equal(cluster.calls.list, lists + 1, 're-listed at once');
    assert.equal(cluster.watches.size, 2);
    await clock.advance(2_000);
    cluster.closeWatches(); // server timeout: resume, no re-list
    await clock.advance(10);
    assert.equal(cluster.calls.list, lists + 1);
    assert.equal(cluster.watches.size, 2);
    watcher.track(spec, [configMap('shop')], SYNC);
    await clock.advance(10);
    assert.equal(cluster.watches.size, 1, 'Deployments are no longer watched');
    watcher.untrack('shop');
    await clock.advance(10);
    assert.equal(cluster.watches.size, 0);
    await Promise.all([watcher.stop(), watcher.stop()]);
    assert.equal(watcher.state, 'stopped');
    assert.throws(() => watcher.track(spec, [], SYNC), DriftWatcherError);
    assert.equal(clock.pending, 0);
  });
});
