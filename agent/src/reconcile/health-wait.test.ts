import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '@driftless/common';
import { FakeKube } from '../../test/engine/fake-kube.ts';
import { refKey, refOf, type KubeObject } from '../model.ts';
import { healthOf } from '../health/index.ts';
import { waitUntilNothingGates, type HealthWait } from './health-wait.ts';

const configMap: KubeObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'settings', namespace: 'shop' },
  data: { a: '1' },
};

/** A Deployment at `rv`, rolled out (Available) or not yet (its controller has not looked). */
function deployment(rv: number, rolledOut: boolean): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', generation: 2, resourceVersion: String(rv) },
    spec: { replicas: 1 },
    status: rolledOut
      ? {
          observedGeneration: 2,
          replicas: 1,
          updatedReplicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
          conditions: [{ type: 'Available', status: 'True' }],
        }
      : { observedGeneration: 1 },
  };
}

/** A clock whose sleeps pass at once, calling `onSleep` with the time after each. */
function fastClock(onSleep: (now: number) => void): Clock {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      onSleep(now);
    },
  };
}

const app = { name: 'shop', healthTimeoutMs: 60_000, health: [] };
const gets = (kube: FakeKube) => kube.calls.filter((c) => c.verb === 'get').length;

describe('waiting for health', () => {
  it('takes objects the apply showed Healthy from its answer, without a request', async () => {
    const kube = new FakeKube();
    const w: HealthWait = { client: kube.client, app, clock: fastClock(() => {}), pollMs: 1000 };
    const h = await waitUntilNothingGates(
      w,
      [configMap],
      new Map([[refKey(refOf(configMap)), healthOf(configMap)]]),
    );
    assert.equal(h.status, 'Healthy');
    assert.deepEqual(kube.calls, []);
  });

  it('reads a rolling-out object once, then follows its watch, reading again only every watchTrustMs', async () => {
    const kube = new FakeKube();
    const key = refKey(refOf(deployment(1, false)));
    kube.objects.set(key, deployment(10, false));
    let watched: KubeObject | null = null;
    // The rollout finishes at 25 s; the watch delivers it, the API server has it too.
    const clock = fastClock((now) => {
      if (now >= 25_000 && watched === null) {
        watched = deployment(11, true);
        kube.objects.set(key, deployment(11, true));
      }
    });
    const w: HealthWait = {
      client: kube.client,
      app,
      clock,
      pollMs: 1000,
      observed: () => watched,
      watchTrustMs: 10_000,
    };
    const h = await waitUntilNothingGates(
      w,
      [deployment(1, false)],
      new Map([[key, healthOf(deployment(9, false))]]),
    );
    assert.equal(h.status, 'Healthy');
    // One read after the apply's answer, then one at 10 s and one at 20 s: three in 25 s.
    assert.equal(gets(kube), 3);
  });

  it('reads every poll an object nobody watches', async () => {
    const kube = new FakeKube();
    const key = refKey(refOf(deployment(1, false)));
    kube.objects.set(key, deployment(10, false));
    const clock = fastClock((now) => {
      if (now >= 5_000) kube.objects.set(key, deployment(11, true));
    });
    const w: HealthWait = {
      client: kube.client,
      app,
      clock,
      pollMs: 1000,
      observed: () => undefined,
    };
    const h = await waitUntilNothingGates(w, [deployment(1, false)]);
    assert.equal(h.status, 'Healthy');
    assert.ok(gets(kube) >= 6, `one read a poll: ${gets(kube)}`);
  });

  it('believes no watch copy older than the last read', async () => {
    const kube = new FakeKube();
    const key = refKey(refOf(deployment(1, false)));
    // The API server already has the rollout; the watch still holds an old, rolled-out copy
    // from before this change (resourceVersion 5): it must not end the wait early.
    kube.objects.set(key, deployment(10, false));
    let reads = 0;
    const clock = fastClock(() => {
      reads = gets(kube);
      if (reads >= 2) kube.objects.set(key, deployment(12, true));
    });
    const w: HealthWait = {
      client: kube.client,
      app,
      clock,
      pollMs: 1000,
      observed: () => deployment(5, true),
      watchTrustMs: 3_000,
    };
    const h = await waitUntilNothingGates(w, [deployment(1, false)]);
    assert.equal(h.status, 'Healthy');
    assert.ok(gets(kube) >= 2, 'the old copy was not taken: read again after watchTrustMs');
  });
});
