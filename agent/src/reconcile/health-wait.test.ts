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
      new Map([[refKey(refOf(configMap)), { health: healthOf(configMap) }]]),
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
      new Map([[key, { health: healthOf(deployment(9, false)) }]]),
    );
    assert.equal(h.status, 'Healthy');
    // An answer without a resourceVersion vouches for nothing: one read after it, then one at
    // 10 s and one at 20 s: three in 25 s.
    assert.equal(gets(kube), 3);
  });

  /** A wait on one Deployment the apply wrote at resourceVersion 9, rolled out at `doneAt`. */
  function rollout(doneAt: number, heard: (now: number) => number | undefined) {
    const kube = new FakeKube();
    const key = refKey(refOf(deployment(1, false)));
    kube.objects.set(key, deployment(10, false));
    let now = 0;
    let watched: KubeObject | null = null;
    const clock = fastClock((t) => {
      now = t;
      // Its controller's first status update (rv 10) reaches the watch at 1 s.
      if (t >= 1_000 && watched === null) watched = deployment(10, false);
      if (t >= doneAt && watched?.metadata['resourceVersion'] === '10') {
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
      heardAt: () => heard(now),
      watchTrustMs: 10_000,
    };
    const atApply = new Map([
      [key, { health: healthOf(deployment(9, false)), resourceVersion: '9' }],
    ]);
    return { kube, wait: () => waitUntilNothingGates(w, [deployment(1, false)], atApply) };
  }

  it("judges a just-written object from its apply's answer and then its watch: no read while the watch keeps talking", async () => {
    // The kind's watch delivers something (other objects' events, bookmarks) every poll.
    const { kube, wait } = rollout(40_000, (now) => now);
    assert.equal((await wait()).status, 'Healthy');
    assert.equal(gets(kube), 0, 'a 40 s rollout followed from the watch alone');
  });

  /**
   * A Deployment written as not yet rolled out (its apply answered rv 9) that
   * the API server already has rolled out (rv 11), with no newer copy from the
   * watch; `heardAt` is when the kind's watch last delivered anything. Waits
   * for it on the fake clock; `now` is the fake time the wait ended at.
   */
  async function waitRolledOutUnseen(heardAt: (now: number) => number | undefined) {
    const kube = new FakeKube();
    const key = refKey(refOf(deployment(1, false)));
    kube.objects.set(key, deployment(11, true));
    let now = 0;
    const clock = fastClock((t) => void (now = t));
    const w: HealthWait = {
      client: kube.client,
      app,
      clock,
      pollMs: 1000,
      observed: () => null,
      heardAt: () => heardAt(now),
      watchTrustMs: 10_000,
    };
    const h = await waitUntilNothingGates(
      w,
      [deployment(1, false)],
      new Map([[key, { health: healthOf(deployment(9, false)), resourceVersion: '9' }]]),
    );
    return { h, reads: gets(kube), now };
  }

  it('reads a just-written object at once when the watch of its kind has not listed yet', async () => {
    // Rolled out right after the apply; the new watch of Deployments has not listed yet.
    const { h, reads, now } = await waitRolledOutUnseen(() => undefined);
    assert.equal(h.status, 'Healthy');
    assert.equal(reads, 1);
    assert.ok(now < 1_000, `done at ${now} ms, not after waiting for the watch`);
  });

  it('reads a just-written object again when its watch falls silent for watchTrustMs', async () => {
    // The watch last said anything at 1 s (the status update), then nothing.
    const { kube, wait } = rollout(40_000, () => 1_000);
    assert.equal((await wait()).status, 'Healthy');
    // A read at about 11, 21 and 31 s (each vouches for 10 s); the rollout at 40 s is read too.
    assert.ok(gets(kube) >= 3 && gets(kube) <= 5, `reads: ${gets(kube)}`);
  });

  it("trusts an apply's answer only watchTrustMs when no newer copy came: a change before tracking may be missed", async () => {
    // Rolled out before the sync tracked it: the watch never delivers it, the API server has it.
    const { h, reads, now } = await waitRolledOutUnseen((t) => t);
    assert.equal(h.status, 'Healthy');
    assert.equal(reads, 1, 'one read, 10 s after the apply');
    assert.ok(now >= 10_000 && now < 12_000, `done at ${now} ms`);
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
