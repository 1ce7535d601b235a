/**
 * End to end, where a person looks (the hub's HTTP API): a real cluster, a real Git server, the
 * real `driftless-hub` and a real `driftless-agent run` enrolled with a token. A sync shows as
 * syncing with its step while it runs; a typo in driftless.yaml shows as the cluster's config
 * failed (message, file:line), the apps keep their last good state and say they run an older
 * config, and the history has no `succeeded` at the broken commit. A config that drops every app
 * is refused as a config failure and prunes nothing; an app removed from the config shows as gone
 * (and its objects are pruned); a deleted driftless.yaml is one short message with no agent path.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '@driftless/agent';
import {
  createEnrollmentToken,
  hubApi,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  type AgentProcess,
  type Cluster,
  type GitRepo,
  type GitServer,
  type Hub,
  type HubApi,
} from '@driftless/test';
import { startFailingWebhook, type FailingWebhook } from '../integration/agent/status-webhook.ts';

interface ClusterView {
  config: {
    state: string;
    revision: string;
    appliedRevision: string;
    error: string;
    line: number;
  };
  apps: { app: string; syncStatus: string; revision: string; message: string }[];
}

const cm = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  value: "${value}"\n`;
const driftless = (extra = '') =>
  `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n    - name: web\n      path: apps/web\n      namespace: web\n${extra}`;

interface AppItem {
  app: string;
  gone: boolean;
  syncStatus: string;
  message: string;
}

const named = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
const appEntry = (name: string) =>
  `    - name: ${name}\n      path: apps/${name}\n      namespace: web\n      prune: true\n`;
const clusterOf = (names: string[]) =>
  `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n${names.map(appEntry).join('')}`;

/** Resolves with the first truthy result of `probe`, polling every 100 ms; fails after 60 s. */
async function until<T>(probe: () => Promise<T | undefined | false>, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('status on the hub, end to end', () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let hub: Hub;
  let api: HubApi;
  let agent: AgentProcess;
  let client: KubeClient;
  let webhook: FailingWebhook;

  const view = () => api.get<ClusterView>('/api/v1/clusters/test');
  const web = async () => (await view()).apps.find((a) => a.app === 'web');

  before(async () => {
    [cluster, git, hub] = await Promise.all([startCluster(), startGitServer(), startHub()]);
    api = hubApi(hub);
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    await client.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } },
      { fieldManager: 'test' },
    );
    webhook = await startFailingWebhook(client, ['web']);
    repo = await git.createRepo('fleet');
    await repo.commit(
      { 'clusters/test/driftless.yaml': driftless(), 'apps/web/cm.yaml': cm('v1') },
      'fleet',
    );
    agent = startAgent({
      cluster,
      clusterName: 'test',
      repoUrl: repo.url,
      gitCredentials: git.credentials,
      hub,
      token: await createEnrollmentToken(hub, 'test'),
      pollInterval: '1s',
    });
  });
  after(async () => {
    await agent?.stop();
    await webhook?.stop();
    client?.close();
    await Promise.all([hub?.stop(), cluster?.stop(), git?.stop()]);
  });

  it('shows an app as syncing, with its step, while the sync runs, and synced when it ends', async () => {
    await until(async () => (await web())?.syncStatus === 'synced', 'web synced');
    webhook.plan('UPDATE', 'web/web', 'hold');
    const rev = await repo.commit({ 'apps/web/cm.yaml': cm('v2') }, 'web v2');
    await until(async () => webhook.held === 1, 'the apply of web to reach the apiserver');
    const during = await until(
      async () => ((await web())?.syncStatus === 'syncing' ? web() : undefined),
      'the hub to show web syncing',
    );
    assert.equal(during?.revision, rev);
    assert.equal(during?.message, `syncing ${rev.slice(0, 7)}: apply`);
    webhook.release();
    await until(
      async () => (await web())?.syncStatus === 'synced' && (await web())?.revision === rev,
      'web synced at the new commit',
    );
  });

  it('shows a typo in driftless.yaml as the config failed, and nothing as succeeded at that commit', async () => {
    const good = await until(
      async () => ((await view()).config.state === 'valid' ? (await view()).config.revision : ''),
      'a valid config',
    );
    const broken = await repo.commit(
      {
        'clusters/test/driftless.yaml': driftless('      selfheal: true\n'),
        'apps/web/cm.yaml': cm('v3'),
      },
      'typo',
    );
    const config = await until(async () => {
      const c = (await view()).config;
      return c.state === 'failed' && c.revision === broken ? c : undefined;
    }, 'the hub to show the config failed');
    assert.equal(config.appliedRevision, good);
    assert.equal(config.line, 8);
    assert.match(
      config.error,
      /^clusters\/test\/driftless\.yaml:8:7: spec\.apps\[0\]\.selfheal: unknown field/,
    );
    const app = await until(
      async () =>
        (await web())?.message.includes('running the driftless.yaml of') ? web() : undefined,
      'web to say it runs an older config',
    );
    assert.equal(app?.syncStatus, 'synced');
    assert.notEqual(app?.revision, broken);
    const history = await api.get<{ items: { revision: string; result: string }[] }>(
      '/api/v1/history?cluster=test&limit=1000',
    );
    assert.deepEqual(
      history.items.filter((s) => s.revision === broken),
      [],
      'no sync, so no succeeded, at the broken commit',
    );
    const live = await client.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'web',
      name: 'web',
    });
    assert.deepEqual(live?.['data'], { value: 'v2' });
  });

  it('refuses a config that drops every app, marks a removed app gone, and says a missing file in a few words', async () => {
    const apps = async () =>
      (await api.get<{ items: AppItem[] }>('/api/v1/apps?cluster=test')).items;
    const configMap = (name: string) =>
      client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'web', name });
    // A valid config again, with two apps that prune: the stale-config message goes away.
    const fixed = await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterOf(['web', 'old']),
        'apps/web/cm.yaml': cm('v4'),
        'apps/old/cm.yaml': named('old', 'o1'),
      },
      'two apps',
    );
    await until(async () => {
      const all = await apps();
      return (
        ['web', 'old'].every((n) =>
          all.some((a) => a.app === n && a.syncStatus === 'synced' && !a.gone),
        ) && (await configMap('old'))
      );
    }, 'web and old synced');
    assert.equal((await view()).config.state, 'valid');
    for (const a of await apps())
      assert.doesNotMatch(a.message, /running the driftless\.yaml of/, `${a.app}: ${a.message}`);

    // Every app renamed: refused as a config failure; both apps and their objects stay.
    const renamed = await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterOf(['web2']),
        'apps/web2/cm.yaml': named('web2', 'w'),
      },
      'rename every app',
    );
    const refused = await until(async () => {
      const c = (await view()).config;
      return c.state === 'failed' && c.revision === renamed ? c : undefined;
    }, 'the config that drops every app to be refused');
    assert.equal(refused.appliedRevision, fixed);
    assert.match(
      refused.error,
      /spec\.apps: removes every app in force \(the config of [0-9a-f]{7}\): web, old;/,
    );
    assert.match(refused.error, /spec\.allowEmpty: true/);
    assert.ok(await configMap('old'), 'nothing of old was pruned');
    assert.ok(await configMap('web'), 'nothing of web was pruned');
    assert.equal(await configMap('web2'), undefined, 'the refused config applied nothing');
    assert.deepEqual(
      (await apps()).filter((a) => a.gone).map((a) => a.app),
      [],
      'no app is shown gone while the config is refused',
    );

    // Removing one app still works: it is pruned and the hub shows it gone, with why.
    const kept = await repo.commit(
      { 'clusters/test/driftless.yaml': clusterOf(['web']), 'apps/web2/cm.yaml': null },
      'remove old',
    );
    const old = await until(
      async () => (await apps()).find((a) => a.app === 'old' && a.gone),
      'old shown gone',
    );
    assert.equal(old.message, `removed from clusters/test/driftless.yaml at ${kept.slice(0, 7)}`);
    await until(async () => (await configMap('old')) === undefined, "old's ConfigMap pruned");
    const webNow = (await apps()).find((a) => a.app === 'web');
    assert.equal(webNow?.gone, false);
    assert.equal((await view()).config.state, 'valid');

    // driftless.yaml deleted: one short message naming the file, no path of the agent's.
    const deleted = await repo.commit({ 'clusters/test/driftless.yaml': null }, 'delete config');
    const missing = await until(async () => {
      const c = (await view()).config;
      return c.state === 'failed' && c.revision === deleted ? c : undefined;
    }, 'the hub to show the config missing');
    assert.equal(missing.error, `clusters/test/driftless.yaml not found at ${deleted.slice(0, 7)}`);
    assert.equal(missing.appliedRevision, kept);
    assert.ok(await configMap('web'), 'a missing config prunes nothing');
  });
});
