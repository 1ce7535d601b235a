/**
 * Git commit statuses end to end: a real kube-apiserver, a real Git server, the real
 * `driftless-hub` and a real `driftless-agent run`, and an HTTP receiver that checks GitHub's
 * documented commit-status request. A good commit shows pending while the agent applies it
 * and success once synced and healthy; a broken commit shows failure with the agent's
 * message; a commit replaced before it was applied shows which commit superseded it; a host
 * answering 500 is retried; the host token shows in no log and no API answer.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  type HubApi,
} from '@driftless/test';
import { runCli } from '../../../hub/src/cli/index.ts';
import { startFailingWebhook, type FailingWebhook } from '../agent/status-webhook.ts';

const TOKEN = `ghp_${randomBytes(12).toString('hex')}`;
const CONTEXT = 'driftless/prod-eu';
const DASHBOARD = 'https://driftless.example.com';

const cm = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  value: "${value}"\n`;
const config = (sync = 'auto') =>
  `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n    - name: web\n      path: apps/web\n      namespace: web\n      prune: true\n      sync: ${sync}\n`;
const leak =
  'apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  password: hunter2\n';

interface Post {
  id: number;
  sha: string;
  context: string;
  state: string;
  result: string;
  httpStatus: number;
  error: string;
}

describe('Git commit statuses from a real agent', () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let hub: Hub;
  let api: HubApi;
  let agent: AgentProcess;
  let client: KubeClient;
  let webhook: FailingWebhook;
  let github: GitHostReceiver;

  /** Statuses GitHub received for `sha` in our context, oldest first. */
  const received = (sha: string) =>
    github.statuses.filter((s) => s.sha === sha && s.context === CONTEXT);
  const reached = (sha: string, state: string, description?: string) =>
    waitFor(`GitHub to receive ${state} for ${sha.slice(0, 7)}`, () =>
      received(sha).find(
        (s) => s.state === state && (description === undefined || s.description === description),
      ),
    );

  before(async () => {
    [cluster, git, hub, github] = await Promise.all([
      startCluster(),
      startGitServer(),
      startHub({
        args: ['--public-url', DASHBOARD],
        allowPrivateDestinations: LOOPBACK_DESTINATIONS,
      }),
      startGitHostReceiver({ kind: 'github', token: TOKEN, repos: ['acme/fleet'] }),
    ]);
    api = hubApi(hub);
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    await client.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } },
      { fieldManager: 'test' },
    );
    webhook = await startFailingWebhook(client, ['web']);
    repo = await git.createRepo('acme/fleet');
    const created = await api.request('PUT', '/api/v1/commit-status/hosts/github', {
      kind: 'github',
      match: new URL(repo.url).host,
      apiUrl: github.apiUrl,
      token: TOKEN,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await repo.commit(
      { 'clusters/prod-eu/driftless.yaml': config(), 'apps/web/cm.yaml': cm('v1') },
      'fleet',
    );
    agent = startAgent({
      cluster,
      clusterName: 'prod-eu',
      repoUrl: repo.url,
      gitCredentials: git.credentials,
      hub,
      token: await createEnrollmentToken(hub, 'prod-eu'),
      pollInterval: '1s',
    });
  });
  after(async () => {
    await agent?.stop();
    await webhook?.stop();
    client?.close();
    await Promise.all([hub?.stop(), cluster?.stop(), git?.stop(), github?.stop()]);
  });

  it('posts pending while the agent applies a good commit, then success, linking the cluster page', async () => {
    await reached(await repo.head(), 'success');
    webhook.plan('UPDATE', 'web/web', 'hold');
    const rev = await repo.commit({ 'apps/web/cm.yaml': cm('v2') }, 'web v2');
    await waitFor('the apply of web to reach the apiserver', () => webhook.held === 1);
    const pending = await reached(rev, 'pending');
    assert.equal(received(rev).length, 1, 'nothing but pending while the apply is held');
    webhook.release();
    const success = await reached(rev, 'success');
    assert.deepEqual(
      received(rev).map((s) => s.state),
      ['pending', 'success'],
    );
    assert.equal(success.description, '1 app(s) synced and healthy');
    for (const s of [pending, success])
      assert.equal(s.targetUrl, `${DASHBOARD}/#/clusters/prod-eu`);
    const { items } = await api.get<{ items: { sha: string; state: string; posted: boolean }[] }>(
      `/api/v1/commit-status/statuses?sha=${rev}`,
    );
    assert.deepEqual(
      items.map((s) => [s.state, s.posted]),
      [['success', true]],
    );
  });

  it('posts failure with the message of a broken commit', async () => {
    const broken = await repo.commit({ 'apps/web/leak.yaml': leak }, 'a plaintext secret');
    const failure = await reached(broken, 'failure');
    assert.match(failure.description, /^web failed: .*plaintext Secret web\/leak/);
    assert.ok(failure.description.length <= 140, 'within GitHub’s 140 characters');
    const fixed = await repo.commit({ 'apps/web/leak.yaml': null }, 'remove the secret');
    await reached(fixed, 'success');
    assert.equal(
      received(broken).at(-1)?.state,
      'failure',
      'the broken commit keeps its failure after the fix',
    );
  });

  it('marks a commit replaced before it was applied as superseded, naming the newer commit', async () => {
    const first = await repo.commit(
      { 'clusters/prod-eu/driftless.yaml': config('manual'), 'apps/web/cm.yaml': cm('v3') },
      'manual sync, v3',
    );
    await reached(first, 'pending', 'waiting for approval: web');
    const second = await repo.commit({ 'apps/web/cm.yaml': cm('v4') }, 'v4');
    const superseded = await reached(first, 'error');
    assert.equal(
      superseded.description,
      `superseded by ${second.slice(0, 7)} before it was synced`,
    );
    // Approving the newer commit lands it; the superseded one stays superseded.
    const app = await waitFor('web to wait for approval at the newer commit', async () => {
      const { items } = await api.get<{
        items: { app: string; revision: string; syncStatus: string; planDigest: string }[];
      }>('/api/v1/apps?cluster=prod-eu');
      return items.find(
        (a) => a.app === 'web' && a.revision === second && a.syncStatus === 'out-of-sync',
      );
    });
    await api.post('/api/v1/approvals', {
      cluster: 'prod-eu',
      app: 'web',
      revision: second,
      planDigest: app.planDigest,
    });
    await reached(second, 'success');
    const states = received(first).map((s) => s.state);
    assert.equal(states.at(-1), 'error', 'superseded stays the last word');
    assert.deepEqual(new Set(states.slice(0, -1)), new Set(['pending']));
  });

  it('retries a host answering 500 and shows the failed posts in the API', async () => {
    await api.request('PUT', '/api/v1/commit-status/hosts/github', {
      kind: 'github',
      match: new URL(repo.url).host,
      apiUrl: github.apiUrl,
    });
    const posts = async () =>
      (await api.get<{ items: Post[] }>('/api/v1/commit-status/posts?limit=1000')).items;
    const mark = Math.max(0, ...(await posts()).map((p) => p.id));
    github.failNext(2, 500);
    const rev = await repo.commit(
      { 'clusters/prod-eu/driftless.yaml': config(), 'apps/web/cm.yaml': cm('v5') },
      'auto again, v5',
    );
    await reached(rev, 'success');
    const since = (await posts()).filter((p) => p.id > mark);
    const failed = since.filter((p) => p.result === 'failed');
    assert.equal(failed.length, 2, JSON.stringify(since));
    for (const p of failed) {
      assert.equal(p.httpStatus, 500);
      assert.match(p.error, /HTTP 500/);
    }
    assert.ok(since.some((p) => p.sha === rev && p.result === 'posted' && p.httpStatus === 201));
  });

  it('never shows the host token in a log or an API answer, and refuses a new host without one', async () => {
    const answers = await Promise.all(
      [
        '/api/v1/commit-status/hosts',
        '/api/v1/commit-status/hosts/github',
        '/api/v1/commit-status/statuses',
        '/api/v1/commit-status/posts',
        '/api/v1/audit',
      ].map((p) => api.request('GET', p)),
    );
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.ok(!JSON.stringify(a.body).includes(TOKEN), 'no token in the answer');
    }
    const hosts = answers[0]!.body as { items: { name: string; tokenSet: boolean }[] };
    assert.deepEqual(
      hosts.items.map((h) => [h.name, h.tokenSet]),
      [['github', true]],
    );
    assert.ok(
      !readFileSync(hub.process.logPath, 'utf8').includes(TOKEN),
      'no token in the hub log',
    );
    assert.ok(github.requests.every((r) => r.auth === `Bearer ${TOKEN}`));
    const refused = await api.request('PUT', '/api/v1/commit-status/hosts/gitlab', {
      kind: 'gitlab',
      match: 'gitlab.example.com',
    });
    assert.equal(refused.status, 400);
    assert.match(JSON.stringify(refused.body), /a new host needs a token/);
    // The stored token goes only where it was given for: a new API root needs it again.
    const moved = await api.request<{ error: { message: string } }>(
      'PUT',
      '/api/v1/commit-status/hosts/github',
      { kind: 'github', match: new URL(repo.url).host, apiUrl: 'https://api.elsewhere.example' },
    );
    assert.equal(moved.status, 400, JSON.stringify(moved.body));
    assert.equal(
      moved.body.error.message,
      'commit-status host github: a new apiUrl needs the token again (the stored token is sent only to the API root it was given for)',
    );
    const kept = await api.get<{ apiUrl: string }>('/api/v1/commit-status/hosts/github');
    assert.equal(kept.apiUrl, github.apiUrl);
    const viewer = await api.post<{ token: string }>('/api/v1/api-tokens', {
      name: 'viewer',
      role: 'viewer',
    });
    const forbidden = await hubApi(hub, viewer.token).request('GET', '/api/v1/commit-status/hosts');
    assert.equal(forbidden.status, 403);
  });

  it('manages hosts with the CLI, reading the token from a file and never printing it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'driftless-cli-'));
    const secret = `gitea_${randomBytes(12).toString('hex')}`;
    writeFileSync(join(dir, 'token'), secret + '\n', { mode: 0o600 });
    const cli = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await runCli(
        ['commit-status', ...args, '--hub', hub.httpUrl, '--token', hub.adminToken],
        { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} },
      );
      return { code, out, err };
    };
    try {
      const set = await cli(
        'host',
        'set',
        'gitea',
        '--kind',
        'gitea',
        '--match',
        'gitea.example.com',
        '--host-token-file',
        join(dir, 'token'),
      );
      assert.equal(set.code, 0, set.err);
      assert.match(
        set.out,
        /statuses for gitea\.example\.com go to https:\/\/gitea\.example\.com\/api\/v1/,
      );
      const list = await cli('host', 'list', '-o', 'json');
      assert.equal(list.code, 0, list.err);
      const hosts = JSON.parse(list.out) as { name: string; tokenSet: boolean }[];
      assert.deepEqual(hosts.find((h) => h.name === 'gitea')?.tokenSet, true);
      const posts = await cli('posts', '--limit', '5');
      assert.equal(posts.code, 0, posts.err);
      assert.match(posts.out, /^AT\s+COMMIT\s+CONTEXT/);
      for (const r of [set, list, posts]) assert.ok(!(r.out + r.err).includes(secret));
      assert.equal((await cli('host', 'delete', 'gitea')).code, 0);
      const missing = await cli('host', 'delete', 'gitea');
      assert.equal(missing.code, 1);
      assert.match(missing.err, /commit-status host gitea: not found/);
      assert.equal((await cli('host', 'set', 'x')).code, 2, 'usage error without --kind');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
