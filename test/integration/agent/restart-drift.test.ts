/**
 * Drift made while the agent was down, found by the agent that starts next, on a real API server
 * and Git server: an app the restart does not write (waiting for an approval in `manual` mode,
 * or `dry-run`) still has its objects watched, so the edit is reported as drift and left alone,
 * even though the head moved by a commit that left the app's render as it was applied.
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
import { clusterYaml, makeAgent, type TestAgent } from './fleet.ts';

const STATE = 'driftless-restart';
const APPS = ['waits', 'dry'] as const;
const namespace = (name: string) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const settings = (value: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'settings' },
    data: { value },
  });
const app = (name: string, mode: string) =>
  `    - name: ${name}\n      path: apps/${name}\n      namespace: ${name}\n      selfHeal: false\n${mode ? `      sync: ${mode}\n` : ''}`;

describe('drift made while the agent was down', () => {
  let cluster: Cluster;
  let git: GitServer;
  let admin: KubeClient;
  let repo: GitRepo;
  let t: TestAgent | undefined;

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    admin = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    repo = await git.createRepo('restart-drift');
  });
  after(async () => {
    await t?.close();
    admin?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  const live = async (ns: string) =>
    (
      (await admin.get({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: ns,
        name: 'settings',
      })) as { data?: { value?: string } } | undefined
    )?.data?.value;

  it('is reported, not written, by an app that waits for an approval or runs dry', async () => {
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(APPS.map((a) => app(a, '')).join('')),
        ...Object.fromEntries(
          APPS.flatMap((a) => [
            [`apps/${a}/ns.yaml`, namespace(a)],
            [`apps/${a}/settings.yaml`, settings('from git')],
          ]),
        ),
      },
      'two apps, synced automatically',
    );
    const first = await makeAgent({
      kubeConfig: cluster.kubeConfig,
      git,
      repo,
      stateNamespace: STATE,
    });
    t = first;
    first.agent.start();
    await waitFor('both apps applied', () =>
      APPS.every((a) => first.recorder.lastSync(a)?.outcome === 'succeeded') ? true : undefined,
    );
    await first.close();
    t = undefined;

    // While no agent runs: a hand edit, and a commit that changes the apps' modes but not what
    // they render.
    for (const a of APPS)
      await admin.apply(
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'settings', namespace: a },
          data: { value: 'edited by hand' },
        },
        { fieldManager: 'kubectl-edit', force: true },
      );
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('waits', 'manual') + app('dry', 'dry-run')),
      },
      'approve by hand; report only',
    );

    const next = await makeAgent({
      kubeConfig: cluster.kubeConfig,
      git,
      repo,
      stateNamespace: STATE,
    });
    t = next;
    next.agent.start();
    await waitFor('the restart planned both apps without writing', () =>
      next.recorder.lastSync('waits')?.outcome === 'waiting-approval' &&
      next.recorder.lastSync('dry')?.outcome === 'planned'
        ? true
        : undefined,
    );
    for (const a of APPS) {
      const drift = await waitFor(`drift of ${a}/settings reported`, () =>
        next.recorder.drifts.find(
          (d) => d.ref.namespace === a && d.ref.name === 'settings' && !d.healed,
        ),
      );
      assert.equal(drift.changedBy, 'kubectl-edit');
      assert.equal(await live(a), 'edited by hand', `${a}: not written back`);
    }
  });
});
