import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '@driftless/common';
import { refKey, refOf, type KubeObject, type ObjectRef } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
import { planApp, type Plan } from '../plan/index.ts';
import { applyPlan, ApplyError } from './apply.ts';

/** A clock whose sleeps pass at once, moving time on. */
function steppingClock(): Clock {
  let now = 0;
  return { now: () => now, sleep: async (ms) => void (now += ms) };
}

/**
 * An in-memory API server for the calls apply makes, recording each write.
 * CRDs are Established at once; a Job's status is what `jobEnd` says.
 */
class FakeCluster {
  readonly objects = new Map<string, KubeObject>();
  readonly journal: string[] = [];
  jobEnd: 'Complete' | 'Failed' = 'Complete';
  #uid = 0;

  client(): KubeClient {
    return {
      resource: async () => ({
        group: '',
        version: 'v1',
        kind: 'X',
        plural: 'x',
        namespaced: true,
        verbs: [],
      }),
      get: async (ref: ObjectRef) => this.objects.get(refKey(ref)),
      apply: async (obj: KubeObject, o: { dryRun?: boolean }) => {
        const key = refKey(refOf(obj));
        const live = this.objects.get(key);
        const next: KubeObject = structuredClone({
          ...obj,
          metadata: {
            ...obj.metadata,
            uid: live?.metadata['uid'] ?? `uid-${++this.#uid}`,
            resourceVersion: '1',
          },
        });
        if (obj.kind === 'CustomResourceDefinition')
          next['status'] = { conditions: [{ type: 'Established', status: 'True' }] };
        if (obj.kind === 'Job')
          next['status'] = { conditions: [{ type: this.jobEnd, status: 'True' }] };
        if (!o.dryRun) {
          this.objects.set(key, next);
          this.journal.push(`apply ${obj.kind}/${obj.metadata.name}`);
        }
        return next;
      },
      delete: async (ref: ObjectRef) => {
        this.journal.push(`delete ${ref.kind}/${ref.name}`);
        return this.objects.delete(refKey(ref));
      },
      patchJson: async (ref: ObjectRef) => {
        this.journal.push(`take over ${ref.kind}/${ref.name}`);
        return this.objects.get(refKey(ref)) as KubeObject;
      },
    } as unknown as KubeClient;
  }
}

const obj = (
  kind: string,
  name: string,
  annotations: Record<string, string> = {},
  apiVersion = 'v1',
): KubeObject => ({
  apiVersion,
  kind,
  metadata: {
    name,
    ...(kind === 'Namespace' || kind === 'CustomResourceDefinition' ? {} : { namespace: 'ns' }),
    annotations,
  },
});

async function plan(
  cluster: FakeCluster,
  desired: KubeObject[],
  hookEvent: 'install' | 'upgrade' | 'none',
): Promise<Plan> {
  return planApp({
    client: cluster.client(),
    app: 'a',
    revision: 'r',
    desired,
    inventory: [],
    prune: false,
    hookEvent,
  });
}

/** The cluster with the namespace `ns` in it already. */
async function withNamespace(cluster: FakeCluster): Promise<FakeCluster> {
  await cluster.client().apply(obj('Namespace', 'ns'), { fieldManager: 'test' });
  cluster.journal.length = 0;
  return cluster;
}

describe('applyPlan', () => {
  const desired = [
    obj('ConfigMap', 'late', { 'driftless.dev/sync-wave': '1' }),
    obj('Job', 'post', { 'helm.sh/hook': 'post-install' }, 'batch/v1'),
    obj('ConfigMap', 'early'),
    obj(
      'Job',
      'migrate',
      { 'helm.sh/hook': 'pre-install', 'helm.sh/hook-delete-policy': 'hook-succeeded' },
      'batch/v1',
    ),
    obj('ServiceAccount', 'hook-sa', {
      'helm.sh/hook': 'pre-install',
      'helm.sh/hook-weight': '-1',
    }),
    obj('Namespace', 'ns'),
    obj('CustomResourceDefinition', 'things.example.com', {}, 'apiextensions.k8s.io/v1'),
  ];

  it('orders CRDs, Namespaces, pre-hooks by weight, waves, post-hooks; waits between waves', async () => {
    const cluster = new FakeCluster();
    const waves: string[][] = [];
    await applyPlan({
      client: cluster.client(),
      plan: await plan(cluster, desired, 'install'),
      revision: 'r',
      traceId: '',
      concurrency: 1,
      clock: steppingClock(),
      waitForWave: async (objs) => void waves.push(objs.map((o) => o.ref.name)),
    });
    assert.deepEqual(cluster.journal, [
      'apply CustomResourceDefinition/things.example.com',
      'apply Namespace/ns',
      'apply ServiceAccount/hook-sa',
      'apply Job/migrate',
      'delete Job/migrate',
      'apply ConfigMap/early',
      'apply ConfigMap/late',
      'apply Job/post',
    ]);
    assert.deepEqual(waves, [['early'], ['late']]);
  });

  it('runs no hook on a resync', async () => {
    const cluster = new FakeCluster();
    const p = await plan(cluster, desired, 'none');
    await applyPlan({
      client: cluster.client(),
      plan: p,
      revision: 'r',
      traceId: '',
      clock: steppingClock(),
    });
    assert.ok(!cluster.journal.some((j) => j.includes('Job/')), cluster.journal.join(', '));
  });

  it('a failed hook with hook-failed is deleted, fails the sync naming it, and stops the apply', async () => {
    const cluster = await withNamespace(new FakeCluster());
    cluster.jobEnd = 'Failed';
    const hook = obj(
      'Job',
      'migrate',
      { 'helm.sh/hook': 'pre-upgrade', 'helm.sh/hook-delete-policy': 'hook-failed' },
      'batch/v1',
    );
    const p = await plan(cluster, [hook, obj('ConfigMap', 'after')], 'upgrade');
    await assert.rejects(
      applyPlan({
        client: cluster.client(),
        plan: p,
        revision: 'r',
        traceId: '',
        clock: steppingClock(),
      }),
      (err: unknown) =>
        err instanceof ApplyError &&
        /^apply Job ns\/migrate: hook Job ns\/migrate failed/.test(err.message),
    );
    assert.deepEqual(cluster.journal, ['apply Job/migrate', 'delete Job/migrate']);
  });

  it('replaces a hook object left by an earlier run instead of patching it', async () => {
    const cluster = await withNamespace(new FakeCluster());
    const hook = obj('Job', 'migrate', { 'helm.sh/hook': 'pre-upgrade' }, 'batch/v1');
    await cluster.client().apply(hook, { fieldManager: 'test' });
    cluster.journal.length = 0;
    const p = await plan(cluster, [hook], 'upgrade');
    await applyPlan({
      client: cluster.client(),
      plan: p,
      revision: 'r',
      traceId: '',
      clock: steppingClock(),
    });
    assert.deepEqual(cluster.journal, ['delete Job/migrate', 'apply Job/migrate']);
  });
});
