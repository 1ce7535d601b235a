/**
 * One object, one owner, on a real kube-apiserver and git server: case
 * `08-two-apps-one-object` as handed (two apps of one cluster declare the
 * same ConfigMap), then its step 2 (team-a drops the object), then the other
 * ways an object changes hands: an app that comes back finds it taken, and an
 * app that leaves Git (prune on) leaves alone what another app declares.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InventoryStore, type KubeObject } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import { eventually, makeTenancyAgent, type TenancyAgent } from './tenancy-agent.ts';

/** The case's apps (repo/clusters/test/driftless.yaml), plus an optional extra entry. */
function clusterYaml(extra = '', teamB = true): string {
  return `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: c08-base
      path: apps/base
      namespace: c08
    - name: c08-team-a
      path: apps/team-a
      namespace: c08
      prune: true
      selfHeal: true
      dependsOn: [c08-base]
${
  teamB
    ? `    - name: c08-team-b
      path: apps/team-b
      namespace: c08
      prune: true
      selfHeal: true
      dependsOn: [c08-base]
`
    : ''
}${extra}`;
}

const configMap = (name: string, data: Record<string, string>) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${Object.entries(data)
    .map(([k, v]) => `  ${k}: "${v}"`)
    .join('\n')}\n`;

/** The case's first commit, file for file. */
const CASE_08: Record<string, string> = {
  'clusters/test/driftless.yaml': clusterYaml(),
  'apps/base/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: c08\n',
  'apps/team-a/shared.yaml': configMap('shared-settings', { owner: 'team-a', timeout: '30' }),
  'apps/team-a/own.yaml': configMap('team-a-only', { x: '1' }),
  'apps/team-b/shared.yaml': configMap('shared-settings', { owner: 'team-b', timeout: '60' }),
  'apps/team-b/own.yaml': configMap('team-b-only', { y: '1' }),
};

describe('one object, one owner (case 08) on a real cluster', () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let t: TenancyAgent;
  let firstUid = '';

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    repo = await git.createRepo('c08');
    await repo.commit(CASE_08, 'case 08');
    t = await makeTenancyAgent({ kubeConfig: cluster.kubeConfig, git, repo });
  });
  after(async () => {
    await t?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  const shared = () =>
    t.client.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'c08',
      name: 'shared-settings',
    });
  const cm = (name: string) =>
    t.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'c08', name });
  const status = (app: string) => t.agent.statuses().find((s) => s.app === app);
  const inventory = async (app: string) =>
    ((await new InventoryStore(t.client, 'driftless-system').load(app))?.objects ?? []).map(
      (r) => r.name,
    );

  it('fails the app that does not own the object, naming the object and both apps', async () => {
    await t.agent.reconcileOnce();
    assert.equal(status('c08-team-a')?.syncStatus, 'Synced', status('c08-team-a')?.message);
    const b = t.recorder.lastSync('c08-team-b');
    assert.equal(b?.outcome, 'failed');
    assert.equal(status('c08-team-b')?.syncStatus, 'Failed');
    assert.match(b?.error ?? '', /ConfigMap c08\/shared-settings/);
    assert.match(b?.error ?? '', /c08-team-a/);
    assert.match(b?.error ?? '', /c08-team-b/);
    assert.ok((b?.error.length ?? 0) < 400, 'one short message');

    const live = await shared();
    assert.deepEqual(live?.['data'], { owner: 'team-a', timeout: '30' });
    assert.equal(live?.metadata.labels?.['driftless.dev/app'], 'c08-team-a');
    firstUid = String(live?.metadata['uid']);
    // The refused sync changed nothing: not even team-b's own object.
    assert.equal(await cm('team-b-only'), undefined);
    assert.ok(await cm('team-a-only'));
  });

  it('keeps content and label still on later passes: no flip-flop', async () => {
    const before = String((await shared())?.metadata['resourceVersion']);
    for (let i = 0; i < 3; i++) await t.agent.reconcileOnce();
    const live = await shared();
    assert.equal(String(live?.metadata['resourceVersion']), before, 'not written again');
    assert.equal(live?.metadata.labels?.['driftless.dev/app'], 'c08-team-a');
    assert.equal(t.recorder.lastSync('c08-team-b')?.outcome, 'failed');
  });

  it("heals the owner's content, never the other app's", async () => {
    // The drift watcher alone (no reconcile pass running) puts it back.
    const edited = (await shared()) as KubeObject;
    await t.client.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'shared-settings', namespace: 'c08' },
        data: { timeout: '5' },
      },
      { fieldManager: 'kubectl-edit' },
    );
    const healed = await eventually('the heal of shared-settings', async () => {
      const live = await shared();
      const data = live?.['data'] as Record<string, string> | undefined;
      const reported = t.recorder.drifts.some((d) => d.ref.name === 'shared-settings');
      return reported &&
        live?.metadata['resourceVersion'] !== edited.metadata['resourceVersion'] &&
        data?.['timeout'] !== '5'
        ? live
        : undefined;
    });
    assert.deepEqual(healed['data'], { owner: 'team-a', timeout: '30' });
    assert.equal(healed.metadata.labels?.['driftless.dev/app'], 'c08-team-a');
    const drifts = t.recorder.drifts.filter((d) => d.ref.name === 'shared-settings');
    assert.ok(drifts.length > 0);
    assert.ok(
      drifts.every((d) => d.app === 'c08-team-a'),
      `drift reported for ${drifts.map((d) => d.app).join(', ')}`,
    );
  });

  it('steps/2: team-a drops the object; it is not pruned and team-b, which declares it, takes it over', async () => {
    await repo.commit({ 'apps/team-a/shared.yaml': null }, 'team-a drops shared-settings');
    // A fresh agent, as after a restart.
    await t.close();
    t = await makeTenancyAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    await t.agent.reconcileOnce();
    assert.equal(status('c08-team-a')?.syncStatus, 'Synced', status('c08-team-a')?.message);
    assert.equal(status('c08-team-b')?.syncStatus, 'Synced', status('c08-team-b')?.message);
    const live = await shared();
    assert.equal(String(live?.metadata['uid']), firstUid, 'the same object: never deleted');
    assert.deepEqual(live?.['data'], { owner: 'team-b', timeout: '60' });
    assert.equal(live?.metadata.labels?.['driftless.dev/app'], 'c08-team-b');
    assert.ok(await cm('team-b-only'));
    assert.ok(!(await inventory('c08-team-a')).includes('shared-settings'));
    assert.ok((await inventory('c08-team-b')).includes('shared-settings'));
  });

  it('an app that declares the object again finds it owned by the app that applied it', async () => {
    await repo.commit(
      { 'apps/team-a/shared.yaml': CASE_08['apps/team-a/shared.yaml'] ?? '' },
      'team-a declares it again',
    );
    await t.agent.reconcileOnce();
    const a = t.recorder.lastSync('c08-team-a');
    assert.equal(a?.outcome, 'failed');
    assert.match(a?.error ?? '', /owns it \(it applied ConfigMap c08\/shared-settings first\)/);
    assert.equal(status('c08-team-b')?.syncStatus, 'Synced');
    assert.deepEqual((await shared())?.['data'], { owner: 'team-b', timeout: '60' });
  });

  it('an app that leaves Git (prune on) never prunes what another app declares', async () => {
    await repo.commit(
      { 'clusters/test/driftless.yaml': clusterYaml('', false) },
      'team-b leaves the cluster',
    );
    await t.agent.reconcileOnce();
    assert.equal(await cm('team-b-only'), undefined, "team-b's own object is pruned");
    const live = await shared();
    assert.equal(String(live?.metadata['uid']), firstUid, 'shared-settings is not');
    assert.equal(status('c08-team-a')?.syncStatus, 'Synced', status('c08-team-a')?.message);
    assert.deepEqual(live?.['data'], { owner: 'team-a', timeout: '30' });
    assert.equal(live?.metadata.labels?.['driftless.dev/app'], 'c08-team-a');
  });

  it('decides the same way for Kustomize and Helm apps', async () => {
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(`    - name: c08-kust
      path: apps/kust
      namespace: c08
      prune: true
    - name: c08-chart
      path: apps/chart
      namespace: c08
      prune: true
`),
        'apps/kust/kustomization.yaml': 'resources: [cm.yaml]\nnamePrefix: team-\n',
        'apps/kust/cm.yaml': configMap('a-only', { from: 'kustomize' }),
        'apps/chart/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 0.1.0\n',
        'apps/chart/templates/cm.yaml': configMap('shared-settings', { from: 'helm' }),
      },
      'two more apps declare objects of others',
    );
    await t.agent.reconcileOnce();
    assert.match(
      t.recorder.lastSync('c08-kust')?.error ?? '',
      /ConfigMap c08\/team-a-only.*c08-team-a/,
    );
    assert.match(
      t.recorder.lastSync('c08-chart')?.error ?? '',
      /ConfigMap c08\/shared-settings.*c08-team-a/,
    );
    assert.deepEqual((await cm('team-a-only'))?.['data'], { x: '1' });
    assert.deepEqual((await shared())?.['data'], { owner: 'team-a', timeout: '30' });
  });

  it('creates a Namespace two apps ask for (createNamespace) once, for its owner, without flip-flop', async () => {
    const both = `    - name: c08-first
      path: apps/first
      namespace: c08-shared
      createNamespace: true
      prune: true
    - name: c08-second
      path: apps/second
      namespace: c08-shared
      createNamespace: true
      prune: true
      dependsOn: [c08-first]
`;
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(both),
        'apps/kust/kustomization.yaml': null,
        'apps/kust/cm.yaml': null,
        'apps/chart/Chart.yaml': null,
        'apps/chart/templates/cm.yaml': null,
        'apps/first/cm.yaml': configMap('first', { a: '1' }),
        'apps/second/cm.yaml': configMap('second', { b: '1' }),
      },
      'two apps create one namespace',
    );
    const namespace = () =>
      t.client.get({ apiVersion: 'v1', kind: 'Namespace', namespace: '', name: 'c08-shared' });
    await t.agent.reconcileOnce();
    assert.equal(status('c08-first')?.syncStatus, 'Synced', status('c08-first')?.message);
    assert.equal(status('c08-second')?.syncStatus, 'Synced', status('c08-second')?.message);
    const created = await namespace();
    assert.equal(created?.metadata.labels?.['driftless.dev/app'], 'c08-first');
    await t.agent.reconcileOnce();
    const again = await namespace();
    assert.equal(again?.metadata['resourceVersion'], created?.metadata['resourceVersion']);
    assert.ok(!(await inventory('c08-second')).includes('c08-shared'));
  });
});
