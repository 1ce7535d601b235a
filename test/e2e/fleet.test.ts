/**
 * End to end, as a person uses Driftless: two real clusters with workloads (dev, prod), a real
 * Git server with the example fleet, the real `driftless-hub` process (SQLite, webhook receiver)
 * and one real `driftless-agent run` process per cluster, enrolled with tokens from the hub API.
 * Every expectation is checked where a person would look: the hub's HTTP API and the clusters.
 * The whole suite runs twice, once per link: gRPC+mTLS, and NATS (a real nats-server with
 * JetStream trusting the hub's operator; the agents run with `--transport nats`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '@driftless/agent';
import { hubApi } from '@driftless/test';
import { overlay, type FleetCluster } from '../demo/fleet.ts';
import {
  startEnvironment,
  waitFor,
  type Environment,
  type EnvironmentTransport,
  type HubApp,
} from '../demo/environment.ts';

/** A sync as `GET /api/v1/history` lists it. */
interface HubSync {
  cluster: string;
  app: string;
  revision: string;
  result: string;
  traceId: string;
  approvalId: string;
  steps: { name: string }[];
}

/** A record of an app carried to a commit that left its sources alone: no sync ran. */
const isCarry = (s: HubSync) => s.steps.length === 1 && s.steps[0]?.name === 'carry';

/** A drift record as `GET /api/v1/drift` lists it. */
interface HubDrift {
  cluster: string;
  driftId: string;
  app: string;
  objectRef: string;
  changedBy: string;
  healed: boolean;
  detectedAt: string;
  healedAt: string | null;
}

// The agents poll Git every 2 s so that commits made while the hub is down (no webhook
// delivery possible) land quickly; with the hub up, the webhook hint brings them at once.
const POLL_INTERVAL = '2s';
const OUTAGE_MS = 30_000; // the hub outage

/** The scenarios, over one link between agents and hub. */
function fleetSuite(transport: EnvironmentTransport): void {
  let env: Environment;
  const kube = {} as Record<FleetCluster, KubeClient>;

  const apps = () => env.apps();
  const app = async (cluster: FleetCluster, name: string): Promise<HubApp | undefined> =>
    (await apps()).find((a) => a.cluster === cluster && a.app === name);
  const history = async (): Promise<HubSync[]> =>
    (await env.api.get<{ items: HubSync[] }>('/api/v1/history?limit=1000')).items;
  const drifts = async (query = ''): Promise<HubDrift[]> =>
    (await env.api.get<{ items: HubDrift[] }>(`/api/v1/drift?state=all&limit=5000${query}`)).items;
  const replicas = async (cluster: FleetCluster): Promise<number | undefined> => {
    const d = await kube[cluster].get({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: 'podinfo',
      name: 'podinfo',
    });
    return (d?.['spec'] as { replicas?: number } | undefined)?.replicas;
  };
  /** What `kubectl scale` does, under the manager name the hub should report. */
  const scaleByHand = (cluster: FleetCluster, count: number) =>
    kube[cluster].apply(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'podinfo', namespace: 'podinfo' },
        spec: { replicas: count },
      },
      { fieldManager: 'kubectl-edit', force: true },
    );
  /** Waits until every app of the fleet is Synced and Healthy at `revision` on the hub. */
  const allSyncedAt = (revision: string, timeoutMs = 60_000) =>
    waitFor(
      `every app Synced and Healthy at ${revision.slice(0, 7)} on the hub`,
      async () => {
        const list = await apps();
        return list.length === 4 &&
          list.every(
            (a) => a.revision === revision && a.syncStatus === 'synced' && a.health === 'healthy',
          )
          ? list
          : undefined;
      },
      { timeoutMs, everyMs: 100 },
    );
  /** Approves `cluster`/`app` at the hub's pending revision and plan digest, as an approver. */
  const approve = async (approver: string, revision: string, planDigest: string) =>
    hubApi(env.hub, approver).request<{ id: string }>('POST', '/api/v1/approvals', {
      cluster: 'prod',
      app: 'podinfo',
      revision,
      planDigest,
    });
  let approverToken: string;

  before(async () => {
    env = await startEnvironment({ pollInterval: POLL_INTERVAL, transport });
    kube.dev = await KubeClient.fromKubeConfig(env.clusters.dev.kubeConfig);
    kube.prod = await KubeClient.fromKubeConfig(env.clusters.prod.kubeConfig);
    approverToken = (
      await env.api.post<{ token: string }>('/api/v1/api-tokens', {
        name: 'release-manager',
        role: 'approver',
      })
    ).token;
    // The fleet's first commit leaves prod's podinfo waiting for an approval; give it, so
    // every test starts from a fleet that is Synced and Healthy everywhere.
    const head = await env.repo.head();
    const pending = await waitFor('prod podinfo waiting for approval', async () => {
      const a = await app('prod', 'podinfo');
      return a?.revision === head && a.syncStatus === 'out-of-sync' && a.planDigest ? a : undefined;
    });
    const first = await approve(approverToken, head, pending.planDigest);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    await allSyncedAt(head);
  });
  after(async () => {
    kube.dev?.close();
    kube.prod?.close();
    await env?.stop();
  });

  it('(1) a commit makes both clusters converge; the hub shows every app Synced and Healthy at it', async () => {
    const started = Date.now();
    const head = await env.commit(
      {
        // infrastructure (both clusters): one more label on the namespace
        'infrastructure/namespaces.yaml':
          'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n  labels:\n    team: web\n    tier: frontend\n',
        'apps/podinfo/overlays/dev/kustomization.yaml': overlay('dev', 2),
      },
      'dev: 2 replicas; label the podinfo namespace',
    );
    const list = await allSyncedAt(head);
    console.log(`commit → every app Synced+Healthy at it on the hub: ${Date.now() - started} ms`);
    assert.deepEqual(list.map((a) => `${a.cluster}/${a.app}`).sort(), [
      'dev/infrastructure',
      'dev/podinfo',
      'prod/infrastructure',
      'prod/podinfo',
    ]);
    assert.equal(await replicas('dev'), 2);
    assert.equal(await replicas('prod'), 2, 'prod overlay unchanged');
    for (const c of ['dev', 'prod'] as const) {
      const ns = await kube[c].get({
        apiVersion: 'v1',
        kind: 'Namespace',
        namespace: '',
        name: 'podinfo',
      });
      const labels = (ns?.['metadata'] as { labels?: Record<string, string> }).labels;
      assert.equal(labels?.['tier'], 'frontend', `${c}: namespace label applied`);
    }
    const syncs = (await history()).filter(
      (s) => s.revision === head && s.result === 'succeeded' && !isCarry(s),
    );
    assert.ok(syncs.some((s) => s.cluster === 'dev' && s.app === 'podinfo'));
    assert.ok(
      syncs.every((s) => /^[0-9a-f]{32}$/.test(s.traceId)),
      'each sync has its trace id',
    );
  });

  it('(2) drift made in a cluster shows in the fleet-wide drift list at once and is healed', async () => {
    const before = new Set((await drifts()).map((d) => `${d.cluster}/${d.driftId}`));
    const made = Date.now();
    await scaleByHand('dev', 5);
    let seenAt = 0;
    const drift = await waitFor(
      'the drift on the hub, healed',
      async () => {
        const found = (await drifts('&cluster=dev')).find(
          (d) =>
            !before.has(`dev/${d.driftId}`) && d.objectRef.endsWith('Deployment podinfo/podinfo'),
        );
        if (found && !seenAt) seenAt = Date.now();
        return found?.healed ? found : undefined;
      },
      { timeoutMs: 30_000, everyMs: 20 },
    );
    const healedOnHub = Date.now();
    console.log(
      `drift → in the hub's drift list: ${seenAt - made} ms; → shown healed: ${healedOnHub - made} ms ` +
        `(agent: detected ${Date.parse(drift.detectedAt) - made} ms, healed ${Date.parse(drift.healedAt!) - made} ms after the edit)`,
    );
    assert.equal(drift.changedBy, 'kubectl-edit', 'the hub names who changed it');
    assert.equal(drift.app, 'podinfo');
    assert.equal(await replicas('dev'), 2, 'healed in the cluster: Git says 2');
    // Generous: the design's bound is "within a second"; a loaded 2-core VM gets some slack.
    assert.ok(seenAt - made < 5_000, `drift reached the hub after ${seenAt - made} ms`);
  });

  it('(3) a manual prod app waits for an approval through the hub API; a stale digest does nothing', async () => {
    const head = await env.commit(
      { 'apps/podinfo/overlays/prod/kustomization.yaml': overlay('prod', 3) },
      'prod: 3 replicas',
    );
    const pending = await waitFor('prod podinfo waiting at the new commit', async () => {
      const a = await app('prod', 'podinfo');
      return a?.revision === head && a.syncStatus === 'out-of-sync' && a.planDigest ? a : undefined;
    });
    assert.equal(pending.syncMode, 'manual');
    assert.equal(await replicas('prod'), 2, 'nothing applied without an approval');
    // A later pass must not apply either: the prod agent re-plans podinfo on every sync of a new
    // commit, so once it reports the next commit (which leaves podinfo as it is), that pass too
    // has come and gone without an approval.
    const later = await env.commit(
      {
        'infrastructure/namespaces.yaml':
          'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n  labels:\n    team: web\n    tier: frontend\n    approval: pending\n',
      },
      'label the namespace while prod waits for an approval',
    );
    const stillPending = await waitFor(
      'prod podinfo still waiting at the later commit',
      async () => {
        const a = await app('prod', 'podinfo');
        return a?.revision === later && a.syncStatus === 'out-of-sync' && a.planDigest
          ? a
          : undefined;
      },
    );
    assert.equal(await replicas('prod'), 2, 'a later pass applies nothing without an approval');

    // The hub refuses an approval of a plan that is not pending, so it never reaches the agent.
    const stale = await approve(approverToken, later, `${'0'.repeat(64)}`);
    assert.equal(stale.status, 409, JSON.stringify(stale.body));
    assert.equal(await replicas('prod'), 2, 'a stale approval changes nothing');
    assert.equal((await app('prod', 'podinfo'))?.syncStatus, 'out-of-sync');

    const good = await approve(approverToken, later, stillPending.planDigest);
    assert.equal(good.status, 201, JSON.stringify(good.body));
    const synced = await waitFor('the approved sync in the history', async () =>
      (await history()).find(
        (s) =>
          s.cluster === 'prod' &&
          s.revision === later &&
          s.result === 'succeeded' &&
          s.app === 'podinfo',
      ),
    );
    assert.equal(synced.approvalId, good.body.id, 'the sync names its approval');
    assert.equal(await replicas('prod'), 3);
    await allSyncedAt(later);
  });

  it('(4) the hub SIGKILLed for 30 s while commits land and drift happens: every change arrives once', async () => {
    const old = env.hub;
    await old.kill();
    const killedAt = Date.now();

    // Commits: no webhook can be delivered, so the agents find them by polling.
    const rev1 = await env.repo.commit(
      { 'apps/podinfo/overlays/dev/kustomization.yaml': overlay('dev', 3) },
      'dev: 3 replicas (hub down)',
    );
    await waitFor('dev at 3 replicas with the hub down', async () =>
      (await replicas('dev')) === 3 ? true : undefined,
    );
    await scaleByHand('dev', 7);
    await scaleByHand('prod', 9);
    await waitFor('both drifts healed with the hub down', async () =>
      (await replicas('dev')) === 3 && (await replicas('prod')) === 3 ? true : undefined,
    );
    const rev2 = await env.repo.commit(
      {
        'infrastructure/namespaces.yaml':
          'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n  labels:\n    team: web\n    tier: frontend\n    outage: survived\n',
      },
      'label the namespace (hub down)',
    );
    for (const c of ['dev', 'prod'] as const) {
      await waitFor(`${c} namespace labelled with the hub down`, async () => {
        const ns = await kube[c].get({
          apiVersion: 'v1',
          kind: 'Namespace',
          namespace: '',
          name: 'podinfo',
        });
        return (ns?.['metadata'] as { labels?: Record<string, string> }).labels?.['outage']
          ? true
          : undefined;
      });
    }
    assert.notEqual(rev1, rev2);
    // The hub stays down for the whole outage, and (over gRPC, where the agents lose their
    // link) until every agent has tried to reach it again after the last change, so the
    // reports of that change had to wait in its outbox.
    const retries = () =>
      env.allAgents.map(
        (a) => a.logs().filter((l) => /^hub link: .*retrying in/.test(String(l['msg']))).length,
      );
    const retriedBefore = retries();
    await waitFor(
      `the hub down for ${OUTAGE_MS} ms and every agent retrying after the last change`,
      () =>
        Date.now() - killedAt >= OUTAGE_MS &&
        (transport === 'nats' || retries().every((n, i) => n > (retriedBefore[i] ?? 0))),
      { timeoutMs: OUTAGE_MS + 60_000, everyMs: 250 },
    );

    // Same data directory, ports, webhook secret (and NATS server: it stayed up, so over NATS
    // the agents' reports waited in JetStream rather than in their outboxes).
    await env.restartHub();
    const back = Date.now();
    console.log(`hub down for ${back - killedAt} ms`);
    await allSyncedAt(rev2, 60_000);
    console.log(`hub restart → fleet at the last commit on the hub: ${Date.now() - back} ms`);

    // Sync history: exactly the syncs the agents logged, each once.
    const agentSyncs = env.allAgents.flatMap((a) =>
      a
        .logs()
        .filter((l) => typeof l['msg'] === 'string' && /^sync \S+@/.test(l['msg']))
        .map((l) => `${a.clusterName}/${String(l['trace_id'])}`),
    );
    const agentCarries = env.allAgents.flatMap((a) =>
      a.logs().filter((l) => typeof l['msg'] === 'string' && /^carry \S+@/.test(l['msg'])),
    );
    const syncsOnHub = async () => (await history()).filter((s) => !isCarry(s));
    await waitFor('every sync the agents reported in the hub history', async () =>
      (await syncsOnHub()).length >= agentSyncs.length ? true : undefined,
    );
    const hubSyncs = (await syncsOnHub()).map((s) => `${s.cluster}/${s.traceId}`);
    assert.equal(new Set(hubSyncs).size, hubSyncs.length, 'no sync recorded twice');
    assert.deepEqual([...hubSyncs].sort(), [...agentSyncs].sort(), 'none lost, none duplicated');
    await waitFor('every app the agents carried to a commit in the hub history', async () =>
      (await history()).filter(isCarry).length === agentCarries.length ? true : undefined,
    );

    // Drift records: one per drift the agents healed, each healed, none twice.
    const agentHealed = env.allAgents.flatMap((a) =>
      a
        .logs()
        .filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('healed drift of'))
        .map((l) => `${a.clusterName}/${String(l['driftId'])}`),
    );
    await waitFor('every healed drift on the hub', async () =>
      (await drifts()).filter((d) => d.healed).length >= agentHealed.length ? true : undefined,
    );
    const hubDrifts = (await drifts()).map((d) => `${d.cluster}/${d.driftId}`);
    assert.equal(new Set(hubDrifts).size, hubDrifts.length, 'no drift recorded twice');
    assert.deepEqual(
      (await drifts())
        .filter((d) => d.healed)
        .map((d) => `${d.cluster}/${d.driftId}`)
        .sort(),
      [...agentHealed].sort(),
      'the hub has exactly the drifts the agents healed',
    );
    const outage = (await drifts()).filter((d) => Date.parse(d.detectedAt) >= killedAt);
    assert.deepEqual(
      outage.map((d) => d.cluster).sort(),
      ['dev', 'prod'],
      'both drifts made during the outage arrived',
    );
    assert.ok(outage.every((d) => d.changedBy === 'kubectl-edit' && d.healed));
  });

  it('(5) a restarted agent reuses its identity; a revoked cluster is cut off', async () => {
    const agent = await env.restartAgent('dev');
    await waitFor('the restarted dev agent connected', () =>
      agent.logs().some((l) => String(l['msg']).startsWith('hub link: connected'))
        ? true
        : undefined,
    );
    assert.ok(agent.logs().some((l) => String(l['msg']).includes('using the stored identity')));
    assert.ok(!agent.logs().some((l) => /\benrolled\b/.test(String(l['msg']))));
    // An infrastructure change: what is checked here is the link, not a rollout.
    const head = await env.commit(
      {
        'infrastructure/namespaces.yaml':
          'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n  labels:\n    team: web\n    restarted: agent\n',
      },
      'label the namespace (agent restarted)',
    );
    await waitFor('the hub shows dev at the commit from the restarted agent', async () => {
      const a = await app('dev', 'infrastructure');
      return a?.revision === head && a.syncStatus === 'synced' ? true : undefined;
    }).catch(async (error: unknown) => {
      // What the agent did and what the hub shows, to tell a lost report from a missed commit.
      console.log(JSON.stringify(await apps()), agent.process.logTail(40));
      throw error;
    });
    const tokens = (
      await env.api.get<{ items: { cluster: string; state: string }[] }>('/api/v1/tokens')
    ).items;
    assert.ok(tokens.filter((t) => t.cluster === 'dev').every((t) => t.state === 'used'));

    const revoked = await env.api.request<{ revoked: boolean }>(
      'POST',
      '/api/v1/clusters/prod/revoke',
    );
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    await waitFor('the prod agent sees the refusal', () =>
      env.agents.prod.logs().some((l) => String(l['msg']).startsWith('hub link refused'))
        ? true
        : undefined,
    );
    const cut = await env.commit(
      { 'apps/podinfo/overlays/prod/kustomization.yaml': overlay('prod', 4) },
      'prod: 4 replicas (cluster revoked)',
    );
    // The revoked agent keeps reconciling: it takes the commit (infrastructure, which the
    // commit leaves alone, is carried to it) and logs the report a connected agent would send at
    // once. Then dev's report of the same commit reaches the hub; prod's, had it been sent,
    // would have come with it.
    await waitFor('the prod agent logging infrastructure at the commit', () =>
      env.agents.prod
        .logs()
        .some((l) =>
          new RegExp(`^(sync|carry) infrastructure@${cut.slice(0, 7)}`).test(String(l['msg'])),
        ),
    );
    await waitFor('dev follows the commit', async () =>
      (await app('dev', 'infrastructure'))?.revision === cut ? true : undefined,
    );
    const prod = await env.api.get<{ connected: boolean; revoked: boolean }>(
      '/api/v1/clusters/prod',
    );
    assert.equal(prod.connected, false);
    assert.equal(prod.revoked, true);
    assert.notEqual(
      (await app('prod', 'infrastructure'))?.revision,
      cut,
      'nothing reaches the hub',
    );
    assert.equal(
      env.agents.prod.process.running,
      true,
      'the prod agent keeps reconciling from Git',
    );
  });
}

for (const transport of ['grpc', 'nats'] as const)
  describe(
    `Driftless end to end over ${transport}: two clusters, Git, hub and agents`,
    { timeout: 240_000 },
    () => fleetSuite(transport),
  );
