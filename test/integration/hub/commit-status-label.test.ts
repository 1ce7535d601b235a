/**
 * Git commit statuses per environment label, end to end on GitLab's API: the real hub started
 * with `--commit-status-label env`, a real agent of a cluster labelled `env=prod` on a real
 * kube-apiserver and Git server, and an HTTP receiver that checks GitLab's documented request
 * (URL-encoded nested project path, PRIVATE-TOKEN, `name`, GitLab's state names). A good commit
 * shows `running` and then `success` in the context `driftless/env:prod`, linking the fleet page
 * filtered by the label; a refused apply shows `failed` with the message.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '@driftless/agent';
import {
  createEnrollmentToken,
  hubApi,
  LOOPBACK_DESTINATIONS,
  startAgent,
  startCluster,
  startGitHostReceiver,
  startGitServer,
  startHub,
  waitFor,
  type AgentProcess,
  type Cluster,
  type GitHostReceiver,
  type GitRepo,
  type GitServer,
  type Hub,
} from '@driftless/test';
import { startFailingWebhook, type FailingWebhook } from '../agent/status-webhook.ts';

const TOKEN = `glpat-${randomBytes(10).toString('hex')}`;
const CONTEXT = 'driftless/env:prod';
const PUBLIC = 'https://driftless.example.com';

const cm = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  value: "${value}"\n`;
const config = `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n    - name: web\n      path: apps/web\n      namespace: web\n`;

describe('Git commit statuses per environment label, on GitLab', () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let hub: Hub;
  let agent: AgentProcess;
  let client: KubeClient;
  let webhook: FailingWebhook;
  let gitlab: GitHostReceiver;

  const received = (sha: string) =>
    gitlab.statuses.filter((s) => s.sha === sha && s.context === CONTEXT);
  const reached = (sha: string, state: string) =>
    waitFor(`GitLab to receive ${state} for ${sha.slice(0, 7)}`, () =>
      received(sha).find((s) => s.state === state),
    );

  before(async () => {
    [cluster, git, hub, gitlab] = await Promise.all([
      startCluster(),
      startGitServer(),
      startHub({
        args: ['--commit-status-label', 'env', '--public-url', PUBLIC],
        allowPrivateDestinations: LOOPBACK_DESTINATIONS,
      }),
      startGitHostReceiver({ kind: 'gitlab', token: TOKEN, repos: ['platform/team/fleet'] }),
    ]);
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    await client.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } },
      { fieldManager: 'test' },
    );
    webhook = await startFailingWebhook(client, ['web']);
    repo = await git.createRepo('platform/team/fleet');
    const res = await hubApi(hub).request('PUT', '/api/v1/commit-status/hosts/gitlab', {
      kind: 'gitlab',
      match: new URL(repo.url).host,
      apiUrl: gitlab.apiUrl,
      token: TOKEN,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await repo.commit(
      { 'clusters/prod-eu/driftless.yaml': config, 'apps/web/cm.yaml': cm('v1') },
      'fleet',
    );
    agent = startAgent({
      cluster,
      clusterName: 'prod-eu',
      repoUrl: repo.url,
      gitCredentials: git.credentials,
      hub,
      token: await createEnrollmentToken(hub, 'prod-eu', { env: 'prod' }),
      pollInterval: '1s',
    });
  });
  after(async () => {
    await agent?.stop();
    await webhook?.stop();
    client?.close();
    await Promise.all([hub?.stop(), cluster?.stop(), git?.stop(), gitlab?.stop()]);
  });

  it('posts running then success in the label context, linking the filtered fleet page', async () => {
    await reached(await repo.head(), 'success');
    webhook.plan('UPDATE', 'web/web', 'hold');
    const rev = await repo.commit({ 'apps/web/cm.yaml': cm('v2') }, 'v2');
    await waitFor('the apply of web to reach the apiserver', () => webhook.held === 1);
    const running = await reached(rev, 'running');
    webhook.release();
    const success = await reached(rev, 'success');
    assert.deepEqual(
      received(rev).map((s) => s.state),
      ['running', 'success'],
    );
    for (const s of [running, success]) {
      assert.equal(s.repo, 'platform/team/fleet');
      assert.equal(s.targetUrl, `${PUBLIC}/#/?selector=env%3Dprod`);
    }
    assert.deepEqual(
      gitlab.requests.filter((r) => r.refusal !== ''),
      [],
      'every request as GitLab documents it',
    );
    assert.ok(gitlab.requests.every((r) => r.auth === TOKEN));
  });

  it('posts failed with the message when the apiserver refuses the apply', async () => {
    webhook.plan('UPDATE', 'web/web', { code: 403, message: 'policy forbids value v3' });
    const rev = await repo.commit({ 'apps/web/cm.yaml': cm('v3') }, 'v3');
    const failed = await reached(rev, 'failed');
    assert.match(failed.description, /^web failed: .*policy forbids value v3/);
  });
});
