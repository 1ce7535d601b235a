/**
 * The agent engine against a real kube-apiserver (with controllers and kwok,
 * so Deployments become Available) and a real git http-backend: sync of
 * plain, Kustomize and Helm apps, updates and prune, modes and approvals, and
 * bad input that must leave the cluster exactly as it was.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { initTelemetry } from '@driftless/common';
import { InventoryStore, type DriftReport } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import {
  baseFleet,
  BASE_APPS,
  clusterYaml,
  deployment,
  makeAgent,
  snapshot,
  type TestAgent,
} from './fleet.ts';

describe('agent engine on a real cluster', () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let t: TestAgent;
  const spans = new InMemorySpanExporter();

  before(async () => {
    initTelemetry({
      serviceName: 'agent-test',
      spanProcessors: [new SimpleSpanProcessor(spans)],
      env: {},
    });
    [cluster, git] = await Promise.all([startCluster({ workloads: true }), startGitServer()]);
    repo = await git.createRepo('fleet');
    await repo.commit(baseFleet(), 'base fleet');
    t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
  });
  after(async () => {
    await t?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  const get = (apiVersion: string, kind: string, namespace: string, name: string) =>
    t.client.get({ apiVersion, kind, namespace, name });

  it('syncs a plain-YAML, a Kustomize and a Helm app; the Deployment becomes Available and the app Healthy', async () => {
    const ok = await t.agent.reconcileOnce();
    const failures = t.recorder.syncs
      .filter((s) => s.outcome !== 'succeeded')
      .map((s) => `${s.app}: ${s.error}`);
    assert.deepEqual(failures, []);
    assert.equal(ok, true);

    const web = await get('apps/v1', 'Deployment', 'web', 'web');
    assert.equal((web?.['spec'] as { replicas: number }).replicas, 2);
    assert.equal((web?.['status'] as { availableReplicas?: number }).availableReplicas, 2);
    assert.equal(web?.metadata.labels?.['app.kubernetes.io/managed-by'], 'driftless');
    assert.equal(web?.metadata.annotations?.['driftless.dev/revision'], await repo.head());
    assert.match(web?.metadata.annotations?.['driftless.dev/trace-id'] ?? '', /^[0-9a-f]{32}$/);
    const svc = await get('v1', 'Service', 'web', 'web');
    assert.equal((svc?.['spec'] as { ports: { port: number }[] }).ports[0]?.port, 80);
    const prod = await get('v1', 'ConfigMap', 'kust', 'prod-settings');
    assert.deepEqual(prod?.['data'], { level: 'prod' });
    const chart = await get('v1', 'ConfigMap', 'chart', 'demo-greeter');
    assert.deepEqual(chart?.['data'], { greeting: 'hello from prod' });

    const status = Object.fromEntries(t.agent.statuses().map((s) => [s.app, s]));
    for (const app of ['infra', 'web', 'kust', 'chart']) {
      assert.equal(status[app]?.syncStatus, 'Synced', app);
      assert.equal(status[app]?.health, 'Healthy', app);
    }
    const sync = t.recorder.lastSync('web');
    assert.deepEqual(
      sync?.steps.map((s) => s.name),
      ['fetch', 'render', 'guard', 'plan', 'apply', 'prune', 'health'],
    );
    assert.equal(web?.metadata.annotations?.['driftless.dev/trace-id'], sync?.traceId);
    // The full W3C context of the sync's root span, so a later heal can link to it.
    assert.equal(
      web?.metadata.annotations?.['driftless.dev/traceparent'],
      `00-${sync?.traceId}-${sync?.spanId}-01`,
    );
  });

  it('records each sync as one trace with a span per step and the sync as attributes', () => {
    const sync = t.recorder.lastSync('web');
    const trace = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === sync?.traceId);
    const root = trace.find((s) => s.name === 'sync');
    assert.ok(root, 'a root sync span');
    assert.equal(root.parentSpanContext, undefined);
    const childrenOf = (parent: (typeof trace)[number] | undefined) =>
      trace
        .filter((s) => s.parentSpanContext?.spanId === parent?.spanContext().spanId)
        .map((s) => s.name)
        .sort();
    assert.deepEqual(childrenOf(root), [
      'apply',
      'fetch',
      'guard',
      'health',
      'plan',
      'prune',
      'render',
    ]);
    // Each phase and wave the apply wrote is a span inside the apply step.
    const waves = childrenOf(trace.find((s) => s.name === 'apply'));
    assert.ok(
      waves.length > 0 && waves.every((n) => /^apply [a-z-]+ wave -?\d+$/.test(n)),
      String(waves),
    );
    assert.equal(root.attributes['k8s.cluster.name'], 'test');
    assert.equal(root.attributes['driftless.app'], 'web');
    assert.equal(root.attributes['vcs.ref.head.revision'], sync?.revision);
    assert.equal(root.attributes['driftless.sync.outcome'], 'succeeded');
    const plan = trace.find((s) => s.name === 'plan');
    assert.equal(plan?.attributes['driftless.plan.create'], 5);
    assert.equal(plan?.attributes['driftless.plan.digest'], sync?.planDigest);
  });

  it('a second pass with nothing new writes nothing', async () => {
    const before = await snapshot(t.client, 'web');
    const reports = t.recorder.syncs.length;
    await t.agent.reconcileOnce();
    assert.deepEqual(await snapshot(t.client, 'web'), before);
    assert.equal(t.recorder.syncs.length, reports, 'an unchanged pass reports no new sync');
  });

  it('applies a changed field, prunes a removed object and never touches an object it did not create', async () => {
    await t.client.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'bystander', namespace: 'web' },
        data: { mine: 'yes' },
      },
      { fieldManager: 'someone-else' },
    );
    await repo.commit(
      {
        'apps/web/config.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n',
      },
      'web: green, drop web-extra',
    );
    await t.agent.reconcileOnce();
    const sync = t.recorder.lastSync('web');
    assert.equal(sync?.outcome, 'succeeded', sync?.error);
    const change = sync?.objects.find((o) => o.ref.name === 'web-config');
    assert.equal(change?.action, 'update');
    assert.deepEqual(change?.diff, [{ path: '.data.color', before: 'blue', after: 'green' }]);
    assert.deepEqual((await get('v1', 'ConfigMap', 'web', 'web-config'))?.['data'], {
      color: 'green',
    });
    assert.equal(await get('v1', 'ConfigMap', 'web', 'web-extra'), undefined);
    assert.deepEqual((await get('v1', 'ConfigMap', 'web', 'bystander'))?.['data'], { mine: 'yes' });
  });

  /** Resolves with the first drift report matching `match`, polling the recorder. */
  async function driftReport(
    match: (r: DriftReport) => boolean,
    timeoutMs = 10_000,
  ): Promise<DriftReport> {
    return waitFor(
      'a matching drift report',
      () => {
        const found = t.recorder.drifts.find(match);
        if (found) return found;
        throw new Error(
          `got ${JSON.stringify(t.recorder.drifts.map((d) => [d.app, d.ref.name, d.type, d.healed]))}`,
        );
      },
      { timeoutMs, everyMs: 50 },
    );
  }

  it('heals a hand-scaled Deployment and a deleted ConfigMap, naming the field path and the manager', async () => {
    await t.client.apply(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'web' },
        spec: { replicas: 5 },
      },
      { fieldManager: 'ops-team', force: true },
    );
    const scaled = await driftReport(
      (r) => r.ref.name === 'web' && r.ref.kind === 'Deployment' && !r.healed,
    );
    assert.equal(scaled.app, 'web');
    assert.equal(scaled.type, 'modified');
    assert.equal(scaled.changedBy, 'ops-team');
    assert.deepEqual(scaled.fields, [{ path: '.spec.replicas', desired: 2, live: 5 }]);
    assert.match(scaled.lastSyncTraceId, /^[0-9a-f]{32}$/);
    await driftReport((r) => r.driftId === scaled.driftId && r.healed);
    const web = await get('apps/v1', 'Deployment', 'web', 'web');
    assert.equal((web?.['spec'] as { replicas: number }).replicas, 2);

    await t.client.delete({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'web',
      name: 'web-config',
    });
    const deleted = await driftReport((r) => r.ref.name === 'web-config' && r.type === 'deleted');
    await driftReport((r) => r.driftId === deleted.driftId && r.healed);
    assert.deepEqual((await get('v1', 'ConfigMap', 'web', 'web-config'))?.['data'], {
      color: 'green',
    });

    // Both are on record as Kubernetes Events beside the objects.
    const { items } = await t.client.list('events.k8s.io/v1', 'Event', { namespace: 'web' });
    const notes = items.map((e) => `${String(e['reason'])}: ${String(e['note'])}`);
    assert.ok(
      notes.some((n) =>
        /^Drifted: app web: Deployment web\/web changed \.spec\.replicas by ops-team/.test(n),
      ),
      notes.join('\n'),
    );
    assert.ok(
      notes.some((n) => /^DriftHealed: app web: ConfigMap web\/web-config deleted; healed/.test(n)),
      notes.join('\n'),
    );
    const syncs = await t.client.list('events.k8s.io/v1', 'Event', {
      namespace: 'driftless-system',
    });
    assert.ok(
      syncs.items.some(
        (e) => e['reason'] === 'Synced' && String(e['note']).startsWith('app web synced'),
      ),
    );
  });

  it('only reports drift of an app without selfHeal', async () => {
    await t.client.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'prod-settings', namespace: 'kust' },
        data: { level: 'debug' },
      },
      { fieldManager: 'night-shift', force: true },
    );
    const report = await driftReport((r) => r.app === 'kust' && r.ref.name === 'prod-settings');
    assert.equal(report.healed, false);
    assert.equal(report.changedBy, 'night-shift');
    assert.deepEqual(report.fields, [{ path: '.data.level', desired: 'prod', live: 'debug' }]);
    // The drift count is refreshed after the watcher chose not to heal: the later event.
    await waitFor('the drift counted in the app status', () =>
      t.agent.statuses().find((s) => s.app === 'kust')?.driftCount === 1 ? true : undefined,
    );
    assert.deepEqual(
      (await get('v1', 'ConfigMap', 'kust', 'prod-settings'))?.['data'],
      { level: 'debug' },
      'not healed',
    );
    assert.equal(t.agent.statuses().find((s) => s.app === 'kust')?.driftCount, 1);
    // The next sync puts it back, as Git says.
    await t.agent.reconcileOnce();
    assert.deepEqual((await get('v1', 'ConfigMap', 'kust', 'prod-settings'))?.['data'], {
      level: 'prod',
    });
  });

  it('dry-run writes nothing; manual waits for an approval of exactly this plan', async () => {
    const kustBefore = await snapshot(t.client, 'kust');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(
          BASE_APPS.replace(
            '      prune: true\n      dependsOn: [infra]',
            '      prune: true\n      sync: dry-run\n      dependsOn: [infra]',
          ) +
            '    - name: gated\n      path: apps/gated\n      namespace: web\n      sync: manual\n',
        ),
        'apps/kust/base/configmap.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: base\n  extra: "1"\n',
        'apps/gated/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gated\ndata:\n  release: "1"\n',
      },
      'kust dry-run, gated manual',
    );
    await t.agent.reconcileOnce();
    const planned = t.recorder.lastSync('kust');
    assert.equal(planned?.outcome, 'planned');
    assert.ok(
      planned?.objects.some(
        (o) => o.action === 'update' && o.diff.some((d) => d.path === '.data.extra'),
      ),
    );
    assert.deepEqual(
      await snapshot(t.client, 'kust'),
      kustBefore,
      'dry-run changed no resourceVersion',
    );

    const waiting = t.recorder.lastSync('gated');
    assert.equal(waiting?.outcome, 'waiting-approval');
    const gatedStatus = t.agent.statuses().find((s) => s.app === 'gated');
    assert.equal(gatedStatus?.syncStatus, 'OutOfSync');
    assert.equal(gatedStatus?.pendingPlan[0]?.action, 'create');
    assert.match(
      gatedStatus?.message ?? '',
      /^waiting for approval of plan [0-9a-f]{12} \(1 change\(s\)\)/,
    );
    assert.equal(await get('v1', 'ConfigMap', 'web', 'gated'), undefined);

    const revision = await repo.head();
    t.approvals.add({
      approvalId: 'a-stale',
      app: 'gated',
      revision,
      planDigest: 'f'.repeat(64),
      approvedBy: 'alice',
    });
    await t.agent.reconcileOnce();
    assert.equal(t.recorder.lastSync('gated')?.outcome, 'approval-stale');
    assert.equal(t.recorder.lastSync('gated')?.approvalId, 'a-stale', 'names the one refused');
    assert.match(
      t.recorder.lastSync('gated')?.error ?? '',
      /approval a-stale is for plan ffffffffffff/,
    );
    assert.equal(await get('v1', 'ConfigMap', 'web', 'gated'), undefined);

    t.approvals.add({
      approvalId: 'a-good',
      app: 'gated',
      revision,
      planDigest: waiting?.planDigest ?? '',
      approvedBy: 'alice',
    });
    await t.agent.reconcileOnce();
    const synced = t.recorder.lastSync('gated');
    assert.equal(synced?.outcome, 'succeeded', synced?.error);
    assert.equal(synced?.approvalId, 'a-good');
    assert.deepEqual((await get('v1', 'ConfigMap', 'web', 'gated'))?.['data'], { release: '1' });

    // An approval is used once: deleted by hand, the object makes the very plan a-good approved,
    // and that plan waits for a new approval instead of being applied again.
    await t.client.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'web', name: 'gated' });
    await t.agent.reconcileOnce();
    const again = t.recorder.lastSync('gated');
    assert.equal(again?.planDigest, waiting?.planDigest, 'the same plan as the one approved');
    assert.equal(again?.outcome, 'waiting-approval');
    assert.equal(again?.approvalId, '');
    assert.equal(await get('v1', 'ConfigMap', 'web', 'gated'), undefined, 'not applied again');
    t.approvals.add({
      approvalId: 'a-again',
      app: 'gated',
      revision,
      planDigest: again?.planDigest ?? '',
      approvedBy: 'alice',
    });
    await t.agent.reconcileOnce();
    assert.equal(t.recorder.lastSync('gated')?.approvalId, 'a-again');
    assert.deepEqual((await get('v1', 'ConfigMap', 'web', 'gated'))?.['data'], { release: '1' });
  });

  const badInputs: [string, Record<string, string | null>, RegExp][] = [
    [
      'broken YAML',
      {
        'apps/web/config.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata: [unclosed\n',
      },
      /apps\/web\/config\.yaml/,
    ],
    [
      'an unknown kind',
      {
        'apps/web/widget.yaml': 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n',
      },
      /unknown kind Widget/,
    ],
    [
      'a plaintext Secret',
      {
        'apps/web/secret.yaml':
          'apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2\n',
      },
      /plaintext Secret/,
    ],
    [
      'an object in a forbidden namespace',
      {
        'apps/web/elsewhere.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: kube-system\n',
      },
      /kube-system/,
    ],
    [
      'a missing path',
      {
        'clusters/test/driftless.yaml': clusterYaml(
          BASE_APPS.replace('path: apps/web', 'path: apps/nowhere'),
        ),
      },
      /apps\/nowhere/,
    ],
  ];
  for (const [what, files, error] of badInputs) {
    it(`${what} fails the sync with a clear error and changes nothing`, async () => {
      const good = await repo.head();
      const before = await snapshot(t.client, 'web');
      // A change that would be applied if the sync went through, to prove it is not.
      await repo.commit(
        { ...files, 'apps/web/workload/deployment.yaml': deployment('web', 3) },
        `break: ${what}`,
      );
      await t.agent.reconcileOnce();
      const sync = t.recorder.lastSync('web');
      assert.equal(sync?.outcome, 'failed');
      assert.match(sync?.error ?? '', error);
      assert.equal(sync?.retryable, false);
      assert.deepEqual(await snapshot(t.client, 'web'), before);
      // Back to the good tree for the next case.
      const revert: Record<string, string | null> = { ...baseFleet() };
      revert['apps/web/config.yaml'] =
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n';
      for (const f of Object.keys(files)) if (!(f in revert)) revert[f] = null;
      await repo.commit(revert, `revert ${good.slice(0, 7)}`);
    });
  }

  it('keeps reconciling the last good checkout while Git is unreachable', async () => {
    await t.agent.reconcileOnce();
    const before = await snapshot(t.client, 'web');
    await git.pause();
    try {
      const ok = await t.agent.reconcileOnce();
      assert.equal(ok, false, 'an unreachable Git asks for a sooner retry');
      const web = t.agent.statuses().find((s) => s.app === 'web');
      assert.equal(web?.syncStatus, 'Synced');
      assert.match(web?.message ?? '', /Git unreachable/);
      assert.deepEqual(await snapshot(t.client, 'web'), before);
    } finally {
      await git.resume();
    }
  });

  it('a broken driftless.yaml is reported with line and field, and every app stays at the last good config', async () => {
    await t.agent.reconcileOnce();
    const before = await snapshot(t.client, 'web');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(
          BASE_APPS.replace(
            '      selfHeal: true\n',
            '      selfHeal: true\n      sync: sometimes\n',
          ),
        ),
        'apps/web/workload/deployment.yaml': deployment('web', 4),
      },
      'typo in driftless.yaml',
    );
    await t.agent.reconcileOnce();
    const web = t.agent.statuses().find((s) => s.app === 'web');
    assert.match(
      web?.message ?? '',
      /clusters\/test\/driftless\.yaml:\d+:\d+: spec\.apps\[1\]\.sync: .*sometimes/,
    );
    assert.match(web?.message ?? '', /^running the driftless\.yaml of [0-9a-f]{7}: /);
    // Nothing runs at a commit whose driftless.yaml is broken: the new Deployment size waits.
    assert.deepEqual(await snapshot(t.client, 'web'), before);
    await repo.commit(
      { 'clusters/test/driftless.yaml': clusterYaml(BASE_APPS) },
      'fix driftless.yaml',
    );
    await t.agent.reconcileOnce();
    assert.equal(t.agent.statuses().find((s) => s.app === 'web')?.message, '');
    assert.equal(
      ((await get('apps/v1', 'Deployment', 'web', 'web'))?.['spec'] as { replicas: number })
        .replicas,
      4,
    );
  });

  it('an app removed from Git is pruned only when it had prune on', async () => {
    assert.ok(
      await get('v1', 'ConfigMap', 'web', 'gated'),
      'the manual app, removed earlier without prune, left its object',
    );
    assert.ok(await get('v1', 'ConfigMap', 'kust', 'prod-settings'));
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(
          BASE_APPS.replace(/    - name: kust\n(      .*\n)+?(?=    - name: chart)/, ''),
        ),
      },
      'drop kust',
    );
    await t.agent.reconcileOnce();
    assert.equal(await get('v1', 'ConfigMap', 'kust', 'prod-settings'), undefined);
    assert.equal(
      t.agent.statuses().find((s) => s.app === 'kust'),
      undefined,
    );
    assert.deepEqual(await new InventoryStore(t.client, 'driftless-system').apps(), [
      'chart',
      'infra',
      'web',
    ]);
  });
});
