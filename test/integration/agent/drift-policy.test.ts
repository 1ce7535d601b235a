/**
 * What drift watching must leave alone, and what closes drift, against a
 * real kube-apiserver with kube-controller-manager and kwok: a Job that
 * finished and was deleted by its TTL (case 06), a controller that owns a
 * field Git declares (an HPA-like writer on a steady rhythm), ignore rules,
 * dry-run apps, and drift closed by a sync.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '@driftless/test';
import { createLogger, systemClock, type Clock } from '@driftless/common';
import {
  appSpec,
  DriftWatcher,
  KubeClient,
  Marks,
  refKey,
  refOf,
  withSyncMarks,
  type AppSpec,
  type KubeObject,
} from '@driftless/agent';
import { RecordingReporter, settled, waitUntil } from './drift-recorder.ts';

const NS = 'drift-policy';
const REVISION = '0123456789abcdef0123456789abcdef01234567';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SYNC = { revision: REVISION, traceId: TRACE };

/**
 * The wall clock, plus steps the test takes: a controller's rhythm (an HPA
 * every 15 s) is played by stepping this clock instead of waiting 15 s.
 */
class SteppedClock implements Clock {
  #offset = 0;
  now(): number {
    return Date.now() + this.#offset;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
  /** Moves time forward by `ms`. */
  step(ms: number): void {
    this.#offset += ms;
  }
}

const owned = (appName: string) => ({
  [Marks.managedBy]: Marks.managedByValue,
  [Marks.app]: appName,
});

function app(name: string, selfHeal: boolean, extra: Partial<AppSpec> = {}): AppSpec {
  return { ...appSpec({ name, path: `apps/${name}`, namespace: NS, selfHeal }), ...extra };
}

function deployment(appName: string, name: string, replicas: number): KubeObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: { ...owned(appName), ...labels } },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'web', image: 'registry.example/web:1.0' }] },
      },
    },
  };
}

function configMap(appName: string, name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: NS, labels: owned(appName) },
    data: { mode: 'fast', retries: '3' },
  };
}

/** The Job of case 06-job-ttl-selfheal: runs once; the TTL controller deletes it 5 s after it finishes. */
function seedJob(appName: string): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'seed', namespace: NS, labels: owned(appName) },
    spec: {
      ttlSecondsAfterFinished: 5,
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'seed', image: 'registry.local/seed:1.0' }],
        },
      },
    },
  };
}

describe(
  'drift watching: what is not drift, fights, and what closes drift',
  { timeout: 240_000 },
  () => {
    let cluster: Awaited<ReturnType<typeof startCluster>>;
    let client: KubeClient;
    /** Other people and controllers, on their own connection. */
    let other: KubeClient;
    let watcher: DriftWatcher;
    const clock = new SteppedClock();
    const reporter = new RecordingReporter();

    /** Applies objects as a sync of `spec` does and hands them to the watcher; returns what it wrote. */
    async function sync(spec: AppSpec, objects: KubeObject[]): Promise<Map<string, string>> {
      const applied = new Map<string, string>();
      for (const o of objects) {
        const out = await client.apply(withSyncMarks(o, REVISION, TRACE), {
          fieldManager: Marks.fieldManager,
          force: true,
        });
        applied.set(refKey(refOf(o)), String(out.metadata['resourceVersion']));
      }
      watcher.track(spec, objects, SYNC, applied);
      return applied;
    }

    /** Server-side apply of a partial object as another field manager, taking its fields over. */
    const applyAs = (manager: string, obj: KubeObject) =>
      other.apply(obj, { fieldManager: manager, force: true });

    const scale = (manager: string, name: string, replicas: number) =>
      applyAs(manager, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: NS },
        spec: { replicas },
      });

    async function replicasOf(name: string): Promise<number | undefined> {
      const live = await client.get({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: NS,
        name,
      });
      return (live?.['spec'] as { replicas?: number } | undefined)?.replicas;
    }

    before(async () => {
      cluster = await startCluster({ workloads: true });
      client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
      other = await KubeClient.fromKubeConfig(cluster.kubeConfig);
      await client.apply(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
        { fieldManager: 'test-setup', force: true },
      );
      watcher = new DriftWatcher({
        client,
        reporter,
        clock,
        logger: createLogger({ name: 'drift-policy', level: process.env['LOG_LEVEL'] ?? 'warn' }),
      });
    });

    after(async () => {
      await watcher?.stop();
      client?.close();
      other?.close();
      await cluster?.stop();
    });

    it('lets a finished Job that its TTL deleted stay deleted: no drift, no re-create (case 06)', async () => {
      const spec = app('batch', true);
      const job = seedJob('batch');
      await sync(spec, [job]);
      const kinds = watcher.metrics.watchedKinds;
      // kwok runs its pod to completion; the Job controller marks it Complete; the TTL controller deletes it.
      await waitUntil(
        'the Job to finish and be deleted by its TTL',
        async () => (await client.get(refOf(job))) === undefined,
        120_000,
      );
      await waitUntil(
        'the watcher to let the finished Job go',
        () => watcher.metrics.watchedKinds === kinds - 1,
      );
      assert.deepEqual(
        reporter.of('seed'),
        [],
        'a run-once object Kubernetes deleted is not drift',
      );
      assert.equal(await client.get(refOf(job)), undefined, 'not re-created');
      // A later sync that hands over the same manifest does not bring it back under watch.
      watcher.track(spec, [job], SYNC);
      assert.equal(watcher.metrics.watchedKinds, kinds - 1);
      assert.equal(watcher.driftCount('batch'), 0);
    });

    it('finds an HPA-like controller re-writing replicas on a steady rhythm, stops healing it and shows the fight', async () => {
      const spec = app('autoscaled', true);
      await sync(spec, [deployment('autoscaled', 'api', 2)]);
      let fightReport;
      let heals = 0;
      for (let round = 0; round < 6 && !fightReport; round++) {
        clock.step(15_000); // the controller's next pass
        const from = reporter.drifts.length;
        await scale('hpa-like', 'api', 4);
        const answer = await reporter.waitFor(
          `answering re-write ${round + 1}`,
          (d) => d.ref.name === 'api' && ((d.healed && d.closedBy === 'heal') || !!d.fight),
          10_000,
          from,
        );
        if (answer.fight) fightReport = answer;
        else heals++;
      }
      assert.ok(fightReport, 'a fight was reported');
      assert.deepEqual(fightReport.fight && { ...fightReport.fight, periodMs: 0 }, {
        manager: 'hpa-like',
        paths: ['.spec.replicas'],
        periodMs: 0,
      });
      assert.equal(fightReport.healed, false, 'a fight is open drift, never green');
      assert.equal(heals, 2, 'healed until the rhythm was clear');
      assert.equal(await replicasOf('api'), 4, 'the controller keeps the field');
      assert.deepEqual(watcher.ignoreRules('autoscaled'), [
        {
          group: 'apps',
          kind: 'Deployment',
          name: 'api',
          namespace: NS,
          jsonPointers: ['/spec/replicas'],
        },
      ]);
      // It goes on scaling: checked, reported, never healed.
      clock.step(15_000);
      const checks = watcher.metrics.checks;
      await scale('hpa-like', 'api', 6);
      await waitUntil('the re-write to be checked', () => watcher.metrics.checks > checks);
      await settled(watcher);
      assert.equal(await replicasOf('api'), 6);
      assert.equal(watcher.driftCount('autoscaled'), 1);
      assert.equal(reporter.of('api').at(-1)?.fight?.manager, 'hpa-like');
    });

    it('ignores fields by JSON pointer and by field manager, and heals the rest around them', async () => {
      const spec = app('tuned', true, {
        ignoreDifferences: [
          { kind: 'ConfigMap', jsonPointers: ['/data/mode'] },
          { group: 'apps', kind: 'Deployment', managedFieldsManagers: ['vpa-like'] },
        ],
      });
      await sync(spec, [configMap('tuned', 'tuning'), deployment('tuned', 'sized', 2)]);
      await applyAs('tuner', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'tuning', namespace: NS },
        data: { mode: 'slow', retries: '9' },
      });
      const healed = await reporter.waitFor(
        'healing tuning',
        (d) => d.ref.name === 'tuning' && d.healed,
      );
      assert.deepEqual(healed.fields, [{ path: '.data.retries', desired: '3', live: '9' }]);
      const cm = await client.get(refOf(configMap('tuned', 'tuning')));
      assert.deepEqual(
        cm?.['data'],
        { mode: 'slow', retries: '3' },
        'the ignored field keeps its value',
      );

      await scale('vpa-like', 'sized', 5);
      await applyAs('ops-team', {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'sized', namespace: NS, labels: { app: 'renamed' } },
      });
      const sized = await reporter.waitFor(
        'healing sized',
        (d) => d.ref.name === 'sized' && d.healed,
      );
      assert.deepEqual(
        sized.fields.map((f) => f.path),
        ['.metadata.labels.app'],
        'replicas, owned by the ignored manager, is no drift',
      );
      assert.equal(await replicasOf('sized'), 5, 'the heal left the ignored manager its field');
    });

    it('never heals a dry-run app, and heals at once when its mode changes', async () => {
      const spec = app('preview', true, { sync: 'dry-run' });
      await sync(spec, [deployment('preview', 'shadow', 2)]);
      await scale('ops-team', 'shadow', 5);
      const detected = await reporter.waitFor('for shadow', (d) => d.ref.name === 'shadow');
      assert.equal(detected.healed, false);
      await settled(watcher);
      assert.equal(await replicasOf('shadow'), 5, 'dry-run never writes');
      assert.deepEqual(
        reporter.of('shadow').map((d) => d.healed),
        [false],
      );
      watcher.configure({ ...spec, sync: 'auto' });
      const healed = await reporter.waitFor(
        'healing shadow once the app is auto',
        (d) => d.driftId === detected.driftId && d.healed,
      );
      assert.equal(healed.closedBy, 'heal');
      assert.equal(await replicasOf('shadow'), 2);
    });

    it('closes drift of a report-only app when a sync ("Sync now") writes Git over it', async () => {
      const spec = app('pinned', false);
      const cm = configMap('pinned', 'pinned');
      await sync(spec, [cm]);
      await applyAs('ops-team', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'pinned', namespace: NS },
        data: { mode: 'slow' },
      });
      const detected = await reporter.waitFor('for pinned', (d) => d.ref.name === 'pinned');
      assert.equal(detected.healed, false);
      // What the reconciler does around a sync: pause, apply Git, hand over what was written, resume.
      await watcher.pause('pinned');
      await sync(spec, [cm]);
      watcher.resume('pinned');
      const closed = await reporter.waitFor(
        'closing pinned',
        (d) => d.driftId === detected.driftId && d.healed,
      );
      assert.equal(closed.closedBy, 'sync');
      assert.equal(watcher.driftCount('pinned'), 0);
      assert.deepEqual((await client.get(refOf(cm)))?.['data'], { mode: 'fast', retries: '3' });
    });
  },
);
