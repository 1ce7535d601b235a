import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refKey, type IgnoreRule, type KubeObject, type ObjectRef } from '../model.ts';
import {
  appEntry,
  clusterYaml,
  configMap,
  testEngine,
  type TestEngine,
} from '../../test/engine/engine.ts';
import type { DriftTracker } from './agent-options.ts';
import { CARRY_STEP } from './carry.ts';

const deployment = (name: string, ready: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec: { containers: [{ name: c, image: nginx }] }
status:
  observedGeneration: 1
  replicas: 1
  updatedReplicas: ${ready}
  readyReplicas: ${ready}
  availableReplicas: ${ready}
`;

const FILES = {
  'clusters/test/driftless.yaml': clusterYaml(appEntry('a') + appEntry('b')),
  'apps/a/cm.yaml': configMap('a-config'),
  'apps/b/cm.yaml': configMap('b-config'),
};

/** A drift tracker at our interface: the watches "see" what the fake cluster holds. */
class SeeingTracker implements DriftTracker {
  drifts = new Map<string, number>();
  fights = new Map<string, number>();
  pending = new Map<string, number>();
  tracked = new Set<string>();
  /** Copies the watches delivered since, by refKey; set by a test. */
  seen = new Map<string, KubeObject>();
  track(_app: unknown, objects: KubeObject[]): void {
    for (const o of objects)
      this.tracked.add(
        refKey({
          apiVersion: o.apiVersion,
          kind: o.kind,
          namespace: o.metadata.namespace ?? '',
          name: o.metadata.name,
        }),
      );
  }
  untrack(): void {}
  pause(): void {}
  resume(): void {}
  driftCount(app: string): number {
    return this.drifts.get(app) ?? 0;
  }
  unchecked(app: string): number {
    return this.pending.get(app) ?? 0;
  }
  ignoreRules(app: string): IgnoreRule[] {
    return this.fights.has(app) ? [{ kind: 'ConfigMap', jsonPointers: ['/data/k'] }] : [];
  }
  observed(ref: ObjectRef): KubeObject | null | undefined {
    const key = refKey(ref);
    if (!this.tracked.has(key)) return undefined;
    return this.seen.get(key) ?? null;
  }
}

describe('carry-forward', () => {
  let e: TestEngine | undefined;
  afterEach(async () => {
    await e?.agent.stop();
    e?.close();
    e = undefined;
  });

  /** Requests (any verb) about the named object. */
  const touching = (name: string) => e!.kube.calls.filter((c) => c.ref.endsWith(`/${name}`));
  /** Starts the agent and waits for its first pass. */
  const started = async () => {
    e!.agent.start();
    while (e!.agent.ticks < 1) await new Promise((r) => setImmediate(r));
  };
  /** Passes as a hint's refresh makes them: the pass runs, no app is forced. */
  const hinted = async (revision: string) => {
    const ticks = e!.agent.ticks;
    e!.agent.refresh({ revision });
    await e!.clock.advance(0);
    while (e!.agent.ticks <= ticks) await new Promise((r) => setImmediate(r));
  };

  it('carries an app a commit left alone to the new revision, with no request about its objects', async () => {
    const drift = new SeeingTracker();
    e = testEngine(FILES, { drift, pollIntervalMs: 600_000 });
    await started();
    const r0 = e.reporter.status('b')!.revision;
    assert.equal(e.reporter.status('b')?.syncStatus, 'Synced');
    const bRequests = touching('b-config').length;
    const aRequests = touching('a-config').length;
    const bSyncs = e.reporter.syncsOf('b').length;

    const r1 = e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'v2' }) });
    await hinted(r1);

    assert.ok(touching('a-config').length > aRequests, 'a, whose file changed, is planned');
    assert.equal(e.reporter.status('a')?.revision, r1);
    assert.equal(
      touching('b-config').length,
      bRequests,
      'b is not planned: no GET, dry-run or apply',
    );
    const b = e.reporter.status('b')!;
    assert.equal(b.revision, r1);
    assert.equal(b.syncStatus, 'Synced');
    assert.equal(b.health, 'Healthy');
    assert.match(b.message, new RegExp(`sources unchanged since ${r0.slice(0, 7)}`));
    const carried = e.reporter.syncsOf('b').slice(bSyncs);
    assert.equal(carried.length, 1, 'one history record of the carry');
    assert.equal(carried[0]?.revision, r1);
    assert.equal(carried[0]?.objects.length, 0, 'it applied nothing');
    assert.deepEqual(
      carried[0]?.steps.map((s) => s.name),
      [CARRY_STEP],
    );

    // A second commit that leaves b alone still says since r0, the revision that applied it.
    const r2 = e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'v3' }) });
    await hinted(r2);
    assert.equal(e.reporter.status('b')?.revision, r2);
    assert.match(e.reporter.status('b')!.message, new RegExp(`since ${r0.slice(0, 7)}`));
    assert.equal(touching('b-config').length, bRequests);
  });

  it('plans again an app whose file changed, or with open drift, a fight, a sync-now or an unhealthy object', async () => {
    const drift = new SeeingTracker();
    e = testEngine(FILES, { drift, pollIntervalMs: 600_000 });
    await started();
    const planned = async (why: string, change: () => void, sync: () => Promise<void>) => {
      const before = touching('b-config').length;
      change();
      await sync();
      assert.ok(touching('b-config').length > before, `b is planned: ${why}`);
      assert.doesNotMatch(e!.reporter.status('b')!.message, /unchanged since/, why);
    };
    await planned(
      'its file changed',
      () => undefined,
      () => hinted(e!.commit({ 'apps/b/cm.yaml': configMap('b-config', { k: 'v2' }) })),
    );
    await planned(
      'open drift',
      () => drift.drifts.set('b', 1),
      () => hinted(e!.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'd' }) })),
    );
    drift.drifts.clear();
    await planned(
      'a change the drift check has not compared yet',
      () => drift.pending.set('b', 1),
      () => hinted(e!.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'u' }) })),
    );
    drift.pending.clear();
    await planned(
      'a fight',
      () => drift.fights.set('b', 1),
      () => hinted(e!.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'f' }) })),
    );
    drift.fights.clear();
    await planned(
      'a sync-now',
      () => undefined,
      async () => {
        e!.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 's' }) });
        const ticks = e!.agent.ticks;
        e!.agent.refresh();
        await e!.clock.advance(0);
        while (e!.agent.ticks <= ticks) await new Promise((r) => setImmediate(r));
      },
    );
    // Still carried when nothing stands in the way.
    const before = touching('b-config').length;
    await hinted(e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'c' }) }));
    assert.equal(touching('b-config').length, before);
    assert.match(e.reporter.status('b')!.message, /unchanged since/);
  });

  it('does not carry an app whose object the watches see unhealthy now', async () => {
    const drift = new SeeingTracker();
    e = testEngine(
      {
        ...FILES,
        'apps/b/cm.yaml': deployment('b-web', 1),
      },
      { drift, pollIntervalMs: 600_000 },
    );
    await started();
    assert.equal(e.reporter.status('b')?.health, 'Healthy');
    const live = structuredClone(e.kube.objects.get('apps/Deployment/ns-b/b-web')!);
    const status = live['status'] as Record<string, number>;
    status['readyReplicas'] = 0;
    status['availableReplicas'] = 0;
    drift.seen.set('apps/Deployment/ns-b/b-web', live);
    const before = touching('b-web').length;
    await hinted(e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'v2' }) }));
    assert.ok(touching('b-web').length > before, 'b is planned and its health read');
    assert.doesNotMatch(e.reporter.status('b')!.message, /unchanged since/);
  });

  it('never carries without watches: health would be a guess', async () => {
    e = testEngine(FILES, { pollIntervalMs: 600_000 });
    await started();
    const before = touching('b-config').length;
    await hinted(e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'v2' }) }));
    assert.ok(touching('b-config').length > before);
  });

  it('plans the apps a commit moved before an app that is only due for a retry', async () => {
    e = testEngine(
      {
        ...FILES,
        'clusters/test/driftless.yaml': clusterYaml(appEntry('c') + appEntry('a')),
        'apps/c/cm.yaml': configMap('c-config'),
      },
      { pollIntervalMs: 600_000, retryInitialMs: 1000 },
    );
    e.kube.fail({ verb: 'apply', status: 503, match: (ref) => ref.name === 'c-config', times: 1 });
    await started();
    assert.equal(e.reporter.status('c')?.syncStatus, 'Failed');
    // c's retry comes due at the same moment as the commit that moves a.
    e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'v2' }) });
    const from = e.kube.calls.length;
    const ticks = e.agent.ticks;
    await e.clock.advance(5000);
    while (e.agent.ticks <= ticks) await new Promise((r) => setImmediate(r));
    const calls = e.kube.calls.slice(from);
    const firstC = calls.findIndex((c) => c.ref.endsWith('/c-config'));
    const aApply = calls.findIndex((c) => c.verb === 'apply' && c.ref.endsWith('/a-config'));
    assert.ok(firstC >= 0 && aApply >= 0, 'both were planned');
    assert.ok(aApply < firstC, 'a, which the commit moved, was planned before c');
  });

  it('does not hold a moved app that depends on an app due only for a retry', async () => {
    e = testEngine(
      {
        ...FILES,
        'clusters/test/driftless.yaml': clusterYaml(
          appEntry('c') + appEntry('a', '      dependsOn: [c]\n'),
        ),
        'apps/c/cm.yaml': configMap('c-config'),
      },
      { pollIntervalMs: 600_000, retryInitialMs: 1000 },
    );
    e.kube.fail({ verb: 'apply', status: 503, match: (ref) => ref.name === 'c-config', times: 1 });
    await started();
    const r1 = e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'v2' }) });
    const ticks = e.agent.ticks;
    await e.clock.advance(5000);
    while (e.agent.ticks <= ticks) await new Promise((r) => setImmediate(r));
    assert.equal(e.reporter.status('c')?.syncStatus, 'Synced');
    assert.equal(e.reporter.status('a')?.syncStatus, 'Synced');
    assert.equal(e.reporter.status('a')?.revision, r1);
  });

  it('keeps the periodic resync of a self-healing app that was carried', async () => {
    const drift = new SeeingTracker();
    e = testEngine(
      {
        ...FILES,
        'clusters/test/driftless.yaml': clusterYaml(
          appEntry('a') + appEntry('b', '      selfHeal: true\n'),
        ),
      },
      { drift, pollIntervalMs: 600_000, resyncIntervalMs: 120_000, pollJitter: 0 },
    );
    await started();
    const before = touching('b-config').length;
    await hinted(e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'v2' }) }));
    assert.equal(touching('b-config').length, before, 'carried');
    assert.match(e.reporter.status('b')!.message, /unchanged since/);
    const ticks = e.agent.ticks;
    await e.clock.advance(120_000);
    while (e.agent.ticks <= ticks) await new Promise((r) => setImmediate(r));
    assert.ok(touching('b-config').length > before, 'planned at its resync, as before the carry');
  });
});
