/**
 * The agent process killed (SIGKILL) in the middle of an apply, then
 * restarted: it must converge with nothing orphaned (every object it created
 * is in its inventory and in Git) and nothing wrongly deleted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InventoryStore, KubeClient } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import { clusterYaml } from './fleet.ts';

const BIN = path.resolve(import.meta.dirname, '../../../agent/bin/driftless-agent.ts');
const COUNT = 300;

function configMaps(from: number, to: number): string {
  const docs: string[] = [];
  for (let i = from; i < to; i++) {
    docs.push(
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: item-${i}\ndata:\n  index: "${i}"\n`,
    );
  }
  return docs.join('---\n');
}

describe('agent killed mid-apply', () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let client: KubeClient;
  let workDir: string;
  const children = new Set<ChildProcess>();

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    repo = await git.createRepo('fleet');
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-crash-'));
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    client?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  /** Starts `driftless-agent run` as a separate process, as in production. */
  function startAgent(): ChildProcess {
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
        DRIFTLESS_APPLY_CONCURRENCY: '2',
        DRIFTLESS_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.add(child);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (code) process.stderr.write(`agent exited ${code}: ${stderr}\n`);
      void signal;
    });
    return child;
  }

  const labelled = async () =>
    (
      await client.list('v1', 'ConfigMap', {
        namespace: 'bulk',
        labelSelector: 'driftless.dev/app=bulk',
      })
    ).items
      .map((o) => o.metadata.name)
      .sort();

  it('converges after a restart with nothing orphaned and nothing wrongly deleted', async () => {
    // Revision 1: a namespace, a ConfigMap that revision 2 removes, and a few items.
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(
          '    - name: bulk\n      path: apps/bulk\n      namespace: bulk\n      prune: true\n',
        ),
        'apps/bulk/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bulk\n',
        'apps/bulk/old.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: retired\ndata: { a: "1" }\n',
        'apps/bulk/items.yaml': configMaps(0, 5),
      },
      'revision 1',
    );
    let agent = startAgent();
    await waitFor(
      'revision 1 applied',
      async () => ((await labelled()).length === 6 ? true : undefined),
      { timeoutMs: 90_000, everyMs: 200 },
    );
    await client.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'bystander', namespace: 'bulk' },
        data: { x: 'y' },
      },
      { fieldManager: 'someone-else' },
    );
    agent.kill('SIGKILL');

    // Revision 2: 300 items, `retired` gone. Kill the agent while it applies them.
    await repo.commit(
      { 'apps/bulk/old.yaml': null, 'apps/bulk/items.yaml': configMaps(0, COUNT) },
      'revision 2',
    );
    agent = startAgent();
    const seenAtKill = await waitFor(
      'the apply to be under way',
      async () => {
        const n = (await labelled()).length;
        return n > 20 && n < COUNT ? n : undefined;
      },
      { timeoutMs: 90_000, everyMs: 50 },
    );
    agent.kill('SIGKILL');
    await new Promise((r) => agent.once('exit', r));
    assert.ok(seenAtKill < COUNT + 1, `killed with ${seenAtKill} objects present`);

    // Whatever exists now is either in Git or tracked by the inventory: nothing is orphaned.
    const inventory = new InventoryStore(client, 'driftless-system');
    const mid = await inventory.load('bulk');
    const tracked = new Set(mid?.objects.map((r) => r.name));
    for (const name of await labelled())
      assert.ok(tracked.has(name), `${name} exists but is not in the inventory`);

    // Restart: converges to exactly revision 2.
    agent = startAgent();
    const expected = [...Array.from({ length: COUNT }, (_, i) => `item-${i}`)].sort();
    await waitFor(
      'convergence',
      async () => {
        const names = await labelled();
        return names.length === COUNT && !names.includes('retired') ? true : undefined;
      },
      { timeoutMs: 120_000, everyMs: 250 },
    );
    assert.deepEqual(await labelled(), expected);
    const done = await waitFor(
      'the inventory to settle',
      async () => {
        const rec = await inventory.load('bulk');
        return rec && rec.revision === (await repo.head()) ? rec : undefined;
      },
      { timeoutMs: 90_000, everyMs: 50 },
    );
    assert.deepEqual(
      done.objects
        .filter((r) => r.kind === 'ConfigMap')
        .map((r) => r.name)
        .sort(),
      expected,
    );
    assert.ok(
      await client.get({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: 'bulk',
        name: 'bystander',
      }),
      'an object the agent did not create is untouched',
    );
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  });
});
