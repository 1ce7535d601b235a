/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return --
   Hub API answers are JSON checked field by field by the assertions; typing each would add nothing. */
/**
 * The agent ↔ hub link over gRPC, end to end: the real `driftless-hub` (SQLite), the real
 * `driftless-agent run`, a real cluster and Git server. Enrollment, reports, drift,
 * approvals, the hub killed while commits land and drift happens, an agent restart and a
 * revocation — each checked through the hub's HTTP API, as a person would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KubeClient } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import {
  api,
  startAgent,
  startHub,
  waitFor,
  type AgentProcess,
  type HubProcess,
} from './helpers.ts';
import {
  CLUSTER,
  FLEET_FILES,
  hubReads,
  isCarry,
  liveRev as fleetLiveRev,
  settings,
} from './fleet.ts';

describe('agent ↔ hub link over gRPC', { timeout: 240_000 }, () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let client: KubeClient;
  let hub: HubProcess;
  let admin: string;
  let token: string;
  let workDir: string;
  const agents: AgentProcess[] = [];
  let agent: AgentProcess;
  const secrets: string[] = [];

  before(async () => {
    [cluster, git, hub] = await Promise.all([
      startCluster(),
      startGitServer(),
      // Short certificates so the agent renews during the test (at 2/3: after 30 s).
      startHub({ args: ['--client-cert-ttl', '45s'] }),
    ]);
    admin = hub.bootstrapToken!;
    secrets.push(admin.split('.')[1]!);
    repo = await git.createRepo('fleet');
    await repo.commit(FLEET_FILES, 'fleet: web and gated');
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-link-'));
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await hub?.stop();
    client?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const agentEnv = (withToken: boolean): Record<string, string> => ({
    DRIFTLESS_REPO_URL: repo.url,
    DRIFTLESS_CLUSTER_NAME: CLUSTER,
    DRIFTLESS_GIT_USERNAME: git.credentials.username,
    DRIFTLESS_GIT_PASSWORD: git.credentials.password,
    DRIFTLESS_KUBECONFIG: cluster.kubeconfigPath,
    DRIFTLESS_WORK_DIR: workDir,
    DRIFTLESS_POLL_INTERVAL: '1s',
    DRIFTLESS_LOG_LEVEL: 'info',
    DRIFTLESS_HUB_ADDRESS: hub.grpc,
    DRIFTLESS_HUB_CA_FILE: hub.caFile,
    DRIFTLESS_CLUSTER_LABELS: 'env=test,region=local',
    ...(withToken ? { DRIFTLESS_ENROLLMENT_TOKEN: token } : {}),
  });
  const launch = (withToken: boolean) => {
    agent = startAgent(agentEnv(withToken));
    agents.push(agent);
    return agent;
  };

  const identitySecret = () =>
    client.get({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: 'driftless-system',
      name: 'driftless-agent-identity',
    });
  const serialOf = async () => {
    const s = await identitySecret();
    const crt = (s?.['data'] as Record<string, string> | undefined)?.['tls.crt'];
    return crt ? new X509Certificate(Buffer.from(crt, 'base64')).serialNumber : undefined;
  };
  const liveRev = (namespace: string) => fleetLiveRev(client, namespace);
  const { app: hubApp, history } = hubReads(() => ({ hub, token: admin }));
  /** The history records of syncs that ran (a carried app's record has the one step `carry`). */
  const syncs = async () => (await history()).filter((s) => !isCarry(s));
  const carries = async () => (await history()).filter(isCarry);
  const agentCarries = () =>
    agents.flatMap((a) => a.logs()).filter((l) => /^carry \S+@/.test(String(l['msg'])));
  const drifts = async () =>
    (await api(hub, admin, 'GET', `/api/v1/drift?cluster=${CLUSTER}&state=all`)).body.items as {
      driftId: string;
      objectRef: string;
      healed: boolean;
      changedBy: string;
    }[];
  /** Sync trace ids as every agent process of this test logged them (LogReporter). */
  const agentSyncTraces = () =>
    agents.flatMap((a) =>
      a
        .logs()
        .filter((l) => typeof l['msg'] === 'string' && /^sync \S+@/.test(l['msg']))
        .map((l) => String(l['trace_id'])),
    );
  /**
   * Waits until the hub history holds exactly the syncs the agents logged, none lost and none
   * duplicated, and returns its trace ids. Both sides are read in the same poll: an agent may start
   * another sync at any time, so a count compared once could race it. On a timeout the error names
   * the syncs the hub lacks.
   */
  const historyMatchesAgents = async (): Promise<string[]> => {
    let hubTraces: string[] = [];
    try {
      return await waitFor('the hub history is exactly what the agents did', async () => {
        hubTraces = (await syncs()).map((s) => s.traceId).sort();
        const agentTraces = [...agentSyncTraces()].sort();
        return hubTraces.join() === agentTraces.join() ? hubTraces : undefined;
      });
    } catch (err) {
      const stored = new Set(hubTraces);
      const missing = agents
        .flatMap((a) => a.logs())
        .filter((l) => /^sync \S+@/.test(String(l['msg'])) && !stored.has(String(l['trace_id'])))
        .map((l) => String(l['msg']));
      const duplicated = hubTraces.filter((t, i) => hubTraces[i - 1] === t);
      throw new Error(
        `${String(err)}; syncs the agents logged that the hub lacks: ${missing.join(' | ') || 'none'}; ` +
          `traces the hub holds twice: ${duplicated.join(' ') || 'none'}`,
        { cause: err },
      );
    }
  };
  const agentHealedDrifts = () =>
    agents.flatMap((a) =>
      a.logs().filter((l) => String(l['msg']).startsWith('drift in') && l['healed'] === true),
    ).length;
  const editSettings = (namespace: string) =>
    client.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace },
        data: { mode: 'hand-edited' },
      },
      { fieldManager: 'kubectl-edit', force: true },
    );
  const mode = async (namespace: string) =>
    (
      (await client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'settings' }))?.[
        'data'
      ] as Record<string, string> | undefined
    )?.['mode'];

  it('refuses to start without an identity or a token, or with a bad token, saying what to do', async () => {
    const a = startAgent(agentEnv(false));
    assert.equal(await a.exited, 1);
    assert.match(
      a.text(),
      /not enrolled with the hub .* no enrollment token is given: create one with "driftless token create --cluster edge"/,
    );
    const guess = `et_${'0'.repeat(16)}.${'A'.repeat(43)}`;
    secrets.push(guess.split('.')[1]!);
    const b = startAgent({ ...agentEnv(false), DRIFTLESS_ENROLLMENT_TOKEN: guess });
    assert.equal(await b.exited, 1, 'a refused token is terminal: the agent exits');
    // One outcome, said once: a fatal line naming the hub's reason, before anything is applied.
    const said = b.logs().filter((l) => l['level'] === 'error' || l['level'] === 'fatal');
    assert.equal(said.length, 1, JSON.stringify(said));
    assert.equal(said[0]?.['level'], 'fatal');
    const fatal = String(said[0]?.['msg']);
    assert.equal(
      fatal,
      'cannot enroll with the hub: enroll cluster edge: the hub answered UNAUTHENTICATED: enrollment token is not valid',
    );
    assert.ok(!b.text().includes('keeps reconciling'), 'no claim that the agent goes on');
    assert.equal(
      b.logs().filter((l) => /^sync \S+@/.test(String(l['msg']))).length,
      0,
      'no app is synced by an agent whose token was refused',
    );
    assert.ok(!b.text().includes(guess.split('.')[1]!), 'the token is not logged');
    assert.equal(await identitySecret(), undefined);
  });

  it('enrolls with a token: the identity Secret holds key, certificate and CA; the hub shows the cluster connected', async () => {
    const created = await api(hub, admin, 'POST', '/api/v1/tokens', {
      cluster: CLUSTER,
      ttl: '1h',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    token = created.body.token;
    secrets.push(token, token.split('.')[1]!);
    launch(true);
    const secret = await waitFor('identity Secret', identitySecret, 30_000);
    assert.equal(secret['type'], 'kubernetes.io/tls');
    const data = secret['data'] as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    const cert = new X509Certificate(Buffer.from(data['tls.crt']!, 'base64'));
    assert.match(cert.subject, /CN=edge/);
    assert.equal(
      Buffer.from(data['ca.crt']!, 'base64').toString(),
      (await import('node:fs')).readFileSync(hub.caFile, 'utf8'),
    );
    const keyPem = Buffer.from(data['tls.key']!, 'base64').toString();
    secrets.push(keyPem.split('\n')[1]!);
    const c = await waitFor('cluster connected', async () => {
      const r = await api(hub, admin, 'GET', `/api/v1/clusters/${CLUSTER}`);
      return r.body.connected ? r.body : undefined;
    });
    assert.deepEqual(c.labels, { env: 'test', region: 'local' });
    assert.equal(c.agentVersion, '0.1.0');
  });

  it('reports reach the hub: Synced/Healthy at the commit, history with the sync trace id', async () => {
    const head = await repo.head();
    const web = await waitFor('web synced on the hub', async () => {
      const a = await hubApp('web');
      return a?.revision === head && a.syncStatus === 'synced' && a.health === 'healthy'
        ? a
        : undefined;
    });
    assert.equal(web.syncMode, 'auto');
    const h = await waitFor('web sync in history', async () =>
      (await history()).find((s) => s.app === 'web' && s.result === 'succeeded'),
    );
    assert.equal(h.revision, head);
    assert.ok(
      agentSyncTraces().includes(h.traceId),
      'the hub keeps the trace id of the agent sync',
    );
    assert.match(h.traceId, /^[0-9a-f]{32}$/);
  });

  it('drift made in the cluster shows in the hub drift list, healed, with who changed it', async () => {
    await editSettings('web');
    const d = await waitFor(
      'healed drift on the hub',
      async () =>
        (await drifts()).find((x) => x.objectRef === 'v1 ConfigMap web/settings' && x.healed),
      30_000,
    );
    assert.equal(d.changedBy, 'kubectl-edit');
    assert.equal(await mode('web'), 'steady', 'healed in the cluster');
  });

  it('an approval for the exact revision and plan digest syncs a manual app; a stale digest does nothing', async () => {
    const head = await repo.head();
    const gated = await waitFor('gated waits for approval on the hub', async () => {
      const a = await hubApp('gated');
      return a?.planDigest && a.syncStatus === 'out-of-sync' ? a : undefined;
    });
    assert.equal(gated.syncMode, 'manual');
    const approver = await api(hub, admin, 'POST', '/api/v1/api-tokens', {
      name: 'ana',
      role: 'approver',
    });
    assert.equal(approver.status, 201, JSON.stringify(approver.body));
    const who = approver.body.token as string;
    secrets.push(who.split('.')[1]!);

    const stale = await api(hub, who, 'POST', '/api/v1/approvals', {
      cluster: CLUSTER,
      app: 'gated',
      revision: head,
      planDigest: `sha256:${'0'.repeat(64)}`,
    });
    // The hub refuses an approval of a plan that is not pending, so it never reaches the agent.
    assert.equal(stale.status, 409, JSON.stringify(stale.body));
    assert.match(String(stale.body.error.message), /is not pending/);
    assert.equal(await liveRev('gated'), undefined, 'a stale approval changes nothing');

    const good = await api(hub, who, 'POST', '/api/v1/approvals', {
      cluster: CLUSTER,
      app: 'gated',
      revision: head,
      planDigest: gated.planDigest,
    });
    assert.equal(good.status, 201, JSON.stringify(good.body));
    const synced = await waitFor('approved sync in history', async () =>
      (await history()).find((s) => s.app === 'gated' && s.result === 'succeeded'),
    );
    assert.equal(synced.approvalId, good.body.id ?? synced.approvalId);
    assert.ok(synced.approvalId, 'the sync names its approval');
    assert.equal(await liveRev('gated'), 'gated-1');
    const pending = await api(hub, admin, 'GET', '/api/v1/approvals?pending=true');
    assert.equal(pending.body.items.length, 0, 'the agent acked the approval');
  });

  it('the hub killed for a while: the agent keeps reconciling, and every change arrives once after restart', async () => {
    const grpcAddress = hub.grpc;
    const httpAddress = hub.http.replace(/^http:\/\//, '');
    await hub.kill();

    await repo.commit({ 'apps/web/settings.yaml': settings('2') }, 'web: rev 2');
    await waitFor('rev 2 applied with the hub down', async () =>
      (await liveRev('web')) === '2' ? true : undefined,
    );
    await editSettings('web');
    await waitFor('drift healed with the hub down', async () =>
      (await mode('web')) === 'steady' ? true : undefined,
    );
    await repo.commit({ 'apps/web/settings.yaml': settings('3') }, 'web: rev 3');
    const head = await repo.head();
    await waitFor('rev 3 applied with the hub down', async () =>
      (await liveRev('web')) === '3' ? true : undefined,
    );

    hub = await startHub({
      dataDir: hub.dataDir,
      grpcAddress,
      httpAddress,
      args: ['--client-cert-ttl', '45s'],
    });
    await waitFor('the hub shows rev 3', async () => {
      const a = await hubApp('web');
      return a?.revision === head && a.syncStatus === 'synced' ? a : undefined;
    });
    await historyMatchesAgents();
    assert.equal(
      (await carries()).length,
      agentCarries().length,
      'every app the agent carried to a commit is in the history once, as a carry',
    );
    assert.ok(
      (await history()).some((s) => s.revision === head) &&
        (await history()).some((s) => s.app === 'web' && s.result === 'succeeded'),
    );
    await waitFor('healed drifts all on the hub', async () =>
      (await drifts()).filter((d) => d.healed).length >= agentHealedDrifts() ? true : undefined,
    );
    assert.equal((await drifts()).filter((d) => d.healed).length, agentHealedDrifts());
  });

  it('renews its certificate over the stream before it expires and stores it', async () => {
    const before = await serialOf();
    await waitFor(
      'a renewed certificate in the Secret',
      async () =>
        agent.logs().some((l) => String(l['msg']).startsWith('hub link: certificate renewed')) &&
        (await serialOf()) !== before
          ? true
          : undefined,
      60_000,
      500,
    );
    // Once per 2/3 of a lifetime, not in a loop (the hub backdates notBefore by 5 minutes).
    const renewals = agent
      .logs()
      .filter((l) => String(l['msg']).startsWith('hub link: certificate renewed')).length;
    assert.ok(renewals <= 2, `${renewals} renewals`);
  });

  it('a restarted agent reuses its identity (no token) and goes on numbering', async () => {
    await agent.stop();
    const syncsBefore = (await syncs()).length;
    launch(false);
    await waitFor('reconnected with the stored identity', () =>
      agent.logs().some((l) => String(l['msg']).startsWith('hub link: connected'))
        ? true
        : undefined,
    );
    assert.ok(agent.logs().some((l) => String(l['msg']).includes('using the stored identity')));
    assert.ok(!agent.logs().some((l) => String(l['msg']).includes('enrolled')));
    await repo.commit({ 'apps/web/settings.yaml': settings('4') }, 'web: rev 4');
    const head = await repo.head();
    await waitFor('the hub shows rev 4', async () =>
      (await hubApp('web'))?.revision === head ? true : undefined,
    );
    const hubTraces = await historyMatchesAgents();
    assert.ok(hubTraces.length > syncsBefore);
  });

  it('a revoked cluster is cut off and cannot reconnect; the agent keeps reconciling', async () => {
    const rv = await api(hub, admin, 'POST', `/api/v1/clusters/${CLUSTER}/revoke`);
    assert.equal(rv.status, 200, JSON.stringify(rv.body));
    // The stream may end by a reset before the refusal arrives: then the refusal comes on the
    // next connect, after a reconnect backoff of up to 15 s (jittered).
    await waitFor(
      'the agent sees the refusal',
      () =>
        agent.logs().some((l) => String(l['msg']).startsWith('hub link refused'))
          ? true
          : undefined,
      60_000,
    );
    await repo.commit({ 'apps/web/settings.yaml': settings('5') }, 'web: rev 5');
    const head = await repo.head();
    await waitFor('rev 5 applied while cut off', async () =>
      (await liveRev('web')) === '5' ? true : undefined,
    );
    // The rev 5 report is made and kept in the agent's outbox journal, unacknowledged: the
    // later event after which it would have reached the hub, had the link not been cut.
    await waitFor('the rev 5 report kept in the agent outbox', async () => {
      const journal = JSON.parse(await readFile(path.join(workDir, 'hub-outbox.json'), 'utf8')) as {
        entries: { message: string }[];
      };
      return journal.entries.some((e) =>
        Buffer.from(e.message, 'base64').toString('latin1').includes(head),
      )
        ? true
        : undefined;
    });
    const c = (await api(hub, admin, 'GET', `/api/v1/clusters/${CLUSTER}`)).body;
    assert.equal(c.connected, false);
    assert.notEqual((await hubApp('web'))?.revision, head, 'nothing reaches the hub any more');
    assert.equal(agent.proc.exitCode, null, 'the agent is still running');
  });

  it('never logs a secret', () => {
    const text = agents.map((a) => a.text()).join('\n');
    for (const s of secrets) assert.ok(!text.includes(s), 'a secret was logged');
  });
});
