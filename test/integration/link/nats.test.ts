/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return --
   Hub API answers are JSON checked field by field by the assertions; typing each would add nothing. */
/**
 * The agent ↔ hub link over NATS, end to end: a real nats-server with JetStream that trusts
 * the hub's operator (its config from `driftless-hub nats-config`), the real `driftless-hub`
 * with --nats-url, the real `driftless-agent run --transport nats`, a real cluster and Git
 * server. Enrollment issues NATS credentials limited to the cluster's subjects; reports
 * arrive; the hub killed while the agent reports loses and duplicates nothing (JetStream
 * keeps the reports); an approval reaches the agent over NATS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, jwtAuthenticator, type NatsConnection, type Status } from 'nats';
import { KubeClient } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  startNats,
  type Cluster,
  type GitRepo,
  type GitServer,
  type NatsServer,
} from '@driftless/test';
import {
  api,
  startAgent,
  startHub,
  waitFor,
  type AgentProcess,
  type HubProcess,
} from './helpers.ts';
import { CLUSTER, FLEET_FILES, hubReads, liveRev as fleetLiveRev, settings } from './fleet.ts';

const OTHER = 'other';
const HUB_BIN = path.resolve(import.meta.dirname, '../../../hub/bin/driftless-hub.ts');

/** Waits for the first permission violation the server reports on `nc`. */
function nextViolation(nc: NatsConnection): Promise<Status> {
  return (async () => {
    for await (const s of nc.status())
      if ((s.type as string) === 'error' && s.data === 'PERMISSIONS_VIOLATION') return s;
    throw new Error('connection closed without a permission violation');
  })();
}

describe('agent ↔ hub link over NATS', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let nats: NatsServer;
  let client: KubeClient;
  let hub: HubProcess;
  let admin: string;
  let workDir: string;
  let dataDir: string;
  const agents: AgentProcess[] = [];
  let creds: { jwt: string; seed: string };

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-nats-hub-'));
    // The operator's step: the hub writes the server config that trusts it.
    const config = execFileSync(process.execPath, [HUB_BIN, 'nats-config', '--data-dir', dataDir], {
      encoding: 'utf8',
    });
    [cluster, git, nats] = await Promise.all([
      startCluster(),
      startGitServer(),
      startNats({ jetstream: true, config }),
    ]);
    hub = await startHub({ dataDir, args: ['--nats-url', nats.url] });
    admin = hub.bootstrapToken!;
    repo = await git.createRepo('fleet');
    await repo.commit(FLEET_FILES, 'fleet: web and gated');
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-nats-link-'));
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await hub?.stop();
    client?.close();
    await Promise.all([cluster?.stop(), git?.stop(), nats?.stop()]);
    for (const d of [workDir, dataDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  const { app: hubApp, history } = hubReads(() => ({ hub, token: admin }));
  const liveRev = (namespace: string) => fleetLiveRev(client, namespace);
  const connectAs = (c: { jwt: string; seed: string }, inboxPrefix: string) =>
    connect({
      servers: nats.url,
      authenticator: jwtAuthenticator(c.jwt, new TextEncoder().encode(c.seed)),
      inboxPrefix,
      maxReconnectAttempts: 0,
    });

  it('enrollment issues NATS credentials: seed and JWT in the identity Secret, limited to the cluster', async () => {
    const created = await api(hub, admin, 'POST', '/api/v1/tokens', {
      cluster: CLUSTER,
      ttl: '1h',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const token = created.body.token as string;
    const agent = startAgent({
      DRIFTLESS_REPO_URL: repo.url,
      DRIFTLESS_CLUSTER_NAME: CLUSTER,
      DRIFTLESS_GIT_USERNAME: git.credentials.username,
      DRIFTLESS_GIT_PASSWORD: git.credentials.password,
      DRIFTLESS_KUBECONFIG: cluster.kubeconfigPath,
      DRIFTLESS_WORK_DIR: workDir,
      DRIFTLESS_POLL_INTERVAL: '1s',
      DRIFTLESS_HUB_ADDRESS: hub.grpc,
      DRIFTLESS_HUB_CA_FILE: hub.caFile,
      DRIFTLESS_TRANSPORT: 'nats',
      DRIFTLESS_NATS_URL: nats.url,
      DRIFTLESS_ENROLLMENT_TOKEN: token,
    });
    agents.push(agent);
    const secret = await waitFor(
      'identity Secret',
      () =>
        client.get({
          apiVersion: 'v1',
          kind: 'Secret',
          namespace: 'driftless-system',
          name: 'driftless-agent-identity',
        }),
      30_000,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; agent log: ${agent.text().slice(-3000)}`);
    });
    const data = secret['data'] as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), [
      'ca.crt',
      'nats.jwt',
      'nats.seed',
      'tls.crt',
      'tls.key',
    ]);
    const text = (k: string) => Buffer.from(data[k]!, 'base64').toString('utf8');
    creds = { jwt: text('nats.jwt'), seed: text('nats.seed') };
    assert.match(creds.seed, /^SU/, 'a user nkey seed, made by the agent');
    const claims = JSON.parse(Buffer.from(creds.jwt.split('.')[1]!, 'base64url').toString());
    assert.deepEqual(claims.nats.pub.allow, ['driftless.agent.edge.>']);
    assert.deepEqual(claims.nats.sub.allow, ['driftless.hub.edge.>', '_INBOX.edge.>']);
    const c = await waitFor('cluster connected', async () => {
      const r = await api(hub, admin, 'GET', `/api/v1/clusters/${CLUSTER}`);
      return r.body.connected ? r.body : undefined;
    });
    assert.equal(c.agentVersion, '0.1.0');
    assert.ok(!agent.text().includes(creds.seed), 'the seed is not logged');
    assert.ok(!agent.text().includes(creds.jwt), 'the JWT is not logged');
    assert.ok(!hub.stderr().includes(creds.jwt), 'the hub does not log the JWT');
  });

  it('reports reach the hub over NATS: Synced/Healthy at the commit', async () => {
    const head = await repo.head();
    const web = await waitFor('web synced on the hub', async () => {
      const a = await hubApp('web');
      return a?.revision === head && a.syncStatus === 'synced' && a.health === 'healthy'
        ? a
        : undefined;
    });
    assert.equal(web.syncMode, 'auto');
  });

  it("the agent's credentials cannot publish to or subscribe on another cluster's subjects", async () => {
    const nc = await connectAs(creds, '_INBOX.edge');
    try {
      let violation = nextViolation(nc);
      nc.publish(`driftless.agent.${OTHER}.up`, new Uint8Array([1]));
      let s = await violation;
      assert.equal(s.permissionContext?.operation, 'publish');
      assert.equal(s.permissionContext?.subject, `driftless.agent.${OTHER}.up`);
      violation = nextViolation(nc);
      nc.subscribe(`driftless.hub.${OTHER}.down`);
      s = await violation;
      assert.equal(s.permissionContext?.operation, 'subscription');
      assert.equal(s.permissionContext?.subject, `driftless.hub.${OTHER}.down`);
      violation = nextViolation(nc);
      nc.subscribe('_INBOX.other.>');
      s = await violation;
      assert.equal(s.permissionContext?.subject, '_INBOX.other.>');
      // Its own subjects are fine (no violation follows).
      nc.subscribe('driftless.hub.edge.down');
      await nc.flush();
    } finally {
      await nc.close();
    }
  });

  it('the hub killed while the agent reports: JetStream keeps every report, none stored twice', async () => {
    const before = await history();
    const grpcAddress = hub.grpc;
    const httpAddress = hub.http.replace(/^http:\/\//, '');
    await hub.kill();
    for (const rev of ['2', '3']) {
      await repo.commit({ 'apps/web/settings.yaml': settings(rev) }, `web: rev ${rev}`);
      await waitFor(`rev ${rev} applied with the hub down`, async () =>
        (await liveRev('web')) === rev ? true : undefined,
      );
    }
    const head = await repo.head();
    // Reports went into the stream while no hub ran.
    const streamed = await waitFor('reports kept in the stream', async () => {
      const r = await fetch(`${nats.monitorUrl}/jsz?accounts=true&streams=true`);
      const jsz = (await r.json()) as {
        account_details?: { stream_detail?: { name: string; state: { messages: number } }[] }[];
      };
      const s = jsz.account_details
        ?.flatMap((a) => a.stream_detail ?? [])
        .find((x) => x.name === 'DRIFTLESS_REPORTS');
      return s && s.state.messages > 0 ? s.state.messages : undefined;
    });
    assert.ok(streamed > 0);
    hub = await startHub({
      dataDir,
      grpcAddress,
      httpAddress,
      args: ['--nats-url', nats.url],
    });
    await waitFor('web at the new head on the hub', async () => {
      const a = await hubApp('web');
      return a?.revision === head && a.syncStatus === 'synced' ? a : undefined;
    });
    const after = await waitFor('both outage syncs in history', async () => {
      const h = await history();
      const revs = new Set(
        h.filter((s) => s.app === 'web' && s.result === 'succeeded').map((s) => s.revision),
      );
      return revs.has(head) && revs.size >= 3 ? h : undefined;
    });
    assert.ok(after.length > before.length);
    const ids = after.map((s) => s.syncId);
    assert.equal(new Set(ids).size, ids.length, 'no sync result stored twice');
    const gaps = await api(hub, admin, 'GET', `/api/v1/clusters/${CLUSTER}`);
    assert.equal(gaps.status, 200);
  });

  it('an approval made through the hub API reaches the agent over NATS', async () => {
    const head = await repo.head();
    const gated = await waitFor(
      'gated waits for approval on the hub',
      async () => {
        const a = await hubApp('gated');
        return a?.planDigest && a.syncStatus === 'out-of-sync' ? a : undefined;
      },
      60_000,
    );
    const approved = await api(hub, admin, 'POST', '/api/v1/approvals', {
      cluster: CLUSTER,
      app: 'gated',
      revision: head,
      planDigest: gated.planDigest,
    });
    assert.equal(approved.status, 201, JSON.stringify(approved.body));
    await waitFor(
      'approved sync applied',
      async () => ((await liveRev('gated')) === 'gated-1' ? true : undefined),
      60_000,
    );
    await waitFor('approval acked by the agent', async () => {
      const p = await api(hub, admin, 'GET', '/api/v1/approvals?pending=true');
      return p.body.items.length === 0 ? true : undefined;
    });
  });
});
