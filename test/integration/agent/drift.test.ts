/**
 * Drift detection and healing against a real kube-apiserver: objects are
 * applied as Driftless would, then changed, deleted and fought over by other
 * field managers, and the watcher must report each change (field, desired vs
 * live, who) and heal it or not as the app says.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '@driftless/test';
import { createLogger } from '@driftless/common';
import {
  appSpec,
  DriftWatcher,
  KubeClient,
  Marks,
  withSyncMarks,
  type AppSpec,
  type DriftReport,
  type KubeObject,
} from '@driftless/agent';
import { RecordingReporter, settled, waitUntil } from './drift-recorder.ts';

const NS = 'drift-it';
const REVISION = '0123456789abcdef0123456789abcdef01234567';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

function app(name: string, selfHeal: boolean): AppSpec {
  return appSpec({ name, path: `apps/${name}`, namespace: NS, selfHeal });
}

/** Ownership labels, as the agent sets them before applying. */
const owned = (appName: string) => ({
  [Marks.managedBy]: Marks.managedByValue,
  [Marks.app]: appName,
});

function deployment(appName: string, name: string, replicas?: number): KubeObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: { ...owned(appName), ...labels } },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
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

/** Objects changed once each to measure drift → heal latency (one each: no fight). */
const LATENCY_SAMPLES = 10;

describe('drift watcher on a real API server', { timeout: 120_000 }, () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let client: KubeClient;
  /** Other people and controllers: their own connections, as in a real cluster. */
  let other: KubeClient;
  let watcher: DriftWatcher;
  const reporter = new RecordingReporter();
  /** Heal latencies, printed after the run (timing is not asserted: CI machines vary). */
  const latencies: string[] = [];
  const noteLatency = (what: string, wroteAt: number, healed: DriftReport) =>
    latencies.push(
      `${what}: healed ${healed.healedAt - wroteAt} ms after the other write, ` +
        `${healed.healedAt - healed.detectedAt} ms after detection`,
    );

  /** Applies objects as a sync of `spec` does, then hands them to the watcher. */
  async function sync(spec: AppSpec, objects: KubeObject[]): Promise<void> {
    for (const o of objects) {
      await client.apply(withSyncMarks(o, REVISION, TRACE), {
        fieldManager: Marks.fieldManager,
        force: true,
      });
    }
    watcher.track(spec, objects, { revision: REVISION, traceId: TRACE });
  }

  /** Server-side apply of a partial object as another field manager, taking fields over. */
  async function applyAs(manager: string, obj: KubeObject): Promise<void> {
    await other.apply(obj, { fieldManager: manager, force: true });
  }

  /** `kubectl scale` with server-side apply: sets only spec.replicas. */
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
    cluster = await startCluster();
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    other = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    await client.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      { fieldManager: 'test-setup', force: true },
    );
    watcher = new DriftWatcher({
      client,
      reporter,
      logger: createLogger({ name: 'drift-it', level: process.env['LOG_LEVEL'] ?? 'warn' }),
      fight: { maxHeals: 3, windowMs: 30_000, backoff: { initialMs: 2_000, jitter: 0 } },
      // These tests are about the burst guard; the rhythm of another manager's
      // re-writes (an HPA) has its own tests in drift-policy.test.ts.
      rhythm: { minRewrites: 1_000 },
    });
    await sync(app('heal', true), [deployment('heal', 'web', 2), configMap('heal', 'settings')]);
    await sync(app('report', false), [deployment('report', 'audit', 2)]);
    await sync(app('hpa', true), [deployment('hpa', 'scaled')]);
    await sync(app('fight', true), [deployment('fight', 'contested', 1)]);
    await sync(
      app('latency', true),
      Array.from({ length: LATENCY_SAMPLES }, (_, i) => configMap('latency', `sample-${i}`)),
    );
    await settled(watcher);
    assert.equal(reporter.drifts.length, 0, 'freshly synced objects are in line');
  });

  after(async () => {
    await watcher?.stop();
    client?.close();
    other?.close();
    await cluster?.stop();
    for (const line of latencies) console.log(`heal latency: ${line}`);
  });

  it('reports a scaled Deployment with the field, both values and who scaled it, and heals it', async () => {
    const wroteAt = Date.now();
    await scale('ops-team', 'web', 5);
    const detected = await reporter.waitFor('for web', (d) => d.ref.name === 'web');
    assert.equal(detected.type, 'modified');
    assert.equal(detected.healed, false);
    assert.equal(detected.app, 'heal');
    assert.deepEqual(detected.fields, [{ path: '.spec.replicas', desired: 2, live: 5 }]);
    assert.equal(detected.changedBy, 'ops-team');
    assert.equal(detected.lastSyncTraceId, TRACE);
    const healed = await reporter.waitFor(
      'healing web',
      (d) => d.driftId === detected.driftId && d.healed,
    );
    noteLatency('scaled Deployment', wroteAt, healed);
    assert.equal(await replicasOf('web'), 2);
    assert.equal(watcher.driftCount('heal'), 0);
  });

  it('reports a deleted ConfigMap and re-creates it', async () => {
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'settings' };
    const wroteAt = Date.now();
    // A client of its own: after KubeClient.delete the next request on the same
    // keep-alive socket is answered 400 Bad Request (a client bug, reported).
    const deleter = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    assert.equal(await deleter.delete(ref), true);
    deleter.close();
    const detected = await reporter.waitFor('for settings', (d) => d.ref.name === 'settings');
    assert.equal(detected.type, 'deleted');
    assert.equal(detected.changedBy, '', 'Kubernetes does not record who deleted');
    const healed = await reporter.waitFor(
      'healing settings',
      (d) => d.driftId === detected.driftId && d.healed,
    );
    noteLatency('deleted ConfigMap', wroteAt, healed);
    const live = await client.get(ref);
    assert.deepEqual(live?.['data'], { mode: 'fast', retries: '3' });
    assert.equal(live?.metadata.labels?.[Marks.managedBy], Marks.managedByValue);
  });

  it('catches a removed ownership label, though the object leaves the watch', async () => {
    const wroteAt = Date.now();
    // A JSON merge patch, as `kubectl label cm settings app.kubernetes.io/managed-by-` sends.
    await other.request('PATCH', `/api/v1/namespaces/${NS}/configmaps/settings`, {
      body: { metadata: { labels: { [Marks.managedBy]: null } } },
      contentType: 'application/merge-patch+json',
      query: { fieldManager: 'kubectl-label' },
    });
    const path = `.metadata.labels["${Marks.managedBy}"]`;
    const detected = await reporter.waitFor(
      'for the removed label',
      (d) => d.ref.name === 'settings' && d.type === 'modified',
    );
    assert.deepEqual(detected.fields, [{ path, desired: Marks.managedByValue, live: undefined }]);
    // An update that only removes a field leaves its manager owning nothing, so
    // Kubernetes keeps no managedFields entry for it: who did it is unknown.
    assert.equal(detected.changedBy, '');
    const healed = await reporter.waitFor(
      'healing the label',
      (d) => d.driftId === detected.driftId && d.healed,
    );
    noteLatency('removed label', wroteAt, healed);
    const live = await client.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: NS,
      name: 'settings',
    });
    assert.equal(live?.metadata.labels?.[Marks.managedBy], Marks.managedByValue);
  });

  it('with selfHeal off only reports, and closes the drift when someone reverts it', async () => {
    await scale('ops-team', 'audit', 4);
    const detected = await reporter.waitFor('for audit', (d) => d.ref.name === 'audit');
    assert.deepEqual(detected.fields, [{ path: '.spec.replicas', desired: 2, live: 4 }]);
    assert.equal(detected.changedBy, 'ops-team');
    await settled(watcher);
    assert.equal(await replicasOf('audit'), 4, 'not healed');
    assert.equal(watcher.driftCount('report'), 1);
    assert.equal(reporter.of('audit').length, 1, 'reported once');
    await scale('ops-team', 'audit', 2); // put back by hand
    const closed = await reporter.waitFor(
      'closing audit',
      (d) => d.driftId === detected.driftId && d.healed,
    );
    assert.equal(closed.closedBy, 'reverted', 'changed back by someone else, not healed');
    assert.equal(watcher.driftCount('report'), 0);
  });

  it('ignores fields Git does not declare: replicas left to an autoscaler, foreign labels', async () => {
    const checks = watcher.metrics.checks;
    await scale('horizontal-pod-autoscaler', 'scaled', 3);
    await applyAs('ops-team', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'scaled', namespace: NS, labels: { 'team.example/owner': 'ops' } },
    });
    // Each write is one watch event; both are checked (the label write after the scale).
    await waitUntil('the changes to be checked', () => watcher.metrics.checks >= checks + 1);
    await settled(watcher);
    assert.deepEqual(reporter.of('scaled'), []);
    assert.equal(await replicasOf('scaled'), 3, 'the autoscaler keeps its replicas');
  });

  it('heals a changed field well under a second (latency printed, not asserted)', async () => {
    const sinceWrite: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const name = `sample-${i}`;
      const wroteAt = Date.now();
      await applyAs('ops-team', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: NS },
        data: { mode: 'slow' },
      });
      const healed = await reporter.waitFor(
        `healing ${name}`,
        (d) => d.ref.name === name && d.healed,
      );
      assert.deepEqual(healed.fields, [{ path: '.data.mode', desired: 'fast', live: 'slow' }]);
      sinceWrite.push(healed.healedAt - wroteAt);
    }
    sinceWrite.sort((a, b) => a - b);
    const p50 = sinceWrite[Math.floor(sinceWrite.length / 2)] ?? 0;
    latencies.push(
      `${LATENCY_SAMPLES} ConfigMap edits: healed after the other write in median ${p50} ms, ` +
        `max ${sinceWrite.at(-1) ?? 0} ms`,
    );
  });

  it('stops fighting a controller that keeps reverting a field, and heals after the pause', async () => {
    let fighting = true;
    const fighter = (async () => {
      while (fighting) {
        await scale('autoscaler-x', 'contested', 3);
        // Like a controller: revert again once the watcher has healed the field back.
        await waitUntil(
          'the watcher to heal the contested replicas',
          async () => !fighting || (await replicasOf('contested')) !== 3,
          30_000,
        );
      }
    })();
    let fight: DriftReport;
    try {
      fight = await reporter.waitFor(
        'about the fight',
        (d) => d.ref.name === 'contested' && d.message.startsWith('fighting'),
        15_000,
      );
    } finally {
      fighting = false;
      await fighter;
    }
    assert.equal(
      fight.message,
      'fighting with manager autoscaler-x over .spec.replicas; healing paused for 2s',
    );
    assert.equal(fight.healed, false);
    assert.equal(watcher.metrics.fights, 1);
    const healsBefore = reporter.of('contested').filter((d) => d.healed).length;
    assert.equal(healsBefore, 3, 'healed maxHeals times before giving up');
    assert.equal(await replicasOf('contested'), 3, 'the other controller has the field for now');
    const healed = await reporter.waitFor(
      'healing after the pause',
      (d) => d.driftId === fight.driftId && d.healed,
    );
    assert.ok(healed.healedAt - fight.detectedAt >= 1_500, 'healed only after the pause');
    assert.equal(await replicasOf('contested'), 1);
  });
});
