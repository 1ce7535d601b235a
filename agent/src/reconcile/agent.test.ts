import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settle, waitFor } from '../../test/engine/clock.ts';
import {
  appEntry,
  clusterYaml,
  configMap,
  testEngine,
  type TestEngine,
} from '../../test/engine/engine.ts';
import { AGENT_DEFAULTS, resolveReconcileOptions } from './agent-options.ts';

const TWO_APPS = {
  'clusters/test/driftless.yaml': clusterYaml(appEntry('a') + appEntry('b')),
  'apps/a/cm.yaml': configMap('a-config'),
  'apps/b/cm.yaml': configMap('b-config'),
};
const onlyA = (ref: { name: string }) => ref.name === 'a-config';

describe('Agent', () => {
  let e: TestEngine | undefined;
  afterEach(async () => {
    await e?.agent.stop();
    e?.close();
    e = undefined;
  });

  it('sets its defaults once', () => {
    const o = resolveReconcileOptions({ concurrency: 3 } as never);
    assert.equal(o.concurrency, 3);
    assert.equal(o.pollIntervalMs, AGENT_DEFAULTS.pollIntervalMs);
    assert.equal(o.requeueMs, AGENT_DEFAULTS.requeueMs);
  });

  it('gives each app its own outcome: a 503 on one app is retried with backoff, the other syncs', async () => {
    e = testEngine(TWO_APPS);
    e.kube.fail({ verb: 'apply', status: 503, match: onlyA });
    assert.equal(await e.agent.reconcileOnce(), false);
    const [a] = e.reporter.syncsOf('a');
    assert.equal(a?.outcome, 'failed');
    assert.equal(a?.retryable, true, 'a 503 in apply is transient, as in plan and heal');
    assert.equal(e.agent.outcomeOf('a')?.kind, 'retry');
    assert.equal(e.reporter.status('a')?.syncStatus, 'Failed');
    assert.match(e.reporter.status('a')?.message ?? '', /retrying in 1s \(attempt 1\)/);
    assert.equal(e.reporter.syncsOf('b')[0]?.outcome, 'succeeded');
    assert.equal(e.reporter.status('b')?.syncStatus, 'Synced');
    assert.equal(e.agent.outcomeOf('b')?.kind, 'done');
  });

  it("hands a hub hint's revision to the next fetch only, as a hint", async () => {
    const hints: (string | undefined)[] = [];
    const head = 'f'.repeat(40);
    let dir = '';
    e = testEngine(TWO_APPS, {
      source: {
        sync: async (_signal, options) => {
          hints.push(options?.hint);
          return { revision: head, dir, fromCache: false };
        },
      },
    });
    dir = e.dir;
    e.agent.refresh({ revision: 'c'.repeat(40) });
    await e.agent.reconcileOnce();
    await e.agent.reconcileOnce();
    assert.deepEqual(hints, ['c'.repeat(40), undefined]);
    // What is applied is the head the source named, not the hint.
    assert.equal(e.reporter.syncsOf('a')[0]?.revision, head);
  });

  it('classifies a 409 in apply as transient and a 422 as terminal', async () => {
    e = testEngine(TWO_APPS);
    e.kube.fail({ verb: 'apply', status: 409, reason: 'Conflict', match: onlyA });
    e.kube.fail({
      verb: 'apply',
      status: 422,
      reason: 'Invalid',
      match: (r) => r.name === 'b-config',
    });
    await e.agent.reconcileOnce();
    assert.equal(e.agent.outcomeOf('a')?.kind, 'retry');
    assert.equal(e.reporter.syncsOf('a')[0]?.retryable, true);
    assert.equal(e.agent.outcomeOf('b')?.kind, 'wait-for-change');
    assert.equal(e.reporter.syncsOf('b')[0]?.retryable, false);
    assert.match(e.reporter.status('b')?.message ?? '', /not retried until a new commit/);
  });

  it('in its loop retries a transient app with growing backoff and leaves a terminal one until Git changes', async () => {
    e = testEngine(TWO_APPS, { pollIntervalMs: 600_000 });
    e.kube.fail({ verb: 'apply', status: 503, match: onlyA });
    e.kube.fail({ verb: 'apply', status: 422, match: (r) => r.name === 'b-config' });
    const applies = (name: string) =>
      e!.kube.calls.filter((c) => c.verb === 'apply' && c.ref.endsWith(`/${name}`)).length;
    const passes = async (n: number) => waitFor(() => e!.agent.ticks >= n, `pass ${n}`);
    e.agent.start();
    await passes(1);
    assert.equal(applies('a-config'), 1);
    assert.equal(applies('b-config'), 1);
    await e.clock.advance(1000); // a's first retry
    await passes(2);
    assert.equal(applies('a-config'), 2);
    assert.deepEqual(e.clock.pendingDelays(), [2000], 'the second delay is 2 s');
    await e.clock.advance(2000);
    await passes(3);
    assert.equal(applies('a-config'), 3);
    assert.equal(applies('b-config'), 1, 'a terminal failure is not retried');
    e.kube.heal();
    await e.clock.advance(4000);
    await passes(4);
    assert.equal(e.reporter.syncsOf('a').at(-1)?.outcome, 'succeeded');
    assert.equal(applies('b-config'), 1);
    e.commit({ 'apps/b/cm.yaml': configMap('b-config', { k: 'fixed' }) });
    e.agent.refresh();
    await passes(5);
    assert.equal(e.reporter.syncsOf('b').at(-1)?.outcome, 'succeeded', 'a new commit retries it');
  });

  it('makes no API request on a poll where nothing moved; a commit, a served-API change and the resync (self-healing apps only) re-plan', async () => {
    const servedApis = { generation: 0 };
    const healing = {
      ...TWO_APPS,
      'clusters/test/driftless.yaml': clusterYaml(
        appEntry('a', '      selfHeal: true\n') + appEntry('b'),
      ),
    };
    e = testEngine(healing, {
      pollIntervalMs: 60_000,
      resyncIntervalMs: 600_000,
      pollJitter: 0,
      servedApis,
    });
    const plans = (name: string) =>
      e!.kube.calls.filter((c) => c.verb === 'apply' && c.ref.endsWith(`/${name}`)).length;
    let passes = 0;
    const nextPass = async () => {
      passes++;
      await waitFor(() => e!.agent.ticks >= passes, `pass ${passes}`);
    };
    e.agent.start();
    await nextPass();
    const afterFirst = e.kube.calls.length;
    assert.ok(plans('a-config') > 0);

    await e.clock.advance(60_000);
    await nextPass();
    assert.equal(e.kube.calls.length, afterFirst, 'an unmoved poll sends no API request');

    servedApis.generation++;
    e.agent.nudge();
    await nextPass();
    assert.ok(e.kube.calls.length > afterFirst, 'a CRD that appeared re-plans every app');
    const afterApis = e.kube.calls.length;

    e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'v2' }) });
    await e.clock.advance(60_000);
    await nextPass();
    assert.ok(e.kube.calls.length > afterApis, 'a new commit re-plans');
    const afterCommit = e.kube.calls.length;

    for (let t = 0; t < 8; t++) {
      await e.clock.advance(60_000);
      await nextPass();
    }
    assert.equal(e.kube.calls.length, afterCommit, 'eight unmoved polls send nothing');
    const touching = (name: string) =>
      e!.kube.calls.filter((c) => c.ref.endsWith(`/${name}`)).length;
    const bBefore = touching('b-config');
    const aBefore = touching('a-config');
    await e.clock.advance(120_000);
    await waitFor(
      () => touching('a-config') > aBefore,
      'the periodic resync of the self-healing app',
    );
    assert.equal(touching('b-config'), bBefore, 'an auto app without selfHeal is left alone');
  });

  it('jitters the poll interval', async () => {
    e = testEngine(TWO_APPS, { pollIntervalMs: 60_000, random: () => 1 });
    e.agent.start();
    await waitFor(() => e!.agent.ticks >= 1, 'the first pass');
    await settle();
    assert.deepEqual(e.clock.pendingDelays(), [66_000], 'the poll is spread by +10 % at most');
  });

  it('shows Syncing with the current step from the start of a sync, and the result at its end', async () => {
    e = testEngine(TWO_APPS);
    e.kube.hold('apply', onlyA);
    const pass = e.agent.reconcileOnce();
    await waitFor(() => e!.kube.heldCount === 1, 'the apply of a held');
    const during = e.reporter.status('a');
    assert.equal(during?.syncStatus, 'Syncing');
    assert.equal(during?.health, 'Progressing');
    assert.match(during?.message ?? '', /^syncing 1000000: apply$/);
    const steps = e.reporter.statuses
      .filter((s) => s.app === 'a' && s.syncStatus === 'Syncing')
      .map((s) => s.message.split(': ')[1]);
    assert.deepEqual(steps, ['render', 'guard', 'plan', 'apply']);
    e.kube.release();
    await pass;
    assert.equal(e.reporter.status('a')?.syncStatus, 'Synced');
  });

  it('reports a sync cut short by a stop as interrupted, never as failed, and resumes it on start', async () => {
    e = testEngine(TWO_APPS);
    await e.agent.reconcileOnce();
    e.commit({ 'apps/a/cm.yaml': configMap('a-config', { k: 'v2' }) });
    e.kube.hold('apply', onlyA);
    e.agent.start();
    await waitFor(() => e!.kube.heldCount === 1, 'the apply of a held');
    assert.equal(e.reporter.status('a')?.syncStatus, 'Syncing');
    const syncs = e.reporter.syncs.length;
    await e.agent.stop();
    assert.equal(e.reporter.syncs.length, syncs, 'no sync result for interrupted work');
    const a = e.reporter.status('a');
    assert.equal(a?.syncStatus, 'OutOfSync');
    assert.match(
      a?.message ?? '',
      /interrupted: the agent stopped; it resumes when the agent starts/,
    );
    assert.ok(e.reporter.statuses.every((s) => s.syncStatus !== 'Failed'));
    e.kube.release();
    const restarted = e.restart();
    await restarted.reconcileOnce();
    const live = await e.kube.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'ns-a',
      name: 'a-config',
    });
    assert.deepEqual(
      live?.['data'],
      { k: 'v2' },
      'the restarted agent finishes the interrupted sync',
    );
    assert.equal(e.reporter.status('a')?.syncStatus, 'Synced');
  });

  it('keeps every app at the last good config while driftless.yaml is invalid, and says so', async () => {
    e = testEngine(TWO_APPS);
    await e.agent.reconcileOnce();
    const good = e.reporter.configs.at(-1);
    assert.equal(good?.valid, true);
    const syncs = e.reporter.syncs.length;
    e.commit({
      'clusters/test/driftless.yaml': clusterYaml(
        appEntry('a', '      selfheal: true\n') + appEntry('b'),
      ),
      'apps/b/cm.yaml': configMap('b-config', { k: 'changed' }),
    });
    assert.equal(await e.agent.reconcileOnce(), false);
    const bad = e.reporter.configs.at(-1);
    assert.equal(bad?.valid, false);
    assert.equal(bad?.line, 8);
    assert.match(
      bad?.error ?? '',
      /clusters\/test\/driftless\.yaml:8:\d+: spec\.apps\[0\]\.selfheal/,
    );
    assert.equal(bad?.appliedRevision, good?.revision);
    assert.equal(
      e.reporter.syncs.length,
      syncs,
      'nothing is synced, so nothing succeeds, at the broken commit',
    );
    const b = e.reporter.status('b');
    assert.equal(b?.revision, good?.revision);
    assert.match(
      b?.message ?? '',
      /running the driftless\.yaml of 1000000: the one at 2000000 is invalid/,
    );
    const live = await e.kube.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'ns-b',
      name: 'b-config',
    });
    assert.deepEqual(live?.['data'], { k: 'v' }, 'the change in the broken commit is not applied');
  });

  it('refuses apps: [] and prunes nothing, unless spec.allowEmpty is set', async () => {
    e = testEngine({
      'clusters/test/driftless.yaml': clusterYaml(appEntry('a', '      prune: true\n')),
      'apps/a/cm.yaml': configMap('a-config'),
    });
    await e.agent.reconcileOnce();
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns-a', name: 'a-config' };
    e.commit({ 'clusters/test/driftless.yaml': clusterYaml('[]') });
    await e.agent.reconcileOnce();
    assert.match(e.reporter.configs.at(-1)?.error ?? '', /spec\.apps: lists no apps.*allowEmpty/);
    assert.ok(await e.kube.get(ref), 'nothing pruned');
    e.commit({ 'clusters/test/driftless.yaml': clusterYaml('[]', '  allowEmpty: true\n') });
    await e.agent.reconcileOnce();
    assert.equal(e.reporter.configs.at(-1)?.valid, true);
    assert.equal(await e.kube.get(ref), undefined, 'allowed: the app left Git and was pruned');
  });

  it('removes an app that left Git on its own: a failing prune holds up no other app', async () => {
    e = testEngine({
      'clusters/test/driftless.yaml': clusterYaml(
        appEntry('a', '      prune: true\n') + appEntry('b'),
      ),
      'apps/a/cm.yaml': configMap('a-config'),
      'apps/b/cm.yaml': configMap('b-config'),
    });
    await e.agent.reconcileOnce();
    e.kube.fail({ verb: 'delete', status: 500, match: onlyA });
    e.commit({
      'clusters/test/driftless.yaml': clusterYaml(appEntry('b')),
      'apps/b/cm.yaml': configMap('b-config', { k: 'v2' }),
    });
    assert.equal(await e.agent.reconcileOnce(), false, 'the failed prune is retried');
    assert.equal(e.reporter.syncsOf('b').at(-1)?.outcome, 'succeeded');
    e.kube.heal();
    assert.equal(await e.agent.reconcileOnce(), true);
    assert.equal(
      await e.kube.get({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: 'ns-a',
        name: 'a-config',
      }),
      undefined,
    );
  });
  describe('apps at once (appConcurrency)', () => {
    const THREE_APPS = {
      'clusters/test/driftless.yaml': clusterYaml(appEntry('a') + appEntry('b') + appEntry('c')),
      'apps/a/cm.yaml': configMap('a-config'),
      'apps/b/cm.yaml': configMap('b-config'),
      'apps/c/cm.yaml': configMap('c-config'),
    };
    const ofApps = (ref: { namespace?: string }) => ref.namespace?.startsWith('ns-') === true;

    it('renders, plans and applies no more apps at once than appConcurrency', async () => {
      e = testEngine(THREE_APPS, { appConcurrency: 2 });
      e.kube.hold('apply', ofApps);
      const pass = e.agent.reconcileOnce();
      await waitFor(() => e!.kube.heldCount === 2, 'two apps applying');
      await settle();
      assert.equal(e.kube.heldCount, 2, 'the third app waits for a place');
      e.kube.release();
      assert.equal(await pass, true);
      for (const app of ['a', 'b', 'c'])
        assert.equal(e.reporter.syncsOf(app)[0]?.outcome, 'succeeded', app);
    });

    it('gives the place back while an app waits for health: a slow rollout holds no app up', async () => {
      const deployment = [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: web',
        'spec:',
        '  replicas: 1',
        '  selector: { matchLabels: { app: web } }',
        '  template:',
        '    metadata: { labels: { app: web } }',
        '    spec: { containers: [{ name: web, image: web:1 }] }',
        '',
      ].join('\n');
      e = testEngine(
        {
          'clusters/test/driftless.yaml': clusterYaml(appEntry('a') + appEntry('b')),
          'apps/a/web.yaml': deployment,
          'apps/b/cm.yaml': configMap('b-config'),
        },
        { appConcurrency: 1 },
      );
      const pass = e.agent.reconcileOnce();
      // a's Deployment is written and not Available: a waits for health, b is applied meanwhile.
      await waitFor(
        () => e!.kube.calls.some((c) => c.verb === 'apply' && c.ref === 'ConfigMap ns-b/b-config'),
        'b applied while a waits for its rollout',
      );
      assert.equal(e.reporter.syncsOf('a').length, 0, 'a is still waiting');
      // The rollout finishes; a's next health poll sees it.
      const web = e.kube.objects.get('apps/Deployment/ns-a/web');
      assert.ok(web, 'the Deployment was written');
      web.metadata['generation'] = 1;
      web['status'] = {
        observedGeneration: 1,
        replicas: 1,
        updatedReplicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
        conditions: [{ type: 'Available', status: 'True' }],
      };
      while (e.reporter.syncsOf('a').length === 0) await e.clock.advance(1000);
      assert.equal(await pass, true);
      assert.equal(e.reporter.syncsOf('a')[0]?.health, 'Healthy');
      assert.equal(e.reporter.syncsOf('b')[0]?.outcome, 'succeeded');
    });
  });
});
