/**
 * The agent's live object tree on a real cluster with workloads (controller-manager, scheduler,
 * kwok): a Deployment's ReplicaSet and Pods and a Job's Pod hang under the app's managed
 * objects with their health and Events; an unknown app, the deadline and the size bounds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '@driftless/common';
import {
  InventoryStore,
  toTreeResponse,
  TreeReader,
  TreeTimeoutError,
  UnknownAppError,
  type AppTree,
  type KubeClient,
} from '@driftless/agent';
import { TreeResponse } from '@driftless/proto';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitServer,
} from '@driftless/test';
import { clusterYaml, deployment, makeAgent, type TestAgent } from './fleet.ts';

const STATE = 'driftless-tree';

const JOB = `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: registry.local/migrate:1.0
`;

/** A clock whose timers fire when `fire()` is called (or at once, with `immediate`). */
function triggerClock(immediate = false): Clock & { fire(): void } {
  const waiting: (() => void)[] = [];
  return {
    now: () => Date.now(),
    sleep: (_ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (immediate) return resolve();
        waiting.push(resolve);
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      }),
    fire: () => {
      for (const w of waiting.splice(0)) w();
    },
  };
}

describe('the live object tree of an app', () => {
  let cluster: Cluster;
  let git: GitServer;
  let t: TestAgent;
  let inventory: InventoryStore;
  const reader = (client: KubeClient, clock?: Clock) =>
    new TreeReader({
      cluster: 'test',
      client,
      inventory: (app) => inventory.load(app),
      appRules: (app) => t.agent.appSpec(app)?.health,
      ...(clock ? { clock } : {}),
    });
  const byKind = (tree: AppTree, kind: string) => tree.nodes.filter((n) => n.ref.kind === kind);

  before(async () => {
    [cluster, git] = await Promise.all([startCluster({ workloads: true }), startGitServer()]);
    const repo = await git.createRepo('tree-fleet');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(`
    - name: shop
      path: apps/shop
      namespace: shop
      createNamespace: true
      healthTimeout: 30s
`),
        'apps/shop/web.yaml': deployment('web', 2),
        'apps/shop/job.yaml': JOB,
        'apps/shop/config.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: prod\n',
      },
      'shop',
    );
    t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo, stateNamespace: STATE });
    inventory = new InventoryStore(t.client, STATE);
    await t.agent.reconcileOnce();
  });
  after(async () => {
    await t?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  it("shows the Deployment's ReplicaSet and Pods and the Job's Pod, with health and Events", async () => {
    const tree = await waitFor(
      'the tree with two Healthy Pods under the ReplicaSet and a Pod under the Job',
      async () => {
        const got = await reader(t.client).read('shop');
        const pods = byKind(got, 'Pod');
        return pods.length === 3 && pods.filter((p) => p.health.status === 'Healthy').length >= 2
          ? got
          : undefined;
      },
      { timeoutMs: 60_000, everyMs: 500 },
    );
    assert.equal(tree.partial, false);
    assert.equal(tree.truncated, false);
    const web = byKind(tree, 'Deployment')[0];
    assert.ok(web?.managed, 'the Deployment is a managed root');
    assert.equal(web.parentUid, '');
    assert.equal(web.health.status, 'Healthy', web.health.message);
    const rs = byKind(tree, 'ReplicaSet');
    assert.equal(rs.length, 1);
    assert.equal(rs[0]!.parentUid, web.uid, 'the ReplicaSet hangs under the Deployment');
    assert.equal(rs[0]!.managed, false);
    assert.equal(rs[0]!.health.status, 'Healthy', rs[0]!.health.message);
    const webPods = tree.nodes.filter((n) => n.ref.kind === 'Pod' && n.parentUid === rs[0]!.uid);
    assert.equal(webPods.length, 2, 'both Pods hang under the ReplicaSet');
    for (const p of webPods) assert.equal(p.health.status, 'Healthy', p.health.message);
    const job = byKind(tree, 'Job')[0];
    assert.ok(job?.managed);
    const jobPods = tree.nodes.filter((n) => n.ref.kind === 'Pod' && n.parentUid === job.uid);
    assert.equal(jobPods.length, 1, "the Job's Pod hangs under the Job");
    assert.ok(byKind(tree, 'ConfigMap')[0]?.managed);
    // Parents come before their children.
    const index = new Map(tree.nodes.map((n, i) => [n.uid, i]));
    for (const [i, n] of tree.nodes.entries())
      if (n.parentUid)
        assert.ok((index.get(n.parentUid) ?? Infinity) < i, `${n.ref.name} after its parent`);
    // The deployment controller records scaling the ReplicaSet as an Event on the Deployment.
    assert.ok(
      web.events.some((e) => e.reason === 'ScalingReplicaSet' && e.source !== ''),
      `Deployment events: ${JSON.stringify(web.events)}`,
    );
  });

  it('refuses an app the cluster does not know', async () => {
    await assert.rejects(reader(t.client).read('nope'), (err: unknown) => {
      assert.ok(err instanceof UnknownAppError);
      assert.match(err.message, /app nope: not an app of cluster test/);
      return true;
    });
  });

  it('names the timeout when the deadline passes before anything was read', async () => {
    await assert.rejects(
      reader(t.client, triggerClock(true)).read('shop', { deadlineMs: 50 }),
      (err: unknown) => {
        assert.ok(err instanceof TreeTimeoutError);
        assert.match(err.message, /nothing read within the deadline of 50 ms/);
        return true;
      },
    );
  });

  it('answers with the managed objects, marked partial, when the deadline passes while children are read', async () => {
    const clock = triggerClock();
    // The deadline passes as the first list call (for children) starts.
    const client = new Proxy(t.client, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const fn = value as (...a: unknown[]) => unknown;
        if (prop !== 'list') return fn.bind(target);
        return async (...args: unknown[]) => {
          clock.fire();
          await new Promise((resolve) => setImmediate(resolve));
          return fn.apply(target, args);
        };
      },
    });
    const tree = await reader(client, clock).read('shop');
    assert.equal(tree.partial, true);
    assert.match(tree.notes.join(' '), /deadline of 5000 ms passed before the tree was read whole/);
    const kinds = new Set(tree.nodes.map((n) => n.ref.kind));
    for (const k of ['ConfigMap', 'Deployment', 'Job']) assert.ok(kinds.has(k), `${k} is there`);
    assert.ok(
      tree.nodes.every((n) => n.managed),
      'only the managed objects, no children',
    );
    assert.equal(byKind(tree, 'Deployment')[0]?.health.status, 'Healthy');
  });

  it('bounds nodes, Events per node and bytes, and says what it left out', async () => {
    const all = await reader(t.client).read('shop');
    const few = await reader(t.client).read('shop', { maxNodes: 3, maxEventsPerNode: 1 });
    assert.equal(few.nodes.length, 3);
    assert.equal(few.truncated, true);
    assert.ok(
      few.nodes.every((n) => n.managed),
      'managed objects come first',
    );
    assert.match(
      few.notes.join('; '),
      new RegExp(`${all.nodes.length - 3} of ${all.nodes.length} nodes left out \\(limit 3\\)`),
    );
    assert.ok(few.nodes.every((n) => n.events.length <= 1));

    const small = toTreeResponse('r1', all, 2500);
    assert.ok(TreeResponse.encode(small).finish().length <= 2500);
    assert.ok(small.nodes.length < all.nodes.length);
    assert.equal(small.truncated, true);
    assert.match(small.note, /nodes left out to stay within 2500 bytes/);
  });
});
