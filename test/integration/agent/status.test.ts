/**
 * Status that never lies, on a real kube-apiserver and a real Git server: a server answer
 * is classified the same in apply as elsewhere and retried per app, one app's failure
 * holds up no other, a broken or empty driftless.yaml changes nothing and says so, progress
 * shows during a sync, and a stop mid-sync is not a failure. Server failures are injected
 * by a validating admission webhook the apiserver calls (status-webhook.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { trace } from '@opentelemetry/api';
import { createLogger } from '@driftless/common';
import {
  Agent,
  ApprovalBook,
  EventReporter,
  FanoutReporter,
  GitSource,
  InventoryStore,
  KubeClient,
  type AppStatusReport,
  type ConfigStatusReport,
  type KubeObject,
  type Reporter,
  type SyncReport,
} from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import { startFailingWebhook, type FailingWebhook } from './status-webhook.ts';

const BIN = path.resolve(import.meta.dirname, '../../../agent/bin/driftless-agent.ts');
const STATE = 'driftless-system';
const NAMESPACES = ['steady', 'flaky', 'doomed'];

/** Records every report, in order. */
class Recorder implements Reporter {
  statuses: AppStatusReport[] = [];
  syncs: SyncReport[] = [];
  configs: ConfigStatusReport[] = [];
  appStatus(r: AppStatusReport): void {
    this.statuses.push(r);
  }
  syncResult(r: SyncReport): void {
    this.syncs.push(r);
  }
  drift(): void {}
  configStatus(r: ConfigStatusReport): void {
    this.configs.push(r);
  }
  syncsOf(app: string): SyncReport[] {
    return this.syncs.filter((s) => s.app === app);
  }
  status(app: string): AppStatusReport | undefined {
    return this.statuses.filter((s) => s.app === app).at(-1);
  }
}

const cm = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
const app = (name: string, more = '') =>
  `    - name: ${name}\n      path: apps/${name}\n      namespace: ${name}\n      prune: true\n${more}`;
const clusterYaml = (apps: string, spec = '') =>
  `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n${spec}  apps:${apps ? `\n${apps}` : ' []\n'}`;
const ALL_APPS = app('steady') + app('flaky') + app('doomed');

/** Resolves once `condition` holds, polling every 50 ms; fails naming `what` after 30 s. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  await waitFor(what, condition, { timeoutMs: 30_000, everyMs: 50 });
}

describe('status that never lies, on a real cluster', () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let client: KubeClient;
  let webhook: FailingWebhook;
  let recorder: Recorder;
  let agent: Agent;
  let workDir: string;
  let logger: ReturnType<typeof createLogger>;
  let inventory: InventoryStore;

  /** An in-process agent on the real cluster (its loop not started), reporting to `recorder`. */
  const newAgent = () =>
    new Agent({
      cluster: 'test',
      client,
      source: new GitSource({
        url: repo.url,
        branch: 'main',
        dir: workDir,
        auth: git.credentials,
        logger,
      }),
      clusterPath: 'clusters/test',
      inventory,
      reporter: new FanoutReporter(
        recorder,
        new EventReporter({ client, cluster: 'test', namespace: STATE, logger }),
      ),
      approvals: new ApprovalBook(),
      tracer: trace.getTracer('status-test'),
      logger,
      pollIntervalMs: 3_600_000,
      retryInitialMs: 300,
      retryMaxMs: 2000,
    });

  const value = async (namespace: string, name: string) =>
    (
      (await client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name }))?.['data'] as
        { value?: string } | undefined
    )?.value;
  const events = async (reason: string) =>
    (await client.list('events.k8s.io/v1', 'Event', { namespace: STATE })).items.filter(
      (e: KubeObject) => e['reason'] === reason,
    );

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    for (const name of NAMESPACES)
      await client.apply(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
        { fieldManager: 'test' },
      );
    webhook = await startFailingWebhook(client, NAMESPACES);
    repo = await git.createRepo('fleet');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(ALL_APPS),
        'apps/steady/cm.yaml': cm('steady', 'v1'),
        'apps/flaky/cm.yaml': cm('flaky', 'v1'),
        'apps/flaky/extra.yaml': cm('flaky-extra', 'v1'),
        'apps/doomed/cm.yaml': cm('doomed', 'v1'),
      },
      'fleet',
    );
    workDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-status-'));
    logger = createLogger({ name: 'status-test', level: process.env['LOG_LEVEL'] ?? 'silent' });
    inventory = new InventoryStore(client, STATE);
    await inventory.ensureNamespace();
    recorder = new Recorder();
    agent = newAgent();
  });
  after(async () => {
    await agent?.stop();
    await webhook?.stop();
    client?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('retries an apply the server answers 503, then 409, with backoff by itself, while the other apps sync', async () => {
    webhook.plan('CREATE', 'flaky/flaky', { code: 503, message: 'etcd is busy' });
    webhook.plan('CREATE', 'flaky/flaky', { code: 409, message: 'conflict' });
    agent.start();
    await until(
      () => recorder.syncsOf('flaky').some((s) => s.outcome === 'succeeded'),
      'flaky to sync after its retries',
    );
    const flaky = recorder.syncsOf('flaky');
    assert.deepEqual(
      webhook.seen.filter((w) => w.endsWith('flaky/flaky')).length,
      3,
      webhook.seen.join(', '),
    );
    assert.deepEqual(
      flaky.map((s) => [s.outcome, s.retryable]),
      [
        ['failed', true],
        ['failed', true],
        ['succeeded', false],
      ],
    );
    assert.match(flaky[0]?.error ?? '', /503/);
    assert.match(flaky[1]?.error ?? '', /409/);
    assert.ok(
      recorder.statuses.some(
        (s) => s.app === 'flaky' && /retrying in .+ \(attempt 2\)/.test(s.message),
      ),
      'the status says when it retries',
    );
    assert.equal(recorder.syncsOf('steady')[0]?.outcome, 'succeeded', 'steady synced at once');
    assert.equal(await value('flaky', 'flaky'), 'v1');
    await agent.stop();
  });

  it('shows Syncing with the current step while a sync runs, and the result when it ends', async () => {
    agent = newAgent();
    webhook.plan('UPDATE', 'steady', 'hold');
    const rev = await repo.commit({ 'apps/steady/cm.yaml': cm('steady', 'v2') }, 'steady v2');
    const pass = agent.reconcileOnce();
    await until(() => webhook.held === 1, 'the apply of steady to reach the apiserver');
    const during = recorder.status('steady');
    assert.equal(during?.syncStatus, 'Syncing');
    assert.equal(during?.revision, rev);
    assert.equal(during?.message, `syncing ${rev.slice(0, 7)}: apply`);
    webhook.release();
    await pass;
    assert.equal(recorder.status('steady')?.syncStatus, 'Synced');
    assert.equal(await value('steady', 'steady'), 'v2');
  });

  it('fails only the app whose prune fails; the other apps sync in the same pass', async () => {
    webhook.plan('DELETE', 'flaky', { code: 500, message: 'webhook down' });
    await repo.commit(
      { 'apps/flaky/extra.yaml': null, 'apps/steady/cm.yaml': cm('steady', 'v3') },
      'flaky drops extra; steady v3',
    );
    assert.equal(await agent.reconcileOnce(), false);
    const flaky = recorder.syncsOf('flaky').at(-1);
    assert.equal(flaky?.outcome, 'failed');
    assert.equal(flaky?.retryable, true, 'a 500 in prune is transient, as everywhere');
    assert.equal(agent.outcomeOf('flaky')?.kind, 'retry');
    assert.equal(recorder.syncsOf('steady').at(-1)?.outcome, 'succeeded');
    assert.equal(await value('steady', 'steady'), 'v3');
    assert.equal(await value('flaky', 'flaky-extra'), 'v1', 'the failed delete left it');
    assert.equal(await agent.reconcileOnce(), true, 'the next attempt prunes it');
    assert.equal(await value('flaky', 'flaky-extra'), undefined);
  });

  it('removes an app that left Git on its own: its failing prune holds up no other app', async () => {
    webhook.plan('DELETE', 'doomed', { code: 503, message: 'busy' });
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('steady') + app('flaky')),
        'apps/steady/cm.yaml': cm('steady', 'v4'),
      },
      'drop doomed; steady v4',
    );
    assert.equal(await agent.reconcileOnce(), false, 'the failed removal is retried');
    assert.equal(recorder.syncsOf('steady').at(-1)?.outcome, 'succeeded');
    assert.equal(await value('steady', 'steady'), 'v4');
    assert.equal(await value('doomed', 'doomed'), 'v1');
    assert.equal(await agent.reconcileOnce(), true);
    assert.equal(await value('doomed', 'doomed'), undefined, 'pruned on the retry');
  });

  it('a typo in driftless.yaml: config failed with file:line, apps stay, nothing succeeds at that commit', async () => {
    const good = await repo.head();
    const syncs = recorder.syncs.length;
    const broken = await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(
          app('steady', '      selfheal: true\n') + app('flaky'),
        ),
        'apps/steady/cm.yaml': cm('steady', 'v5'),
      },
      'typo',
    );
    assert.equal(await agent.reconcileOnce(), false);
    const config = recorder.configs.at(-1);
    assert.equal(config?.valid, false);
    assert.equal(config?.revision, broken);
    assert.equal(config?.appliedRevision, good);
    assert.equal(config?.line, 9);
    assert.match(
      config?.error ?? '',
      /^clusters\/test\/driftless\.yaml:9:\d+: spec\.apps\[0\]\.selfheal: unknown field/,
    );
    assert.deepEqual(
      recorder.syncs.slice(syncs),
      [],
      'no sync at the broken commit, so none succeeded',
    );
    assert.equal(
      await value('steady', 'steady'),
      'v4',
      'the change in the broken commit is not applied',
    );
    assert.equal(recorder.status('steady')?.syncStatus, 'Synced');
    assert.match(
      recorder.status('steady')?.message ?? '',
      /running the driftless\.yaml of .+ is invalid/,
    );
    await until(async () => (await events('ConfigInvalid')).length > 0, 'a ConfigInvalid Event');
    const [event] = await events('ConfigInvalid');
    assert.equal(event?.['type'], 'Warning');
    assert.equal(
      (await events('Synced')).filter((e) => String(e['note']).includes(broken.slice(0, 7))).length,
      0,
    );
    await repo.commit(
      { 'clusters/test/driftless.yaml': clusterYaml(app('steady') + app('flaky')) },
      'fix',
    );
    assert.equal(await agent.reconcileOnce(), true);
    assert.equal(recorder.configs.at(-1)?.valid, true);
    assert.equal(await value('steady', 'steady'), 'v5');
  });

  it('refuses apps: [] and prunes nothing; spec.allowEmpty lets it through', async () => {
    await repo.commit(
      { 'clusters/test/driftless.yaml': clusterYaml('', '  allowEmpty: true\n') },
      'no apps, on purpose',
    );
    assert.equal(await agent.reconcileOnce(), true);
    assert.equal(recorder.configs.at(-1)?.valid, true);
    assert.equal(
      await value('steady', 'steady'),
      undefined,
      'allowed: the apps left Git and were pruned',
    );
    await repo.commit(
      { 'clusters/test/driftless.yaml': clusterYaml(app('steady') + app('flaky')) },
      'back',
    );
    assert.equal(await agent.reconcileOnce(), true);
    assert.equal(await value('steady', 'steady'), 'v5');
  });

  it('refuses a config that renames every app, also for an agent that just started, and prunes nothing', async () => {
    const renamed = await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('doomed')),
        'apps/doomed/cm.yaml': cm('doomed', 'd1'),
      },
      'every app renamed',
    );
    assert.equal(await agent.reconcileOnce(), false);
    const refused = recorder.configs.at(-1);
    assert.equal(refused?.valid, false);
    assert.equal(refused?.revision, renamed);
    assert.match(refused?.error ?? '', /spec\.apps: removes every app in force .*: steady, flaky;/);
    assert.equal(await value('steady', 'steady'), 'v5', 'nothing of steady was pruned');
    assert.equal(await value('doomed', 'doomed'), undefined, 'nothing of the new config ran');
    // An agent that never read a good config knows the apps in force from their inventories.
    const fresh = newAgent();
    assert.equal(await fresh.reconcileOnce(), false);
    assert.match(recorder.configs.at(-1)?.error ?? '', /removes every app in force: .*steady/);
    assert.equal(await value('steady', 'steady'), 'v5');

    // driftless.yaml deleted: one short message, no path of the agent's own work directory.
    const deleted = await repo.commit({ 'clusters/test/driftless.yaml': null }, 'config gone');
    assert.equal(await agent.reconcileOnce(), false);
    assert.equal(
      recorder.configs.at(-1)?.error,
      `clusters/test/driftless.yaml not found at ${deleted.slice(0, 7)}`,
    );
    assert.doesNotMatch(JSON.stringify(recorder.statuses.slice(-5)), new RegExp(workDir));

    await repo.commit(
      { 'clusters/test/driftless.yaml': clusterYaml(app('steady') + app('flaky')) },
      'back again',
    );
    assert.equal(await agent.reconcileOnce(), true);
    assert.equal(recorder.configs.at(-1)?.valid, true);
    assert.deepEqual(recorder.configs.at(-1)?.apps, ['steady', 'flaky']);
    assert.doesNotMatch(recorder.status('steady')?.message ?? '', /running the driftless\.yaml/);
  });

  it('a SIGTERM mid-sync reports no failure and no SyncFailed Event, and the next start resumes it', async () => {
    await agent.stop();
    const failedBefore = (await events('SyncFailed')).length;
    webhook.plan('UPDATE', 'steady', 'hold');
    const rev = await repo.commit({ 'apps/steady/cm.yaml': cm('steady', 'v6') }, 'steady v6');
    const first = startAgent();
    await until(() => webhook.held === 1, 'the agent process to be mid-apply').catch(
      (err: unknown) => {
        throw new Error(
          `${String(err)}; agent log: ${first.stderr()}; webhook saw ${webhook.seen.join(', ')}`,
        );
      },
    );
    first.child.kill('SIGTERM');
    const code = await first.exited;
    webhook.release();
    assert.equal(code, 0, first.stderr());
    assert.doesNotMatch(first.stderr(), /"outcome":"failed"|sync steady failed/);
    assert.equal((await events('SyncFailed')).length, failedBefore, 'no SyncFailed Event');
    const second = startAgent();
    try {
      await until(
        async () => (await value('steady', 'steady')) === 'v6',
        'the restarted agent to apply v6',
      );
      await until(
        async () =>
          (await events('Synced')).some((e) => String(e['note']).includes(rev.slice(0, 7))),
        'a Synced Event at the commit',
      );
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    assert.equal((await events('SyncFailed')).length, failedBefore);
  });

  /** `driftless-agent run` as a separate process, standalone (logs and Events), as in production. */
  function startAgent(): {
    child: ChildProcess;
    exited: Promise<number | null>;
    stderr: () => string;
  } {
    const child = spawn(process.execPath, [BIN, 'run'], {
      env: {
        ...process.env,
        DRIFTLESS_REPO_URL: repo.url,
        DRIFTLESS_CLUSTER_NAME: 'test',
        DRIFTLESS_GIT_USERNAME: git.credentials.username,
        DRIFTLESS_GIT_PASSWORD: git.credentials.password,
        DRIFTLESS_KUBECONFIG: cluster.kubeconfigPath,
        DRIFTLESS_WORK_DIR: workDir,
        DRIFTLESS_POLL_INTERVAL: '1h',
        DRIFTLESS_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    return { child, exited, stderr: () => stderr };
  }
});
