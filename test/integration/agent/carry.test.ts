/**
 * Carry-forward on a real API server and Git server: a commit that changes app a only
 * re-applies a and moves b to the new revision without a single request about b's objects
 * (their resourceVersions stay), saying its sources were unchanged; a commit that changes a
 * file b reads plans b; so does a commit while b has open drift.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import { clusterYaml, makeAgent, snapshot, type TestAgent } from './fleet.ts';

interface Sent {
  method: string;
  path: string;
}

/** Records every request `client` sends from now on. */
function record(client: KubeClient): Sent[] {
  const sent: Sent[] = [];
  const request = client.request.bind(client);
  client.request = (method, path, options) => {
    sent.push({ method, path });
    return request(method, path, options);
  };
  return sent;
}

const namespace = (name: string) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const configMap = (name: string, value: string) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { value } });
const app = (name: string) =>
  `    - name: ${name}\n      path: apps/${name}\n      namespace: ${name}\n      prune: true\n`;
/** Requests about the objects of the app in Namespace `ns` (the Namespace included). */
const about = (sent: Sent[], ns: string) =>
  sent.filter((r) => r.path.includes(`/namespaces/${ns}/`) || r.path.endsWith(`/namespaces/${ns}`));

describe('carry-forward of apps a commit left alone', () => {
  let cluster: Cluster;
  let git: GitServer;
  let admin: KubeClient;
  let repo: GitRepo;
  let t: TestAgent;

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    admin = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    repo = await git.createRepo('carry');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('ca') + app('cb')),
        'apps/ca/ns.yaml': namespace('ca'),
        'apps/ca/cm.yaml': configMap('a', '1'),
        'apps/cb/ns.yaml': namespace('cb'),
        'apps/cb/cm.yaml': [configMap('b1', '1'), configMap('b2', '1')].join('\n---\n'),
      },
      'two apps',
    );
    t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    t.agent.start();
    await synced('ca', await repo.head());
    await synced('cb', await repo.head());
  });
  after(async () => {
    await t?.close();
    admin?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  const status = (name: string) => t.agent.statuses().find((s) => s.app === name);
  const synced = (name: string, revision: string) =>
    waitFor(
      `${name} Synced and Healthy at ${revision.slice(0, 7)}`,
      () => {
        const s = status(name);
        return s?.revision === revision && s.syncStatus === 'Synced' && s.health === 'Healthy';
      },
      { timeoutMs: 60_000 },
    );
  /** Commits `files` and sends the agent a hint of the new head, as the hub does. */
  const push = async (files: Record<string, string>, message: string) => {
    await repo.commit(files, message);
    const head = await repo.head();
    t.agent.refresh({ revision: head });
    return head;
  };

  it('re-applies the changed app and carries the other with no request about its objects', async () => {
    const r0 = status('cb')!.revision;
    const before = await snapshot(admin, 'cb');
    const sent = record(t.client);
    const r1 = await push({ 'apps/ca/cm.yaml': configMap('a', '2') }, 'change a only');
    await synced('ca', r1);
    await synced('cb', r1);
    const live = await admin.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'ca',
      name: 'a',
    });
    assert.deepEqual(live?.['data'], { value: '2' }, 'a was applied');
    assert.ok(about(sent, 'ca').length > 0);
    assert.deepEqual(about(sent, 'cb'), [], 'no GET, dry-run or write about b');
    assert.deepEqual(await snapshot(admin, 'cb'), before, "b's objects unchanged");
    const b = status('cb')!;
    assert.match(b.message, new RegExp(`sources unchanged since ${r0.slice(0, 7)}`));
    const last = t.recorder.lastSync('cb');
    assert.equal(last?.revision, r1);
    assert.equal(last?.outcome, 'succeeded');
    assert.deepEqual(last?.objects, [], 'the history says nothing was applied');
    assert.deepEqual(
      last?.steps.map((s) => s.name),
      ['carry'],
    );
  });

  it('plans an app again when a file it reads changed', async () => {
    const sent = record(t.client);
    const r2 = await push(
      { 'apps/cb/cm.yaml': [configMap('b1', '2'), configMap('b2', '1')].join('\n---\n') },
      'change b',
    );
    await synced('cb', r2);
    assert.ok(about(sent, 'cb').length > 0, 'b planned and applied');
    const live = await admin.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'cb',
      name: 'b1',
    });
    assert.deepEqual(live?.['data'], { value: '2' });
    assert.doesNotMatch(status('cb')!.message, /unchanged since/);
    assert.notDeepEqual(t.recorder.lastSync('cb')?.objects, []);
  });

  it('plans an app with open drift instead of carrying it', async () => {
    await admin.request('PATCH', '/api/v1/namespaces/cb/configmaps/b2', {
      body: { data: { value: 'edited' } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor('the drift of b2 seen', () => t.drift.driftCount('cb') > 0 || undefined, {
      timeoutMs: 30_000,
    });
    const sent = record(t.client);
    const r3 = await push({ 'apps/ca/cm.yaml': configMap('a', '3') }, 'change a again');
    await synced('ca', r3);
    await synced('cb', r3);
    assert.ok(about(sent, 'cb').length > 0, 'b planned');
    assert.doesNotMatch(status('cb')!.message, /unchanged since/);
    const live = await admin.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'cb',
      name: 'b2',
    });
    assert.deepEqual(live?.['data'], { value: '1' }, "b's sync put Git's value back");
  });
});
