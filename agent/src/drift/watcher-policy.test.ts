import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Marks, refKey, refOf, type KubeObject } from '../model.ts';
import type { AppSpec } from '../model.ts';
import {
  app,
  configMap,
  deployment,
  labels,
  replicasOf,
  scale,
  setup,
  SYNC,
} from '../../test/drift/fixtures.ts';
import type { FakeCluster } from '../../test/drift/fakes.ts';

/** What a sync does: applies the desired objects; returns refKey → resourceVersion written. */
async function syncApply(cluster: FakeCluster, objects: KubeObject[]) {
  const applied = new Map<string, string>();
  for (const o of objects) {
    const out = await cluster.apply(o, { fieldManager: Marks.fieldManager, force: true });
    applied.set(refKey(refOf(o)), out.metadata['resourceVersion'] as string);
  }
  return applied;
}

function ttlJob(appName: string): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'seed', namespace: 'shop', labels: labels(appName) },
    spec: {
      ttlSecondsAfterFinished: 5,
      template: {
        spec: { restartPolicy: 'Never', containers: [{ name: 'seed', image: 'seed:1' }] },
      },
    },
  };
}

describe('DriftWatcher: how drift closes', () => {
  it('says a drift someone else changed back was reverted, not healed', async () => {
    const { clock, cluster, reporter, watcher } = await setup(
      [deployment('shop', 2)],
      {},
      app('shop', false),
    );
    await scale(cluster, 5);
    await clock.advance(60);
    await scale(cluster, 2);
    await clock.advance(60);
    assert.deepEqual(
      reporter.drifts.map((d) => [d.healed, d.closedBy]),
      [
        [false, ''],
        [true, 'reverted'],
      ],
    );
    assert.equal(watcher.metrics.driftsHealed, 0);
    await watcher.stop();
  });

  it('closes drift of a report-only app when a sync writes Git over it', async () => {
    const objects = [deployment('shop', 2)];
    const spec = app('shop', false);
    const { clock, cluster, reporter, watcher } = await setup(objects, {}, spec);
    await scale(cluster, 5);
    await clock.advance(60);
    assert.equal(watcher.driftCount('shop'), 1);
    await watcher.pause('shop');
    const applied = await syncApply(cluster, objects);
    watcher.track(spec, objects, SYNC, applied);
    watcher.resume('shop');
    await clock.advance(60);
    const closed = reporter.drifts.at(-1);
    assert.equal(closed?.driftId, reporter.drifts[0]?.driftId);
    assert.deepEqual([closed?.healed, closed?.closedBy], [true, 'sync']);
    assert.equal(watcher.driftCount('shop'), 0);
    assert.equal(replicasOf(cluster), 2);
    await watcher.stop();
  });

  it('closes drift of an object that left Git, and of an app that left the config', async () => {
    const spec = app('shop', false);
    const { clock, cluster, reporter, watcher } = await setup(
      [deployment('shop', 2), configMap('shop')],
      {},
      spec,
    );
    await scale(cluster, 5);
    cluster.update(refOf(configMap('shop')), (o) => (o['data'] = { mode: 'slow' }));
    await clock.advance(60);
    assert.equal(watcher.driftCount('shop'), 2);
    watcher.track(spec, [configMap('shop')], SYNC);
    assert.deepEqual(
      reporter.drifts.filter((d) => d.healed).map((d) => [d.ref.kind, d.closedBy]),
      [['Deployment', 'left-git']],
    );
    watcher.untrack('shop');
    assert.deepEqual(
      reporter.drifts.filter((d) => d.healed).map((d) => [d.ref.kind, d.closedBy]),
      [
        ['Deployment', 'left-git'],
        ['ConfigMap', 'left-git'],
      ],
    );
    await watcher.stop();
  });
});

describe('DriftWatcher: modes', () => {
  it('never heals a dry-run app, even with selfHeal', async () => {
    const spec: AppSpec = { ...app('shop', true), sync: 'dry-run' };
    const { clock, cluster, reporter, watcher } = await setup([deployment('shop', 2)], {}, spec);
    await scale(cluster, 5);
    await clock.advance(60);
    assert.equal(cluster.calls.apply, 0, 'nothing written');
    assert.equal(replicasOf(cluster), 5);
    assert.equal(reporter.drifts.at(-1)?.healed, false);
    await watcher.stop();
  });

  it('takes selfHeal and mode changes at once, without waiting for a sync', async () => {
    const spec = app('shop', false);
    const { clock, cluster, reporter, watcher } = await setup([deployment('shop', 2)], {}, spec);
    await scale(cluster, 5);
    await clock.advance(60);
    assert.equal(replicasOf(cluster), 5, 'report only');
    watcher.configure({ ...spec, selfHeal: true });
    await clock.advance(60);
    assert.equal(replicasOf(cluster), 2, 'healed once selfHeal was switched on');
    assert.equal(reporter.drifts.at(-1)?.closedBy, 'heal');
    watcher.configure({ ...spec, selfHeal: true, sync: 'dry-run' });
    await scale(cluster, 7);
    await clock.advance(60);
    assert.equal(replicasOf(cluster), 7, 'dry-run: not healed');
    await watcher.stop();
  });
});

describe('DriftWatcher: fights and run-once objects', () => {
  it('finds a controller that re-writes a field on a steady rhythm and stops healing that field', async () => {
    const spec = app('shop', true);
    const { clock, cluster, reporter, watcher } = await setup([deployment('shop', 2)], {}, spec);
    for (let i = 0; i < 3; i++) {
      await scale(cluster, 5, 'kube-controller-manager');
      await clock.advance(15_000);
    }
    assert.equal(cluster.calls.apply, 2, 'two heals, then the rhythm is clear');
    assert.equal(replicasOf(cluster), 5, 'the controller keeps its value');
    const fight = reporter.drifts.at(-1);
    assert.equal(fight?.healed, false);
    assert.deepEqual(fight?.fight, {
      manager: 'kube-controller-manager',
      paths: ['.spec.replicas'],
      periodMs: 15_000,
    });
    assert.match(
      fight?.message ?? '',
      /^fighting with manager kube-controller-manager over \.spec\.replicas/,
    );
    assert.equal(watcher.driftCount('shop'), 1, 'a fight is open drift, never green');
    assert.deepEqual(watcher.ignoreRules('shop'), [
      {
        group: 'apps',
        kind: 'Deployment',
        name: 'web',
        namespace: 'shop',
        jsonPointers: ['/spec/replicas'],
      },
    ]);
    // It goes on re-writing; nothing is healed, and other fields still are.
    await scale(cluster, 6, 'kube-controller-manager');
    cluster.update(refOf(deployment('shop')), (o) => {
      (
        o['spec'] as { template: { spec: { containers: { image: string }[] } } }
      ).template.spec.containers[0]!.image = 'web:evil';
    });
    await clock.advance(15_000);
    assert.equal(replicasOf(cluster), 6);
    const image = (
      cluster.objects.get('apps/Deployment/shop/web')?.['spec'] as {
        template: { spec: { containers: { image: string }[] } };
      }
    ).template.spec.containers[0]?.image;
    assert.equal(image, 'web:1', 'other drift of the object is still healed');
    assert.equal(reporter.drifts.at(-1)?.healed, false, 'the fight stays open');
    await watcher.stop();
  });

  it('finds the fight on an app without selfHeal too, where each sync undoes the controller', async () => {
    const spec = app('shop', false);
    const objects = [deployment('shop', 2)];
    const { clock, cluster, reporter, watcher } = await setup(objects, {}, spec);
    for (let pass = 0; pass < 3; pass++) {
      await scale(cluster, 5, 'kube-controller-manager');
      await clock.advance(100);
      if (reporter.drifts.at(-1)?.fight) break;
      // The next poll's sync writes Git's replicas back.
      await watcher.pause('shop');
      watcher.track(spec, objects, SYNC, await syncApply(cluster, objects));
      watcher.resume('shop');
      await clock.advance(59_900);
    }
    assert.deepEqual(reporter.drifts.at(-1)?.fight?.paths, ['.spec.replicas']);
    assert.deepEqual(
      reporter.drifts.filter((d) => d.healed).map((d) => d.closedBy),
      ['sync', 'sync'],
    );
    assert.equal(watcher.ignoreRules('shop').length, 1, 'later syncs leave replicas alone');
    await watcher.stop();
  });

  it('keeps healing a person who edits the same field at irregular times', async () => {
    const { clock, cluster, watcher } = await setup([deployment('shop', 2)]);
    for (const gap of [1_000, 240_000, 5_000, 90_000]) {
      await scale(cluster, 5, 'kubectl-edit');
      await clock.advance(gap);
      assert.equal(replicasOf(cluster), 2);
    }
    assert.deepEqual(watcher.ignoreRules('shop'), []);
    await watcher.stop();
  });

  it('lets a finished Job that Kubernetes deleted by its TTL stay deleted', async () => {
    const spec = app('shop', true);
    const job = ttlJob('shop');
    const { clock, cluster, reporter, watcher } = await setup([job], {}, spec);
    cluster.update(
      refOf(job),
      (o) => (o['status'] = { conditions: [{ type: 'Complete', status: 'True' }] }),
      'k8s.io/job-controller',
    );
    await clock.advance(60);
    cluster.remove(refOf(job)); // the TTL controller
    await clock.advance(60);
    assert.equal(cluster.objects.has(refKey(refOf(job))), false, 'not re-created');
    assert.equal(cluster.calls.apply, 0);
    assert.equal(reporter.drifts.length, 0, 'not drift');
    // A later sync with the same manifest does not bring it back into watching.
    watcher.track(spec, [job], SYNC);
    await clock.advance(60);
    assert.equal(cluster.calls.apply, 0);
    assert.equal(reporter.drifts.length, 0);
    assert.equal(watcher.metrics.watchedKinds, 0);
    await watcher.stop();
  });

  it('re-creates a Job someone deleted while it ran', async () => {
    const job = ttlJob('shop');
    const { clock, cluster, reporter, watcher } = await setup([job]);
    cluster.update(refOf(job), (o) => (o['status'] = { active: 1 }), 'k8s.io/job-controller');
    await clock.advance(60);
    cluster.remove(refOf(job));
    await clock.advance(60);
    assert.equal(cluster.objects.has(refKey(refOf(job))), true);
    assert.deepEqual(
      reporter.drifts.map((d) => [d.type, d.closedBy]),
      [
        ['deleted', ''],
        ['deleted', 'heal'],
      ],
    );
    await watcher.stop();
  });
});

describe('DriftWatcher: objects the garbage collector deletes', () => {
  it('lets an object go whose owner is gone, and re-creates one whose owner still exists', async () => {
    const spec = app('shop', true);
    const owner: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'owner', namespace: 'shop' },
    };
    const child = (name: string): KubeObject => ({
      ...configMap('shop'),
      metadata: { ...configMap('shop').metadata, name },
    });
    const { clock, cluster, reporter, watcher } = await setup(
      [child('orphan'), child('kept')],
      {},
      spec,
    );
    await cluster.apply(owner, { fieldManager: 'someone' });
    for (const name of ['orphan', 'kept'])
      cluster.update(refOf(child(name)), (o) => {
        o.metadata['ownerReferences'] = [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: 'u1' },
        ];
      });
    await clock.advance(60);
    cluster.remove(refOf(owner));
    cluster.remove(refOf(child('orphan'))); // the garbage collector
    await clock.advance(60);
    assert.equal(cluster.objects.has(refKey(refOf(child('orphan')))), false, 'not re-created');
    assert.equal(reporter.drifts.filter((d) => d.ref.name === 'orphan').length, 0, 'not drift');
    await cluster.apply(owner, { fieldManager: 'someone' });
    cluster.remove(refOf(child('kept'))); // someone deleted it; its owner is there
    await clock.advance(60);
    assert.deepEqual(
      reporter.drifts.filter((d) => d.ref.name === 'kept').map((d) => [d.type, d.closedBy]),
      [
        ['deleted', ''],
        ['deleted', 'heal'],
      ],
    );
    await watcher.stop();
  });
});

describe('DriftWatcher: ignore rules', () => {
  it('ignores fields by JSON pointer and by manager, and heals the rest without touching them', async () => {
    const spec: AppSpec = {
      ...app('shop', true),
      ignoreDifferences: [
        { kind: 'ConfigMap', jsonPointers: ['/data/mode'] },
        { group: 'apps', kind: 'Deployment', managedFieldsManagers: ['autoscaler'] },
      ],
    };
    const { clock, cluster, reporter, watcher } = await setup(
      [deployment('shop', 2), configMap('shop')],
      {},
      spec,
    );
    cluster.update(refOf(configMap('shop')), (o) => (o['data'] = { mode: 'slow' }));
    await scale(cluster, 4, 'autoscaler');
    await clock.advance(60);
    assert.equal(reporter.drifts.length, 0);
    assert.equal(replicasOf(cluster), 4);
    cluster.update(refOf(configMap('shop')), (o) => (o['data'] = { mode: 'slow', extra: 'x' }));
    cluster.update(refOf(configMap('shop')), (o) => delete o.metadata.labels?.[Marks.app]);
    await clock.advance(60);
    assert.deepEqual(
      reporter.drifts.map((d) => [d.ref.kind, d.fields.map((f) => f.path), d.closedBy]),
      [
        ['ConfigMap', [`.metadata.labels["${Marks.app}"]`], ''],
        ['ConfigMap', [`.metadata.labels["${Marks.app}"]`], 'heal'],
      ],
    );
    assert.equal(
      (cluster.objects.get('/ConfigMap/shop/settings')?.['data'] as Record<string, string>).mode,
      'slow',
      'the heal kept the ignored value',
    );
    await watcher.stop();
  });
});
