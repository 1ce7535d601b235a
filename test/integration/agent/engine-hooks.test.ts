/**
 * Helm hooks as sync phases on a real cluster (kwok runs the Jobs to
 * completion): case 21's migration Job before every install and upgrade,
 * replaced rather than patched; test hooks never applied; weights,
 * hook-succeeded and post hooks; hooks run once per change of the render,
 * never on a resync; the same annotations in a plain-YAML app.
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
import { clusterYaml, deployment, makeAgent, type TestAgent } from './fleet.ts';
import { startCase, type CaseFleet } from './cases.ts';

const uid = (o: KubeObject | undefined) => o?.metadata['uid'];
const image = (o: KubeObject | undefined) =>
  (o?.['spec'] as { template: { spec: { containers: { image: string }[] } } } | undefined)?.template
    .spec.containers[0]?.image;
const completedAt = (job: KubeObject | undefined) =>
  Date.parse(String((job?.['status'] as { completionTime?: string } | undefined)?.completionTime));
const createdAt = (o: KubeObject | undefined) =>
  Date.parse(String(o?.metadata['creationTimestamp']));

function hookJob(name: string, annotations: Record<string, string>): string {
  const lines = Object.entries(annotations)
    .map(([k, v]) => `    ${k}: "${v}"`)
    .join('\n');
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
  annotations:
${lines}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: registry.local/tool:1.0
`;
}

describe('Helm hooks as sync phases', () => {
  let cluster: Cluster;
  let git: GitServer;
  const agents: TestAgent[] = [];

  before(async () => {
    [cluster, git] = await Promise.all([startCluster({ workloads: true }), startGitServer()]);
  });
  after(async () => {
    for (const a of agents) await a.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  describe('case 21: a pre-install,pre-upgrade migration Job with before-hook-creation', () => {
    let c: CaseFleet;
    const job = () =>
      c.t.client.get({
        apiVersion: 'batch/v1',
        kind: 'Job',
        namespace: 'c21',
        name: 'c21-shop-migrate',
      });
    const web = () =>
      c.t.client.get({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'c21',
        name: 'c21-shop-web',
      });

    before(async () => {
      c = await startCase('21-helm-hooks-upgrade', { kubeConfig: cluster.kubeConfig, git });
      agents.push(c.t);
      await c.t.agent.reconcileOnce();
    });

    it('installs: the hook Job runs to completion before the Deployment is created', async () => {
      const sync = c.t.recorder.lastSync('c21-shop');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      const migrate = await job();
      assert.ok(
        migrate,
        'the hook Job is kept (before-hook-creation deletes it only before the next run)',
      );
      assert.equal(image(migrate), 'registry.local/shop:1.0');
      assert.ok(completedAt(migrate) <= createdAt(await web()), 'the hook finished first');
      assert.equal(image(await web()), 'registry.local/shop:1.0');
    });

    it('never applies the test hook', async () => {
      const pod = await c.t.client.get({
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: 'c21',
        name: 'c21-shop-test-connection',
      });
      assert.equal(pod, undefined);
      assert.ok(!c.t.recorder.lastSync('c21-shop')?.objects.some((o) => o.ref.kind === 'Pod'));
    });

    it('a resync does not run the hook again, and hooks are not in the inventory', async () => {
      const before = uid(await job());
      await c.repo.commit({ 'README.md': 'unrelated change\n' }, 'docs only');
      await c.t.agent.reconcileOnce();
      assert.equal(c.t.agent.statuses().find((s) => s.app === 'c21-shop')?.syncStatus, 'Synced');
      assert.equal(uid(await job()), before);
      const record = await new InventoryStore(c.t.client, 'driftless-system').load('c21-shop');
      assert.ok(record?.objects.some((r) => r.kind === 'Deployment'));
      assert.ok(!record?.objects.some((r) => r.kind === 'Job'), JSON.stringify(record?.objects));
    });

    it('upgrades: the old hook Job is replaced, not patched, and runs before the new Deployment', async () => {
      const before = uid(await job());
      await c.step(2);
      const sync = c.t.recorder.lastSync('c21-shop');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      const migrate = await job();
      assert.notEqual(uid(migrate), before, 'a new Job');
      assert.equal(image(migrate), 'registry.local/shop:2.0');
      assert.equal(image(await web()), 'registry.local/shop:2.0');
    });
  });

  it('a hook that does not finish fails the sync naming it, and nothing after it is applied', async () => {
    const repo = await git.createRepo('stuck-hook');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(`
    - name: stuck
      path: apps/stuck
      namespace: stuck
      createNamespace: true
      healthTimeout: 3s
`),
        'apps/stuck/deployment.yaml': deployment('after-hook', 1),
        // A bare Pod: kwok runs it and never ends it, so the hook never finishes.
        'apps/stuck/pod.yaml':
          'apiVersion: v1\nkind: Pod\nmetadata:\n  name: waits\n  annotations:\n    helm.sh/hook: pre-install\nspec:\n  restartPolicy: Never\n  containers:\n    - name: main\n      image: registry.local/tool:1.0\n',
      },
      'a hook that never ends',
    );
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    agents.push(t);
    await t.agent.reconcileOnce();
    const sync = t.recorder.lastSync('stuck');
    assert.equal(sync?.outcome, 'failed');
    assert.match(sync?.error ?? '', /hook Pod stuck\/waits did not finish within 3s/);
    assert.equal(
      await t.client.get({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'stuck',
        name: 'after-hook',
      }),
      undefined,
    );
  });

  describe('weights, delete policies, post hooks and plain YAML', () => {
    let t: TestAgent;
    let repo: GitRepo;
    const get = (kind: string, name: string) =>
      t.client.get({
        apiVersion: kind === 'Job' ? 'batch/v1' : 'v1',
        kind,
        namespace: 'hooks',
        name,
      });

    before(async () => {
      repo = await git.createRepo('hooks-fleet');
      await repo.commit(
        {
          'clusters/test/driftless.yaml': clusterYaml(`
    - name: plain
      path: apps/plain
      namespace: hooks
      createNamespace: true
      healthTimeout: 60s
`),
          'apps/plain/deployment.yaml': deployment('api', 1),
          'apps/plain/pre-config.yaml':
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pre-config\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: "-5"\ndata:\n  ready: "yes"\n',
          'apps/plain/pre-job.yaml': hookJob('pre-job', {
            'helm.sh/hook': 'pre-install,pre-upgrade',
            'helm.sh/hook-delete-policy': 'hook-succeeded',
          }),
          'apps/plain/post-job.yaml': hookJob('post-job', {
            'helm.sh/hook': 'post-install,post-upgrade',
          }),
          'apps/plain/teardown.yaml': hookJob('teardown', { 'helm.sh/hook': 'pre-delete' }),
        },
        'hooks in plain YAML',
      );
      t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
      agents.push(t);
      await t.agent.reconcileOnce();
    });

    it('runs pre hooks by weight, then the waves, then post hooks', async () => {
      const sync = t.recorder.lastSync('plain');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      assert.deepEqual(
        sync?.objects.map((o) => `${o.ref.kind}/${o.ref.name}`),
        [
          'Namespace/hooks',
          'ConfigMap/pre-config',
          'Job/pre-job',
          'Deployment/api',
          'Job/post-job',
        ],
      );
      const post = await get('Job', 'post-job');
      assert.ok(post, 'the post hook ran and is kept (default before-hook-creation)');
      assert.ok(
        createdAt(post) >=
          createdAt(
            await t.client.get({
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              namespace: 'hooks',
              name: 'api',
            }),
          ),
      );
    });

    it('deletes a hook-succeeded hook once it succeeded, and never applies a pre-delete hook', async () => {
      assert.equal(await get('Job', 'pre-job'), undefined);
      assert.equal(await get('Job', 'teardown'), undefined);
      assert.deepEqual((await get('ConfigMap', 'pre-config'))?.['data'], { ready: 'yes' });
    });

    it('runs upgrade hooks, not install hooks, when the render changes; nothing on a resync', async () => {
      const configBefore = uid(await get('ConfigMap', 'pre-config'));
      const postBefore = uid(await get('Job', 'post-job'));
      await t.agent.reconcileOnce();
      assert.equal(uid(await get('Job', 'post-job')), postBefore, 'a resync runs no hook');

      await repo.commit({ 'apps/plain/deployment.yaml': deployment('api', 2) }, 'scale api');
      await t.agent.reconcileOnce();
      const sync = t.recorder.lastSync('plain');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      assert.deepEqual(
        sync?.objects
          .filter((o) => o.action !== 'unchanged')
          .map((o) => `${o.action} ${o.ref.name}`),
        ['create pre-job', 'update api', 'create post-job'],
      );
      assert.equal(uid(await get('ConfigMap', 'pre-config')), configBefore, 'pre-install only');
      assert.notEqual(uid(await get('Job', 'post-job')), postBefore, 'the post hook was replaced');
    });
  });
});
