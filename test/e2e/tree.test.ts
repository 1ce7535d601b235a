/**
 * The live object tree of an app, end to end: a real workloads cluster (kube-apiserver,
 * controller-manager, scheduler, kwok), a real Git server, PostgreSQL, a nats-server trusting the
 * hubs' operator, two `driftless-hub` replicas with NATS (A and B) and a third without (C), and
 * two real agents: `east` over gRPC to replica A, `north` over NATS. The hub asks the agent over
 * its own stream; a request made on a replica that does not hold the stream reaches the one that
 * does; any role may read it and each read is audited.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
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
  startPostgres,
  waitFor,
  type AgentProcess,
  type Cluster,
  type GitServer,
  type Hub,
  type NatsServer,
  type PostgresServer,
} from '@driftless/test';

const CLI = resolve(import.meta.dirname, '../../hub/bin/driftless.ts');
const run = promisify(execFile);

const AGENTS = {
  east: { replica: 'a', transport: 'grpc' },
  north: { replica: 'a', transport: 'nats' },
} as const;
type Name = keyof typeof AGENTS;
const NAMES = Object.keys(AGENTS) as Name[];

/** A node as `GET /api/v1/clusters/:name/apps/:app/tree` answers. */
interface Node {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  parentUid: string;
  managed: boolean;
  health: string;
  message: string;
  events: { type: string; reason: string; message: string }[];
}
interface Tree {
  cluster: string;
  app: string;
  partial: boolean;
  truncated: boolean;
  nodes: Node[];
}

const driftlessYaml = (c: Name) => `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: shop
      path: apps/${c}/shop
      namespace: ${c}-shop
      createNamespace: true
      healthTimeout: 30s
`;
const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: main
          image: registry.local/web:1.0
`;
const job = `apiVersion: batch/v1
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

/** Checks what a person looks for: the Deployment's ReplicaSet and Pods, the Job's Pod, health. */
function assertShopTree(tree: Tree, cluster: Name): void {
  assert.equal(tree.cluster, cluster);
  assert.equal(tree.app, 'shop');
  const web = tree.nodes.find((n) => n.kind === 'Deployment' && n.name === 'web');
  assert.ok(web?.managed, 'the Deployment is one of the app managed objects');
  assert.equal(web.health, 'healthy', web.message);
  const rs = tree.nodes.filter((n) => n.kind === 'ReplicaSet' && n.parentUid === web.uid);
  assert.equal(rs.length, 1, 'its ReplicaSet hangs under it');
  const pods = tree.nodes.filter((n) => n.kind === 'Pod' && n.parentUid === rs[0]!.uid);
  assert.equal(pods.length, 2, 'two Pods hang under the ReplicaSet');
  for (const p of pods) {
    assert.equal(p.health, 'healthy', p.message);
    assert.equal(p.namespace, `${cluster}-shop`);
  }
  const migrate = tree.nodes.find((n) => n.kind === 'Job' && n.name === 'migrate');
  assert.ok(migrate?.managed);
  assert.equal(tree.nodes.filter((n) => n.kind === 'Pod' && n.parentUid === migrate.uid).length, 1);
  assert.ok(
    web.events.some((e) => e.reason === 'ScalingReplicaSet'),
    'the Deployment shows its Events',
  );
}

describe('the live object tree through the agent', { timeout: 300_000 }, () => {
  let pg: PostgresServer;
  let nats: NatsServer;
  let cluster: Cluster;
  let git: GitServer;
  const hubs = {} as Record<'a' | 'b' | 'c', Hub>;
  const agents = {} as Record<Name, AgentProcess>;
  const treePath = (c: string, app = 'shop', query = '') =>
    `/api/v1/clusters/${c}/apps/${app}/tree${query}`;
  /** The tree as read through `hub`, once every Pod of it is there and healthy. */
  const fullTree = (hub: Hub, c: Name) =>
    waitFor(
      `${c}: the whole shop tree through replica ${hub.httpUrl}`,
      async () => {
        const res = await hubApi(hub).request<Tree>('GET', treePath(c));
        // Thrown, so a timeout says what the hub last answered.
        if (res.status !== 200)
          throw new Error(`hub answered ${res.status}: ${JSON.stringify(res.body)}`);
        const pods = res.body.nodes.filter((n) => n.kind === 'Pod');
        const healthy = pods.filter((p) => p.health === 'healthy').length;
        const web = res.body.nodes.find((n) => n.kind === 'Deployment');
        if (pods.length === 3 && healthy >= 2 && web?.health === 'healthy') return res.body;
        throw new Error(
          `not yet whole: ${res.body.nodes.map((n) => `${n.kind} ${n.name} ${n.health}`).join(', ')}`,
        );
      },
      { timeoutMs: 60_000, everyMs: 500 },
    );

  before(async () => {
    const dataA = createHubDataDir();
    const config = hubNatsConfig(dataA);
    [pg, nats, cluster, git] = await Promise.all([
      startPostgres(),
      startNats({ jetstream: true, config }),
      startCluster({ workloads: true }),
      startGitServer(),
    ]);
    const common = { store: 'postgres' as const, databaseUrl: pg.connectionString };
    hubs.a = await startHub({ ...common, dataDir: dataA, args: ['--nats-url', nats.url] });
    // Every replica needs the same CA and NATS keys (docs/hub.md): copied, as an operator would.
    const copy = () => {
      const dir = createHubDataDir();
      for (const f of readdirSync(dataA).filter((n) => /^(ca\.(crt|key)|nats-.*\.nk)$/.test(n)))
        copyFileSync(join(dataA, f), join(dir, f));
      return dir;
    };
    hubs.b = await startHub({
      ...common,
      dataDir: copy(),
      adminToken: hubs.a.adminToken,
      args: ['--nats-url', nats.url],
    });
    // Replica C has no NATS: no channel to the other replicas.
    hubs.c = await startHub({ ...common, dataDir: copy(), adminToken: hubs.a.adminToken });

    const repo = await git.createRepo('tree-fleet');
    const files: Record<string, string> = {};
    for (const c of NAMES) {
      files[`clusters/${c}/driftless.yaml`] = driftlessYaml(c);
      files[`apps/${c}/shop/web.yaml`] = deployment;
      files[`apps/${c}/shop/job.yaml`] = job;
    }
    await repo.commit(files, 'fleet: shop for east and north');
    for (const c of NAMES) {
      const { replica, transport } = AGENTS[c];
      agents[c] = startAgent({
        cluster,
        clusterName: c,
        repoUrl: repo.url,
        gitCredentials: git.credentials,
        hub: hubs[replica],
        token: await createEnrollmentToken(hubs.a, c),
        transport,
        ...(transport === 'nats' ? { natsUrl: nats.url } : {}),
        env: { DRIFTLESS_STATE_NAMESPACE: `driftless-${c}` },
      });
    }
    const head = await repo.head();
    for (const c of NAMES)
      await waitFor(
        `${c}: shop reported at ${head.slice(0, 7)} and the agent connected`,
        async () => {
          const detail = await hubApi(hubs.a).get<{
            connected: boolean;
            apps: { app: string; revision: string }[];
          }>(`/api/v1/clusters/${c}`);
          return detail.connected &&
            detail.apps.some((a) => a.app === 'shop' && a.revision === head)
            ? true
            : undefined;
        },
        { timeoutMs: 120_000 },
      );
  });
  after(async () => {
    await Promise.all(Object.values(agents).map((a) => a.stop()));
    await Promise.all(Object.values(hubs).map((h) => h.stop()));
    await Promise.all([cluster?.stop(), git?.stop(), nats?.stop(), pg?.stop()]);
  });

  it('over gRPC: the replica holding the stream asks the agent', async () => {
    assertShopTree(await fullTree(hubs.a, 'east'), 'east');
  });

  it('over gRPC: a replica without the stream relays the request to the one holding it', async () => {
    assertShopTree(await fullTree(hubs.b, 'east'), 'east');
    assert.ok(
      hubs.a.process.logTail(3000).includes('object tree asked on another replica answered'),
      'replica A answered the request made on B',
    );
  });

  it('over NATS: every replica reaches the agent', async () => {
    assertShopTree(
      await fullTree(hubs.a, 'north').catch((err: unknown) => {
        throw new Error(
          `${(err as Error).message}; agent log: ${agents.north.process.logTail(40)}`,
        );
      }),
      'north',
    );
    assertShopTree(await fullTree(hubs.b, 'north'), 'north');
  });

  it('`driftless app get CLUSTER/APP --tree` prints it as an indented tree', async () => {
    await fullTree(hubs.a, 'east');
    const { stdout } = await run(process.execPath, [CLI, 'app', 'get', 'east/shop', '--tree'], {
      env: { ...process.env, DRIFTLESS_HUB: hubs.b.httpUrl, DRIFTLESS_TOKEN: hubs.b.adminToken },
    });
    const lines = stdout.split('\n');
    assert.match(lines[0] ?? '', /^east\/shop /);
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const web = at(/^[├└]─ Deployment east-shop\/web {2}healthy$/);
    const rs = at(/^[│ ] {2}[├└]─ ReplicaSet east-shop\/web-[a-z0-9]+ {2}healthy$/);
    const pod = at(/^[│ ] {2}[│ ] {2}[├└]─ Pod east-shop\/web-[a-z0-9]+-[a-z0-9]+ {2}healthy$/);
    assert.ok(web >= 0 && rs > web && pod > rs, stdout);
    assert.ok(at(/ScalingReplicaSet/) > web, 'Events under the Deployment');
  });

  it('a viewer token reads it, and each read is in the audit log', async () => {
    const { token } = await hubApi(hubs.a).post<{ token: string }>('/api/v1/api-tokens', {
      name: 'tree-viewer',
      role: 'viewer',
    });
    const res = await hubApi(hubs.b, token).request<Tree>('GET', treePath('east'));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body.nodes.some((n) => n.kind === 'Deployment'));
    const audit = await hubApi(hubs.a).get<{
      items: { actor: string; action: string; target: string }[];
    }>('/api/v1/audit?limit=100');
    assert.ok(
      audit.items.some(
        (a) =>
          a.action === 'app.tree' &&
          a.target === 'app/east/shop' &&
          a.actor.startsWith('tree-viewer'),
      ),
      `audit: ${JSON.stringify(audit.items.slice(0, 5))}`,
    );
  });

  it('an unknown cluster or app is 404', async () => {
    const app = await hubApi(hubs.a).request<{ error: { message: string } }>(
      'GET',
      treePath('east', 'nope'),
    );
    assert.equal(app.status, 404);
    assert.match(app.body.error.message, /app east\/nope: not found/);
    const c = await hubApi(hubs.a).request('GET', treePath('nowhere'));
    assert.equal(c.status, 404);
  });

  it('a replica with no channel to the one holding the stream answers 503, saying so', async () => {
    const res = await hubApi(hubs.c).request<{ error: { message: string } }>(
      'GET',
      treePath('east'),
    );
    assert.equal(res.status, 503);
    assert.match(
      res.body.error.message,
      /held by another hub replica, and this hub has no channel to it/,
    );
  });

  it('an agent that does not answer within the deadline is 504', async () => {
    const pid = agents.east.process.serverPid();
    assert.ok(pid, 'the agent runs');
    process.kill(pid, 'SIGSTOP');
    try {
      const res = await hubApi(hubs.a).request<{ error: { message: string } }>(
        'GET',
        treePath('east', 'shop', '?deadline=1s'),
      );
      assert.equal(res.status, 504);
      assert.match(res.body.error.message, /the agent did not answer within 1000 ms/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Back: the next read works again.
    assertShopTree(await fullTree(hubs.a, 'east'), 'east');
  });
});
