/**
 * Two hub replicas on one PostgreSQL, with NATS carrying the fan-out between them (docs/hub.md,
 * "NATS"): a real PostgreSQL, a real nats-server with JetStream trusting the hubs' operator, two
 * real `driftless-hub` processes with the same CA and NATS keys, and three real agents in one
 * real cluster (each with its own state namespace): `east` on replica A over gRPC, `west` on
 * replica B over gRPC, `north` over NATS. What one replica receives reaches an agent whose
 * stream the other replica holds: an approval made through A's API, a Git webhook push to A,
 * a report A ingested shows on B's dashboard event stream, and a revocation made on A closes
 * the cluster's stream on B.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KubeClient } from '@driftless/agent';
import {
  createEnrollmentToken,
  createHubDataDir,
  hubApi,
  hubNatsConfig,
  notifyPush,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  startNats,
  startPostgres,
  type AgentProcess,
  type Cluster,
  type GitRepo,
  type GitServer,
  type Hub,
  type NatsServer,
  type PostgresServer,
} from '@driftless/test';
import { waitFor } from './helpers.ts';

/** The agents: which replica's gRPC port each uses, and its transport. */
const AGENTS = {
  east: { replica: 'a', transport: 'grpc' },
  west: { replica: 'b', transport: 'grpc' },
  north: { replica: 'b', transport: 'nats' },
} as const;
type Name = keyof typeof AGENTS;
const NAMES = Object.keys(AGENTS) as Name[];

const WEBHOOK_SECRET = 'replicas-webhook-secret-0123456789';
// Far longer than the test: a commit reaches an agent only through a hint, never by its poll.
const POLL_INTERVAL = '1h';

const driftlessYaml = (c: Name) => `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: web
      path: apps/${c}/web
      namespace: ${c}-web
    - name: gated
      path: apps/${c}/gated
      namespace: ${c}-gated
      sync: manual
`;
const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
const settings = (rev: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  rev: "${rev}"\n`;
const webFiles = (rev: string, names: readonly Name[] = NAMES) =>
  Object.fromEntries(names.map((c) => [`apps/${c}/web/settings.yaml`, settings(rev)]));

/** An app as `GET /api/v1/clusters/:name` lists it. */
interface HubApp {
  app: string;
  revision: string;
  syncStatus: string;
  planDigest: string;
}

/** A server-sent event of `GET /api/v1/events`. */
interface StreamedEvent {
  type: string;
  cluster?: string;
  app?: string;
  data?: Record<string, unknown>;
}

/** Reads the hub's dashboard event stream until `match` accepts an event or `signal` aborts. */
async function nextEvent(
  hub: Hub,
  match: (e: StreamedEvent) => boolean,
  opened: () => void,
  signal: AbortSignal,
): Promise<StreamedEvent> {
  const res = await fetch(`${hub.httpUrl}/api/v1/events`, {
    headers: { authorization: `Bearer ${hub.adminToken}` },
    signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      // The stream's first bytes (`: connected`) mean the subscription is in place.
      if (!text) opened();
      text += value;
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const event = JSON.parse(data.slice(6)) as StreamedEvent;
        if (match(event)) return event;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

describe('hub replicas on one PostgreSQL, fan-out over NATS', { timeout: 240_000 }, () => {
  let pg: PostgresServer;
  let nats: NatsServer;
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let kube: KubeClient;
  const hubs = {} as Record<'a' | 'b', Hub>;
  const agents = {} as Record<Name, AgentProcess>;

  const hubApp = async (c: Name, app: string): Promise<HubApp | undefined> =>
    (await hubApi(hubs.a).get<{ apps: HubApp[] }>(`/api/v1/clusters/${c}`)).apps.find(
      (a) => a.app === app,
    );
  const liveRev = async (namespace: string) =>
    (
      (await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'settings' }))?.[
        'data'
      ] as Record<string, string> | undefined
    )?.['rev'];
  const connects = (c: Name) =>
    agents[c].logs().filter((l) => String(l['msg']).startsWith('hub link: connected')).length;
  const hubLog = (replica: 'a' | 'b', msg: string) =>
    hubs[replica].process
      .logTail(2000)
      .split('\n')
      .some((l) => l.includes(msg));

  before(async () => {
    // Replica A makes the NATS keys and CA; nats-server trusts its operator.
    const dataA = createHubDataDir();
    const config = hubNatsConfig(dataA);
    [pg, nats, cluster, git] = await Promise.all([
      startPostgres(),
      startNats({ jetstream: true, config }),
      startCluster(),
      startGitServer(),
    ]);
    const common = {
      store: 'postgres' as const,
      databaseUrl: pg.connectionString,
      webhookSecret: WEBHOOK_SECRET,
      args: ['--nats-url', nats.url],
    };
    hubs.a = await startHub({ ...common, dataDir: dataA });
    // Every replica needs the same CA and NATS keys (docs/hub.md): copied, as an operator would.
    const dataB = createHubDataDir();
    for (const f of readdirSync(dataA).filter((n) => /^(ca\.(crt|key)|nats-.*\.nk)$/.test(n)))
      copyFileSync(join(dataA, f), join(dataB, f));
    hubs.b = await startHub({ ...common, dataDir: dataB, adminToken: hubs.a.adminToken });

    repo = await git.createRepo('fleet');
    const files: Record<string, string> = {};
    for (const c of NAMES) {
      files[`clusters/${c}/driftless.yaml`] = driftlessYaml(c);
      files[`apps/${c}/web/namespace.yaml`] = ns(`${c}-web`);
      files[`apps/${c}/web/settings.yaml`] = settings('1');
      files[`apps/${c}/gated/namespace.yaml`] = ns(`${c}-gated`);
      files[`apps/${c}/gated/settings.yaml`] = settings(`${c}-gated`);
    }
    await repo.commit(files, 'fleet: web and gated for east, west and north');
    kube = await KubeClient.fromKubeConfig(cluster.kubeConfig);

    for (const c of NAMES) {
      const { replica, transport } = AGENTS[c];
      agents[c] = startAgent({
        cluster,
        clusterName: c,
        repoUrl: repo.url,
        gitCredentials: git.credentials,
        hub: hubs[replica],
        // Tokens from A's API for every agent: the replicas share one store.
        token: await createEnrollmentToken(hubs.a, c),
        pollInterval: POLL_INTERVAL,
        transport,
        ...(transport === 'nats' ? { natsUrl: nats.url } : {}),
        // One cluster, three agents: each keeps its identity and inventories apart.
        env: { DRIFTLESS_STATE_NAMESPACE: `driftless-${c}` },
      });
    }
    const head = await repo.head();
    for (const c of NAMES)
      await waitFor(`${c}: web synced and gated waiting for approval on the hub`, async () => {
        const web = await hubApp(c, 'web');
        const gated = await hubApp(c, 'gated');
        return web?.revision === head &&
          web.syncStatus === 'synced' &&
          gated?.syncStatus === 'out-of-sync' &&
          gated.planDigest
          ? true
          : undefined;
      }).catch((error: unknown) => {
        throw new Error(
          `${(error as Error).message}; agent log: ${agents[c].process.logTail(30)}`,
          {
            cause: error,
          },
        );
      });
  });
  after(async () => {
    await Promise.all(Object.values(agents).map((a) => a.stop()));
    await Promise.all(Object.values(hubs).map((h) => h.stop()));
    kube?.close();
    await Promise.all([cluster?.stop(), git?.stop(), nats?.stop(), pg?.stop()]);
  });

  it("an approval made through replica A's API reaches the gRPC agent on replica B, whose manual app syncs", async () => {
    const head = await repo.head();
    const approveOnA = async (c: Name) => {
      const gated = await hubApp(c, 'gated');
      const res = await hubApi(hubs.a).request<{ id: string }>('POST', '/api/v1/approvals', {
        cluster: c,
        app: 'gated',
        revision: head,
        planDigest: gated!.planDigest,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id;
    };
    const approval = await approveOnA('west');
    await waitFor(
      'the approved gated app applied in west',
      async () => ((await liveRev('west-gated')) === 'west-gated' ? true : undefined),
      20_000,
    );
    assert.ok(
      agents.west.logs().some((l) => String(l['msg']).includes(`approval ${approval}`)),
      'the west agent received the approval',
    );
    assert.equal(connects('west'), 1, 'by its open stream, not by a reconnect and Hello');
    assert.ok(hubLog('b', 'approval delivered from another replica'), 'replica B delivered it');
    await waitFor('the approval acked, on both replicas', async () => {
      for (const hub of [hubs.a, hubs.b]) {
        const pending = await hubApi(hub).get<{ items: { id: string }[] }>(
          '/api/v1/approvals?pending=true&cluster=west',
        );
        if (pending.items.length) return undefined;
      }
      return true;
    });
    // The NATS-linked agent gets an approval from either replica too.
    await approveOnA('north');
    await waitFor(
      'the approved gated app applied in north',
      async () => ((await liveRev('north-gated')) === 'north-gated' ? true : undefined),
      20_000,
    );
    assert.equal((await hubApp('west', 'gated'))?.syncStatus, 'synced');
  });

  it('a Git webhook push delivered to replica A hints the gRPC agent on replica B', async () => {
    const sha = await repo.commit(webFiles('2'), 'web: rev 2 everywhere');
    await notifyPush(hubs.a, repo, sha);
    // The agents poll hourly: only a hint brings the commit this soon.
    for (const c of ['west', 'east', 'north'] as const)
      await waitFor(
        `${c}: web at rev 2 in the cluster`,
        async () => ((await liveRev(`${c}-web`)) === '2' ? true : undefined),
        20_000,
      );
    await waitFor('west at the pushed commit on the hub', async () =>
      (await hubApp('west', 'web'))?.revision === sha ? true : undefined,
    );
    assert.equal(connects('west'), 1, 'the hint came down the open stream');
  });

  it("replica B's dashboard event stream shows a report replica A ingested", async () => {
    const abort = new AbortController();
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    let sha = '';
    const seen = nextEvent(
      hubs.b,
      (e) =>
        e.type === 'app.updated' &&
        e.cluster === 'east' &&
        e.app === 'web' &&
        sha !== '' &&
        e.data?.['revision'] === sha &&
        // A sync first shows as syncing at the new revision; wait for its result.
        e.data?.['syncStatus'] !== 'syncing',
      opened,
      abort.signal,
    );
    seen.catch(() => undefined);
    const timer = setTimeout(() => abort.abort(), 30_000);
    try {
      await open;
      // east reports to A over gRPC: only A ingests it.
      sha = await repo.commit(webFiles('3', ['east']), 'web: rev 3 in east');
      await notifyPush(hubs.a, repo, sha);
      const event = await seen;
      assert.equal(event.data?.['syncStatus'], 'synced');
      assert.equal(await liveRev('east-web'), '3');
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  });

  it('revoking a cluster through replica A closes its gRPC stream on replica B', async () => {
    const revoked = await hubApi(hubs.a).request('POST', '/api/v1/clusters/west/revoke');
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    // Without the relay, B would keep the stream (and ingest its reports) until a reconnect.
    await waitFor('the west agent refused', () =>
      agents.west.logs().some((l) => String(l['msg']).startsWith('hub link refused'))
        ? true
        : undefined,
    );
    assert.ok(hubLog('b', 'stream of a cluster revoked on another replica closed'));
    const west = await hubApi(hubs.b).get<{ connected: boolean; revoked: boolean }>(
      '/api/v1/clusters/west',
    );
    assert.deepEqual([west.connected, west.revoked], [false, true]);
  });
});
