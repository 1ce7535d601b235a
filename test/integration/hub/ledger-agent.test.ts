// The drift ledger end to end: a real agent (`driftless-agent run`) on a real kube-apiserver
// reports to the real hub; someone changes a ConfigMap by hand, the agent heals it, and the
// ledger shows that one episode with its manager, its time to detect (from the managedFields
// time the API server wrote with the change) and its time to heal.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '@driftless/agent';
import {
  createEnrollmentToken,
  hubApi,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  waitFor,
  type AgentProcess,
  type Cluster,
  type GitServer,
  type Hub,
} from '@driftless/test';

/** The ledger answer, as far as this test reads it. */
interface Ledger {
  summary: {
    episodes: number;
    healed: number;
    fights: number;
    timeToDetect: { count: number; medianMs: number | null };
    timeToHeal: { count: number; medianMs: number | null };
  };
  managers: { manager: string; episodes: number }[];
  fields: { kind: string; path: string; episodes: number }[];
}

const CONFIG_MAP = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'settings' };

describe('drift ledger with a real agent', { timeout: 240_000 }, () => {
  let cluster: Cluster;
  let git: GitServer;
  let hub: Hub;
  let agent: AgentProcess;
  let kube: KubeClient;
  const startedMs = Date.now();

  before(async () => {
    [cluster, git, hub] = await Promise.all([startCluster(), startGitServer(), startHub()]);
    const repo = await git.createRepo('fleet');
    await repo.commit(
      {
        'clusters/ledger/driftless.yaml': `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: settings
      path: apps/settings
      namespace: default
      sync: auto
      selfHeal: true
`,
        'apps/settings/configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  LOG_LEVEL: info
`,
      },
      'settings: one ConfigMap, healed when changed',
    );
    agent = startAgent({
      cluster,
      clusterName: 'ledger',
      repoUrl: repo.url,
      gitCredentials: git.credentials,
      hub,
      token: await createEnrollmentToken(hub, 'ledger', { env: 'test' }),
    });
    kube = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    await waitFor('the settings app synced on the hub', async () => {
      const { items } = await hubApi(hub).get<{ items: { app: string; syncStatus: string }[] }>(
        '/api/v1/apps',
      );
      return items.some((a) => a.app === 'settings' && a.syncStatus === 'synced');
    });
  });
  after(async () => {
    kube?.close();
    await agent?.stop();
    await Promise.all([hub?.stop(), git?.stop(), cluster?.stop()]);
  });

  it('shows a hand edit as one healed episode with its time to detect and to heal', async () => {
    const window = `from=${new Date(startedMs - 60_000).toISOString()}`;
    const ledger = () => hubApi(hub).get<Ledger>(`/api/v1/drift/ledger?${window}`);
    assert.equal((await ledger()).summary.episodes, 0, 'no drift before the edit');

    const before = Date.now();
    await kube.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace: 'default' },
        data: { LOG_LEVEL: 'debug' },
      },
      { fieldManager: 'kubectl-edit', force: true },
    );
    const after = Date.now();

    const l = await waitFor('the healed episode in the ledger', async () => {
      const answer = await ledger();
      return answer.summary.healed === 1 ? answer : undefined;
    });
    const live = await kube.get(CONFIG_MAP);
    assert.equal((live?.['data'] as Record<string, string>)['LOG_LEVEL'], 'info', 'healed');
    assert.equal(l.summary.episodes, 1);
    assert.equal(l.summary.fights, 0);
    assert.deepEqual(
      l.managers.map((m) => [m.manager, m.episodes]),
      [['kubectl-edit', 1]],
    );
    assert.deepEqual(
      l.fields.map((f) => [f.kind, f.path, f.episodes]),
      [['ConfigMap', '.data.LOG_LEVEL', 1]],
    );

    // The same episode in the CSV: its times, and the ledger's numbers computed from them.
    const res = await fetch(`${hub.httpUrl}/api/v1/drift/ledger.csv?${window}`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    const [header, row] = (await res.text()).trimEnd().split('\r\n');
    const cells = Object.fromEntries(
      header!.split(',').map((name, i) => [name, row!.split(',')[i] ?? '']),
    );
    assert.equal(cells['field_manager'], 'kubectl-edit');
    assert.equal(cells['closed_by'], 'heal');
    assert.equal(cells['change_time_source'], 'managed-fields');
    const changed = Date.parse(cells['changed_at']!);
    const detected = Date.parse(cells['detected_at']!);
    const closed = Date.parse(cells['closed_at']!);
    // managedFields times are whole seconds of the API server's clock (this machine's).
    assert.ok(
      changed >= Math.floor(before / 1000) * 1000 && changed <= after,
      `changed at ${cells['changed_at']}, edited between ${new Date(before).toISOString()} and ${new Date(after).toISOString()}`,
    );
    assert.ok(changed <= detected && detected <= closed, JSON.stringify(cells));
    assert.equal(l.summary.timeToDetect.count, 1);
    assert.equal(l.summary.timeToDetect.medianMs, detected - changed);
    assert.equal(l.summary.timeToHeal.count, 1);
    assert.equal(l.summary.timeToHeal.medianMs, closed - detected);
    assert.equal(cells['time_to_heal_seconds'], ((closed - detected) / 1000).toFixed(3));
  });
});
