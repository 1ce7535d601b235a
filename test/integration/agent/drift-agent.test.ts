/**
 * Drift watching inside the whole agent, against a real kube-apiserver (with
 * kube-controller-manager and kwok) and a real git http-backend: case 06 (a
 * Job with a TTL runs once, across later passes), "Sync now" closing drift of
 * a report-only app, a sync that leaves a fought-over field to its
 * controller, and a switch to dry-run that stops heals.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock, type Clock } from '@driftless/common';
import { refOf, type KubeObject } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import { clusterYaml, deployment, makeAgent, type TestAgent } from './fleet.ts';
import { settled, waitUntil } from './drift-recorder.ts';

/** The wall clock plus steps: plays an HPA's 15 s rhythm without waiting 15 s. */
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

const APPS = (previewMode: string) => `
    - name: batch
      path: apps/batch
      namespace: c06
      selfHeal: true
      healthTimeout: 60s
    - name: audit
      path: apps/audit
      namespace: audit
      selfHeal: false
    - name: autoscaled
      path: apps/autoscaled
      namespace: scaled
      selfHeal: true
      healthTimeout: 60s
    - name: tuned
      path: apps/tuned
      namespace: tuned
      selfHeal: true
      healthTimeout: 60s
      ignoreDifferences:
        - group: apps
          kind: Deployment
          jsonPointers: [/spec/replicas]
    - name: gated
      path: apps/gated
      namespace: gated
      sync: manual
      healthTimeout: 60s
      ignoreDifferences:
        - group: apps
          kind: Deployment
          jsonPointers: [/spec/replicas]
    - name: preview
      path: apps/preview
      namespace: preview
      selfHeal: true
      sync: ${previewMode}
`;

const namespace = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
const configMap = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  mode: fast\n`;

/** The files of the fleet; `apps/batch` is case 06-job-ttl-selfheal as handed. */
function fleet(): Record<string, string> {
  return {
    'clusters/test/driftless.yaml': clusterYaml(APPS('auto')),
    'apps/batch/namespace.yaml': namespace('c06'),
    'apps/batch/job.yaml': `# Runs once; the TTL controller deletes it 5 s after it finishes.
apiVersion: batch/v1
kind: Job
metadata:
  name: seed
spec:
  ttlSecondsAfterFinished: 5
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: seed
          image: registry.local/seed:1.0
`,
    'apps/audit/namespace.yaml': namespace('audit'),
    'apps/audit/config.yaml': configMap('audit-config'),
    'apps/autoscaled/namespace.yaml': namespace('scaled'),
    'apps/autoscaled/deployment.yaml': deployment('api', 2),
    'apps/tuned/namespace.yaml': namespace('tuned'),
    'apps/tuned/deployment.yaml': deployment('worker', 2),
    'apps/gated/namespace.yaml': namespace('gated'),
    'apps/gated/deployment.yaml': deployment('gate', 2),
    'apps/preview/namespace.yaml': namespace('preview'),
    'apps/preview/config.yaml': configMap('preview-config'),
  };
}

const ref = (apiVersion: string, kind: string, namespace: string, name: string) => ({
  apiVersion,
  kind,
  namespace,
  name,
});
const SEED = ref('batch/v1', 'Job', 'c06', 'seed');
const API = ref('apps/v1', 'Deployment', 'scaled', 'api');

describe('drift watching in the agent', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let t: TestAgent;
  const clock = new SteppedClock();

  before(async () => {
    [cluster, git] = await Promise.all([startCluster({ workloads: true }), startGitServer()]);
    repo = await git.createRepo('fleet');
    await repo.commit(fleet(), 'fleet');
    t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo, drift: { clock } });
    await t.agent.reconcileOnce();
    // The manual app waits for its first approval.
    const first = t.recorder.lastSync('gated');
    assert.equal(first?.outcome, 'waiting-approval');
    t.approvals.add({
      approvalId: 'approval-1',
      app: 'gated',
      revision: first.revision,
      planDigest: first.planDigest,
      approvedBy: 'test',
    });
    await t.agent.reconcileOnce();
    const failed = [...new Set(t.recorder.syncs.map((s) => s.app))]
      .map((app) => t.recorder.lastSync(app))
      .filter((s) => s?.outcome !== 'succeeded');
    assert.deepEqual(
      failed.map((s) => `${s?.app}: ${s?.error}`),
      [],
    );
  });
  after(async () => {
    await t?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  /** Server-side apply of a partial object by another field manager. */
  const applyAs = (manager: string, obj: KubeObject) =>
    t.client.apply(obj, { fieldManager: manager, force: true });
  const replicas = async () =>
    ((await t.client.get(API))?.['spec'] as { replicas?: number } | undefined)?.replicas;
  const driftsOf = (name: string) => t.recorder.drifts.filter((d) => d.ref.name === name);

  it('runs a Job with a TTL once: its deletion is not drift and later passes do not re-create it (case 06)', async () => {
    const kinds = t.drift.metrics.watchedKinds;
    await waitUntil(
      'the Job to finish and be deleted by its TTL',
      async () => (await t.client.get(SEED)) === undefined,
      120_000,
    );
    await waitUntil(
      'drift watching to let the finished Job go',
      () => t.drift.metrics.watchedKinds === kinds - 1,
    );
    await t.agent.reconcileOnce();
    assert.equal(await t.client.get(SEED), undefined, 'not re-created by a later pass');
    assert.deepEqual(driftsOf('seed'), [], 'not drift');
    assert.equal(t.recorder.lastSync('batch')?.outcome, 'succeeded');
    assert.equal(t.drift.metrics.watchedKinds, kinds - 1, 'not watched again');
  });

  it('closes drift of a report-only app when "Sync now" writes Git over it', async () => {
    await applyAs('ops-team', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'audit-config', namespace: 'audit' },
      data: { mode: 'slow' },
    });
    await waitUntil('drift on audit-config', () => driftsOf('audit-config').length > 0);
    const opened = driftsOf('audit-config')[0];
    assert.equal(opened?.healed, false);
    await t.agent.reconcileOnce(); // what "Sync now" asks for
    await waitUntil('the drift to close', () =>
      driftsOf('audit-config').some((d) => d.driftId === opened?.driftId && d.healed),
    );
    const closed = driftsOf('audit-config').find((d) => d.healed);
    assert.equal(closed?.closedBy, 'sync');
    assert.equal(t.drift.driftCount('audit'), 0);
    const status = t.agent.statuses().find((s) => s.app === 'audit');
    assert.equal(status?.driftCount, 0);
  });

  it('after finding a fight over replicas, neither heals nor syncs it back, and the app is never green', async () => {
    let fought = false;
    for (let round = 0; round < 6 && !fought; round++) {
      clock.step(15_000);
      const from = t.recorder.drifts.length;
      await applyAs('hpa-like', {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'api', namespace: 'scaled' },
        spec: { replicas: 4 },
      });
      await waitUntil(`the answer to re-write ${round + 1}`, () =>
        t.recorder.drifts
          .slice(from)
          .some((d) => d.ref.name === 'api' && ((d.healed && d.closedBy === 'heal') || !!d.fight)),
      );
      fought = t.recorder.drifts.slice(from).some((d) => d.ref.name === 'api' && !!d.fight);
    }
    assert.ok(fought, 'the fight was found');
    assert.equal(await replicas(), 4);
    await t.agent.reconcileOnce();
    assert.equal(await replicas(), 4, 'the sync leaves the fought field to its controller');
    const sync = t.recorder.lastSync('autoscaled');
    assert.equal(sync?.outcome, 'succeeded');
    assert.notEqual(
      sync?.objects.find((o) => o.ref.name === 'api')?.action,
      'update',
      'no update of the Deployment for replicas',
    );
    const status = t.agent.statuses().find((s) => s.app === 'autoscaled');
    assert.equal(status?.driftCount, 1, 'the fight is open drift');
  });

  it('leaves a field in ignoreDifferences to others in drift and in later syncs, and applies the rest', async () => {
    const worker = ref('apps/v1', 'Deployment', 'tuned', 'worker');
    await applyAs('autoscaler', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'worker', namespace: 'tuned' },
      spec: { replicas: 5 },
    });
    await waitUntil(
      'the scale to be seen',
      async () => ((await t.client.get(worker))?.['spec'] as { replicas: number }).replicas === 5,
    );
    await settled(t.drift);
    await repo.commit(
      { 'apps/tuned/deployment.yaml': deployment('worker', 2, 'registry.local/web:2.0') },
      'worker 2.0',
    );
    await t.agent.reconcileOnce();
    const sync = t.recorder.lastSync('tuned');
    assert.equal(sync?.outcome, 'succeeded');
    const change = sync?.objects.find((o) => o.ref.name === 'worker');
    assert.equal(change?.action, 'update');
    assert.deepEqual(
      change?.diff.map((d) => d.path),
      ['.spec.template.spec.containers[0].image'],
      'the plan leaves the ignored field out',
    );
    const live = await t.client.get(worker);
    const spec = live?.['spec'] as {
      replicas: number;
      template: { spec: { containers: { image: string }[] } };
    };
    assert.equal(spec.replicas, 5, 'the sync kept the ignored value');
    assert.equal(spec.template.spec.containers[0]?.image, 'registry.local/web:2.0');
    assert.deepEqual(driftsOf('worker'), [], 'not drift');
  });

  it('keeps an approval valid while an autoscaler changes a field the app ignores', async () => {
    const gate = ref('apps/v1', 'Deployment', 'gated', 'gate');
    const scaleGate = (replicas: number) =>
      applyAs('autoscaler', {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'gate', namespace: 'gated' },
        spec: { replicas },
      });
    const digest = () => t.agent.statuses().find((s) => s.app === 'gated')?.planDigest;
    await scaleGate(5);
    await repo.commit(
      { 'apps/gated/deployment.yaml': deployment('gate', 2, 'registry.local/web:2.0') },
      'gate 2.0',
    );
    await t.agent.reconcileOnce();
    const waiting = t.recorder.lastSync('gated');
    assert.equal(waiting?.outcome, 'waiting-approval');
    const planned = digest();
    await scaleGate(7);
    await t.agent.reconcileOnce();
    assert.equal(digest(), planned, 'the plan digest does not follow the ignored field');
    t.approvals.add({
      approvalId: 'approval-2',
      app: 'gated',
      revision: waiting.revision,
      planDigest: planned ?? '',
      approvedBy: 'test',
    });
    await t.agent.reconcileOnce();
    assert.equal(t.recorder.lastSync('gated')?.outcome, 'succeeded');
    const spec = (await t.client.get(gate))?.['spec'] as {
      replicas: number;
      template: { spec: { containers: { image: string }[] } };
    };
    assert.equal(spec.template.spec.containers[0]?.image, 'registry.local/web:2.0');
    assert.equal(spec.replicas, 7, 'the autoscaler keeps its value');
  });

  it('stops healing at once when an app switches to dry-run, though selfHeal stays on', async () => {
    await repo.commit(
      { 'clusters/test/driftless.yaml': clusterYaml(APPS('dry-run')) },
      'preview: dry-run',
    );
    await t.agent.reconcileOnce();
    const before = await t.client.get(
      refOf({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'preview-config', namespace: 'preview' },
      }),
    );
    assert.ok(before);
    await applyAs('ops-team', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'preview-config', namespace: 'preview' },
      data: { mode: 'slow' },
    });
    await waitUntil('drift on preview-config', () => driftsOf('preview-config').length > 0);
    await settled(t.drift);
    await t.agent.reconcileOnce();
    const live = await t.client.get(refOf(before));
    assert.deepEqual(
      live?.['data'],
      { mode: 'slow' },
      'a dry-run app is never written, heals included',
    );
    assert.deepEqual(
      driftsOf('preview-config').map((d) => d.healed),
      [false],
    );
    assert.equal(t.recorder.lastSync('preview')?.outcome, 'planned');
  });
});
