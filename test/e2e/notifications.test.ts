/**
 * Notifications end to end: a real cluster, a real Git server, the real `driftless-hub` and a
 * real `driftless-agent run`, with a receiver that checks Slack's Block Kit format. A commit that
 * breaks one app gives exactly one Slack message naming the cluster, app, revision and error
 * with links; the fix gives one recovery message; drift gives one message per episode however
 * often the object is edited in it; a destination that fails is retried and the delivery log
 * shows the failures, then the send.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '@driftless/agent';
import {
  createEnrollmentToken,
  hubApi,
  LOOPBACK_DESTINATIONS,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  startReceivers,
  waitFor,
  type AgentProcess,
  type Cluster,
  type GitRepo,
  type GitServer,
  type Hub,
  type HubApi,
  type Receivers,
} from '@driftless/test';

const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
const driftlessYaml = `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: web
      path: apps/web
      namespace: web
    - name: api
      path: apps/api
      namespace: web
`;

interface Delivery {
  title: string;
  kind: string;
  status: string;
  attempts: { outcome: string; error: string }[];
}

describe('notifications, end to end', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let hub: Hub;
  let api: HubApi;
  let agent: AgentProcess;
  let client: KubeClient;
  let r: Receivers;

  /** Slack messages in the channel, as their JSON text. */
  const slack = () => r.valid('slack-webhook', 'e2e').map((m) => JSON.stringify(m.body));
  const synced = async (app: string, revision: string) => {
    const view = await api.get<{ apps: { app: string; syncStatus: string; revision: string }[] }>(
      '/api/v1/clusters/test',
    );
    const a = view.apps.find((x) => x.app === app);
    return a?.syncStatus === 'synced' && a.revision === revision;
  };
  const editByHand = (value: string) =>
    client.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'web', namespace: 'web' },
        data: { value },
      },
      { fieldManager: 'kubectl-edit', force: true },
    );

  before(async () => {
    [cluster, git, r] = await Promise.all([startCluster(), startGitServer(), startReceivers()]);
    hub = await startHub({
      allowPrivateDestinations: LOOPBACK_DESTINATIONS,
      args: [
        '--public-url',
        'http://driftless.test',
        '--commit-url-template',
        '{repo}/commit/{revision}',
        '--notify-retry-initial',
        '200ms',
      ],
    });
    api = hubApi(hub);
    await api.post('/api/v1/notifications/destinations', {
      name: 'team-slack',
      kind: 'slack',
      secret: { webhookUrl: r.slackWebhookUrl('e2e') },
    });
    await api.post('/api/v1/notifications/rules', {
      id: 'team',
      destination: 'team-slack',
      events: ['sync.failed', 'sync.succeeded', 'drift.detected'],
      minSeverity: 'warning',
    });
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    await client.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } },
      { fieldManager: 'test' },
    );
    repo = await git.createRepo('fleet');
    const first = await repo.commit(
      {
        'clusters/test/driftless.yaml': driftlessYaml,
        'apps/web/cm.yaml': cm('web', 'v1'),
        'apps/api/cm.yaml': cm('api', 'v1'),
      },
      'fleet',
    );
    agent = startAgent({
      cluster,
      clusterName: 'test',
      repoUrl: repo.url,
      gitCredentials: git.credentials,
      hub,
      token: await createEnrollmentToken(hub, 'test', { env: 'e2e' }),
      pollInterval: '1s',
    });
    await waitFor(
      'web and api synced',
      async () => (await synced('web', first)) && (await synced('api', first)),
    );
  });
  after(async () => {
    await agent?.stop();
    client?.close();
    await Promise.all([hub?.stop(), cluster?.stop(), git?.stop(), r?.stop()]);
  });

  it('a commit that breaks one app: one message with cluster, app, revision, error and links; the fix: one recovery', async () => {
    const broken = await repo.commit({ 'apps/web/cm.yaml': cm('Web_Bad', 'v2') }, 'break web');
    const failed = await waitFor('the failure in Slack', () =>
      slack().find((m) => m.includes('Sync failed')),
    );
    assert.ok(failed.includes('test/web'), failed);
    assert.ok(failed.includes(broken.slice(0, 7)), 'the revision');
    assert.match(failed, /Web_Bad/, 'the error names the object');
    assert.ok(failed.includes(`/fleet/commit/${broken}`), 'the commit link');
    assert.ok(
      failed.includes('http://driftless.test/#/clusters/test/apps/web'),
      'the dashboard link',
    );
    assert.ok(
      !slack().some((m) => m.includes('test/api')),
      'nothing about the app that still syncs',
    );

    const fixed = await repo.commit({ 'apps/web/cm.yaml': cm('web', 'v3') }, 'fix web');
    await waitFor('web synced at the fix', () => synced('web', fixed));
    const recovered = await waitFor('the recovery in Slack', () =>
      slack().find((m) => m.includes('Sync recovered')),
    );
    assert.ok(recovered.includes(fixed.slice(0, 7)));
    // The agent retried the broken commit until the fix: still one failure message.
    assert.equal(slack().filter((m) => m.includes('Sync failed')).length, 1, slack().join('\n'));
    assert.equal(slack().filter((m) => m.includes('Sync recovered')).length, 1);
  });

  it('drift: one message per episode however often the object is edited; a failing destination is retried', async () => {
    r.fail('e2e', 2, 500);
    await editByHand('by-hand-1');
    const first = await waitFor(
      'the drift message, after two failed attempts',
      () => slack().filter((m) => m.includes('Drift detected')).length === 1 && slack(),
    );
    assert.ok(first.some((m) => m.includes('test/web')));
    await editByHand('by-hand-2');
    // The second edit is the same episode; wait for the hub to have seen it before counting.
    await waitFor('the second edit on the hub', async () => {
      const drift = await api.get<{ items: { fields: { live: unknown }[] }[] }>(
        '/api/v1/drift?cluster=test&state=open',
      );
      return drift.items.some((d) =>
        d.fields.some((f) => JSON.stringify(f.live).includes('by-hand-2')),
      );
    });
    // Back to Git's value by hand: the episode closes; a new edit opens the next one.
    await editByHand('v3');
    await waitFor('the drift closed on the hub', async () => {
      const drift = await api.get<{ items: unknown[] }>('/api/v1/drift?cluster=test&state=open');
      return drift.items.length === 0;
    });
    await editByHand('by-hand-3');
    await waitFor(
      'a second drift message',
      () => slack().filter((m) => m.includes('Drift detected')).length >= 2,
    );
    assert.equal(slack().filter((m) => m.includes('Drift detected')).length, 2, 'one per episode');

    const log = await api.get<{ items: Delivery[] }>(
      '/api/v1/notifications/deliveries?destination=team-slack',
    );
    const drift = log.items.filter((d) => d.kind === 'drift.detected');
    const retried = drift[drift.length - 1]!; // newest first: the first episode is last
    assert.equal(retried.status, 'sent');
    assert.deepEqual(
      retried.attempts.map((a) => a.outcome),
      ['failed', 'failed', 'sent'],
    );
    assert.match(retried.attempts[0]!.error, /HTTP 500/);
  });
});
