/**
 * Break-glass pauses end to end: a real cluster, Git server, nats-server, `driftless-hub` and two
 * `driftless-agent run` processes, one linked over gRPC and one over NATS, driven through the
 * `driftless` CLI and the hub API. A paused app still reports drift and new commits (not healed,
 * not applied, and says why); resume heals and applies; a pause ends by itself on the agent's
 * clock, across an agent restart and with the hub down; `suspend: true` in Git pauses too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '@driftless/agent';
import { runCli } from '@driftless/hub';
import {
  createEnrollmentToken,
  createHubDataDir,
  hubApi,
  hubNatsConfig,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  startNats,
  waitFor,
  type AgentProcess,
  type Cluster,
  type GitRepo,
  type GitServer,
  type Hub,
  type HubApi,
  type NatsServer,
} from '@driftless/test';

const NAMES = ['viagrpc', 'vianats'] as const;
type Name = (typeof NAMES)[number];

interface Suspension {
  app: string;
  source: string;
  reason: string;
  actor: string;
  until: string | null;
}
interface AppView {
  app: string;
  revision: string;
  syncStatus: string;
  message: string;
  suspension: Suspension | null;
}
interface DriftView {
  objectRef: string;
  healed: boolean;
  message: string;
}

const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
const settings = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: "${value}"\n`;
const driftlessYaml = (c: Name, suspend = false) =>
  `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n    - name: web\n      path: apps/${c}/web\n      namespace: ${c}-web\n      selfHeal: true\n${suspend ? '      suspend: true\n' : ''}`;

describe('break-glass pauses, end to end (gRPC and NATS)', () => {
  let cluster: Cluster;
  let git: GitServer;
  let nats: NatsServer;
  let hub: Hub;
  let api: HubApi;
  let repo: GitRepo;
  let kube: KubeClient;
  const agents = {} as Record<Name, AgentProcess>;
  /** What Git says each cluster's settings value is. */
  const gitValue = { viagrpc: 'v1', vianats: 'v1' } as Record<Name, string>;

  const agentOptions = (c: Name) => ({
    cluster,
    clusterName: c,
    repoUrl: repo.url,
    gitCredentials: git.credentials,
    hub,
    pollInterval: '1s',
    ...(c === 'vianats' ? { transport: 'nats' as const, natsUrl: nats.url } : {}),
    env: { DRIFTLESS_STATE_NAMESPACE: `driftless-${c}` },
  });
  const web = async (c: Name) =>
    (await api.get<{ apps: AppView[] }>(`/api/v1/clusters/${c}`)).apps.find((a) => a.app === 'web');
  const live = async (c: Name) =>
    (
      (await kube.get({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: `${c}-web`,
        name: 'settings',
      })) as { data?: { value?: string } } | undefined
    )?.data?.value;
  const editLive = (c: Name, value: string) =>
    kube.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace: `${c}-web` },
        data: { value },
      },
      { fieldManager: 'kubectl-edit', force: true },
    );
  const openDrift = async (c: Name) =>
    (
      await api.get<{ items: DriftView[] }>(`/api/v1/drift?cluster=${c}&app=web&state=open`)
    ).items.find((d) => d.objectRef.includes('settings'));
  const commitValue = async (c: Name, value: string) => {
    gitValue[c] = value;
    return repo.commit({ [`apps/${c}/web/settings.yaml`]: settings(value) }, `${c}: ${value}`);
  };
  const cli = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(args, {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      env: { DRIFTLESS_HUB: hub.httpUrl, DRIFTLESS_TOKEN: hub.adminToken },
    });
    return { code, out, err };
  };
  const synced = (c: Name) =>
    waitFor(`${c}/web synced at Git's value ${gitValue[c]}, not paused`, async () => {
      const a = await web(c);
      return a?.syncStatus === 'synced' &&
        !a.suspension &&
        (await live(c)) === gitValue[c] &&
        !(await openDrift(c))
        ? a
        : undefined;
    });

  before(async () => {
    const dataDir = createHubDataDir();
    [cluster, git, nats] = await Promise.all([
      startCluster(),
      startGitServer(),
      startNats({ jetstream: true, config: hubNatsConfig(dataDir) }),
    ]);
    hub = await startHub({ dataDir, args: ['--nats-url', nats.url, '--max-suspension', '2h'] });
    api = hubApi(hub);
    kube = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    repo = await git.createRepo('fleet');
    const files: Record<string, string> = {};
    for (const c of NAMES) {
      files[`clusters/${c}/driftless.yaml`] = driftlessYaml(c);
      files[`apps/${c}/web/namespace.yaml`] = ns(`${c}-web`);
      files[`apps/${c}/web/settings.yaml`] = settings('v1');
    }
    await repo.commit(files, 'fleet');
    for (const c of NAMES)
      agents[c] = startAgent({ ...agentOptions(c), token: await createEnrollmentToken(hub, c) });
    for (const c of NAMES) await synced(c);
  });
  after(async () => {
    await Promise.all(NAMES.map((c) => agents[c]?.stop()));
    kube?.close();
    await Promise.all([hub?.stop(), cluster?.stop(), git?.stop(), nats?.stop()]);
  });

  for (const c of NAMES)
    it(`${c}: a paused app reports drift and a new commit without healing or applying them; resume heals and applies`, async () => {
      const paused = await cli('suspend', `${c}/web`, '--for', '30m', '--reason', 'incident 42');
      assert.equal(paused.code, 0, paused.err);
      assert.match(paused.out, new RegExp(`Paused app ${c}/web until .*: incident 42`));
      // The hub shows what the agent applies, not what was asked.
      const shown = await waitFor(`${c}/web shown paused by its agent`, async () => {
        const s = (await web(c))?.suspension;
        return s?.source === 'hub' ? s : undefined;
      });
      assert.equal(shown.reason, 'incident 42');
      assert.match(shown.actor, /admin/);

      await editLive(c, 'edited by hand');
      const drift = await waitFor(
        `${c}: the hand edit reported as drift held by the pause`,
        async () => {
          const d = await openDrift(c);
          return d?.message.includes('not healed while paused') ? d : undefined;
        },
      );
      assert.match(drift.message, /incident 42/);
      assert.equal(await live(c), 'edited by hand', 'a selfHeal app does not heal while paused');

      const rev = await commitValue(c, `${c}-v2`);
      const waiting = await waitFor(
        `${c}/web out of sync at the new commit, not applied`,
        async () => {
          const a = await web(c);
          return a?.revision === rev && a.syncStatus === 'out-of-sync' ? a : undefined;
        },
      );
      assert.match(waiting.message, /not applied until the pause ends/);
      assert.equal(await live(c), 'edited by hand', 'the new commit is not applied while paused');

      const resumed = await cli('resume', `${c}/web`);
      assert.equal(resumed.code, 0, resumed.err);
      assert.match(resumed.out, new RegExp(`Resumed app ${c}/web`));
      const after = await synced(c);
      assert.equal(after.revision, rev);

      const audit = await api.get<{ items: { action: string; target: string; actor: string }[] }>(
        '/api/v1/audit',
      );
      for (const action of ['cluster.suspend', 'cluster.resume'])
        assert.ok(
          audit.items.some((e) => e.action === action && e.target === `cluster/${c}/app/web`),
          `${action} of ${c}/web is audited`,
        );
    });

  it('a pause ends by itself at its time: the agent heals and applies again', async () => {
    const c = 'vianats';
    const paused = await cli('suspend', c, '--for', '20s', '--reason', 'short freeze');
    assert.equal(paused.code, 0, paused.err);
    await waitFor(`${c}/web paused with its cluster`, async () => {
      const s = (await web(c))?.suspension;
      return s?.app === '' && s.source === 'hub';
    });
    await editLive(c, 'edited during the freeze');
    await waitFor(`${c}: drift held by the cluster pause`, async () =>
      (await openDrift(c))?.message.includes('whole cluster'),
    );
    // No resume: the pause ends on the agent's clock, then the drift is healed.
    await synced(c);
    assert.ok(
      agents[c].logs().some((l) => String(l['msg']).includes('ended at')),
      'the agent says the pause ended',
    );
  });

  it('a pause survives an agent restart and ends by itself while the hub is down', async () => {
    const c = 'viagrpc';
    const paused = await cli('suspend', `${c}/web`, '--for', '45s', '--reason', 'restart drill');
    assert.equal(paused.code, 0, paused.err);
    await waitFor(`${c}/web paused`, async () => (await web(c))?.suspension?.source === 'hub');
    const { dataDir, grpcPort, httpPort, adminToken } = hub;
    await hub.kill();
    await agents[c].kill();
    await editLive(c, 'edited while the hub is down');
    // A commit that leaves the app alone: the head the agent restarts on is not the revision it
    // last applied, yet what Git renders for the app is, so every change it finds is drift.
    await repo.commit({ 'notes/restart-drill.md': 'drill\n' }, 'notes while the agent is down');
    agents[c] = startAgent(agentOptions(c));
    await waitFor('the restarted agent keeps the pause', () =>
      agents[c].logs().some((l) => String(l['msg']).includes('kept from before the restart')),
    );
    await waitFor('the restarted agent reports the drift as held by the pause', () =>
      agents[c]
        .logs()
        .some(
          (l) =>
            String(l['msg']).includes('settings') &&
            String(l['msg']).includes('not healed while paused'),
        ),
    );
    // The hub is still down: the agent ends the pause on its own clock and heals.
    await waitFor(`${c}: healed after the pause ended, with no hub`, async () =>
      (await live(c)) === gitValue[c] ? true : undefined,
    );
    hub = await startHub({
      dataDir,
      grpcPort,
      httpPort,
      adminToken,
      args: ['--nats-url', nats.url, '--max-suspension', '2h'],
    });
    api = hubApi(hub);
    await synced(c);
    assert.deepEqual(
      (await api.get<{ items: unknown[] }>(`/api/v1/suspensions?cluster=${c}`)).items,
      [],
      'the hub holds no pause in force either',
    );
  });

  it('suspend: true in Git pauses an app until a commit removes it', async () => {
    const c = 'vianats';
    await repo.commit({ [`clusters/${c}/driftless.yaml`]: driftlessYaml(c, true) }, 'pause web');
    const shown = await waitFor(`${c}/web paused in Git`, async () => {
      const s = (await web(c))?.suspension;
      return s?.source === 'git' ? s : undefined;
    });
    assert.equal(shown.until, null, 'a pause from Git has no end');
    const before = await live(c);
    const rev = await commitValue(c, `${c}-v3`);
    await waitFor(`${c}/web out of sync at the new commit`, async () => {
      const a = await web(c);
      return a?.revision === rev && a.syncStatus === 'out-of-sync' && /not applied/.test(a.message);
    });
    assert.equal(await live(c), before, 'not applied while paused in Git');
    const refused = await cli('resume', `${c}/web`);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /paused in Git/);
    await repo.commit({ [`clusters/${c}/driftless.yaml`]: driftlessYaml(c) }, 'resume web');
    await synced(c);
  });

  it('refuses a pause without a reason or a duration, beyond the maximum, or of nothing', async () => {
    const post = (path: string, body: unknown) => api.request('POST', path, body);
    const cases: [string, unknown, number, RegExp][] = [
      ['viagrpc', { for: '10m' }, 400, /reason is required/],
      ['viagrpc', { reason: 'x' }, 400, /duration is required/],
      ['viagrpc', { for: '3h', reason: 'x' }, 400, /longer than the longest pause .*2h/],
      ['viagrpc', { for: '10m', until: '2099-01-01T00:00:00Z', reason: 'x' }, 400, /not both/],
      ['nowhere', { for: '10m', reason: 'x' }, 404, /cluster nowhere: not found/],
      ['viagrpc', { app: 'nope', for: '10m', reason: 'x' }, 404, /app nope .*not found/],
    ];
    for (const [cluster, body, status, message] of cases) {
      const res = await post(`/api/v1/clusters/${cluster}/suspend`, body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.match((res.body as { error: { message: string } }).error.message, message);
    }
    const nothing = await post('/api/v1/clusters/viagrpc/resume', {});
    assert.equal(nothing.status, 409);
    const usage = await cli('suspend', 'viagrpc/web', '--reason', 'x');
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--for DURATION .* or --until TIME is required/);
  });
});
