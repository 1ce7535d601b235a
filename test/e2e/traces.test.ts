/**
 * End to end, in a real trace backend: a real cluster, Git server, `driftless-hub` and
 * `driftless-agent run`, both exporting OTLP to a real Jaeger v2. A commit is synced and the
 * trace is read back through Jaeger's query API: one trace holds the agent's sync span with a
 * span per step (and per apply wave) and the hub's ingest span as its child, with cluster, app,
 * revision and outcome as attributes; its id is the one on the applied objects and in the hub's
 * history. A hand edit is healed in a trace of its own, linked to the sync that set the value.
 * Both links, gRPC and NATS, carry the W3C context the hub joins.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '@driftless/agent';
import {
  createEnrollmentToken,
  createHubDataDir,
  hubApi,
  hubNatsConfig,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  startJaeger,
  startNats,
  tagOf,
  waitFor,
  type AgentProcess,
  type Cluster,
  type GitRepo,
  type GitServer,
  type Hub,
  type HubApi,
  type Jaeger,
  type JaegerSpan,
  type JaegerTrace,
  type NatsServer,
} from '@driftless/test';

const cm = (name: string, value: string, wave?: number) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${
    wave === undefined ? '' : `  annotations:\n    driftless.dev/sync-wave: "${wave}"\n`
  }data:\n  value: "${value}"\n`;
const DRIFTLESS_YAML = `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: web
      path: apps/web
      namespace: web
      createNamespace: true
      selfHeal: true
`;

interface HistoryItem {
  app: string;
  revision: string;
  result: string;
  traceId: string;
}
interface DriftItem {
  driftId: string;
  objectRef: string;
  healed: boolean;
  lastSyncTraceId: string;
}

/** The service that produced `span`. */
const serviceOf = (t: JaegerTrace, span: JaegerSpan) => t.processes[span.processID]?.serviceName;
/** The span id of `span`'s parent, or undefined for a root. */
const parentOf = (span: JaegerSpan) =>
  span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

for (const transport of ['grpc', 'nats'] as const)
  describe(`traces in Jaeger, end to end, agent reporting over ${transport}`, () => {
    let jaeger: Jaeger;
    let nats: NatsServer | undefined;
    let cluster: Cluster;
    let git: GitServer;
    let repo: GitRepo;
    let hub: Hub;
    let api: HubApi;
    let agent: AgentProcess;
    let client: KubeClient;

    before(async () => {
      jaeger = await startJaeger();
      const startLinkedHub = async () => {
        if (transport === 'grpc') return startHub({ env: jaeger.otelEnv() });
        const dataDir = createHubDataDir();
        nats = await startNats({ jetstream: true, config: hubNatsConfig(dataDir) });
        return startHub({ dataDir, args: ['--nats-url', nats.url], env: jaeger.otelEnv() });
      };
      [cluster, git, hub] = await Promise.all([startCluster(), startGitServer(), startLinkedHub()]);
      api = hubApi(hub);
      client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
      repo = await git.createRepo('fleet');
      await repo.commit(
        {
          'clusters/test/driftless.yaml': DRIFTLESS_YAML,
          'apps/web/first.yaml': cm('first', 'v1'),
          'apps/web/second.yaml': cm('second', 'v1', 1),
        },
        'fleet',
      );
      agent = startAgent({
        cluster,
        clusterName: 'test',
        repoUrl: repo.url,
        gitCredentials: git.credentials,
        hub,
        token: await createEnrollmentToken(hub, 'test'),
        pollInterval: '1s',
        transport,
        ...(nats ? { natsUrl: nats.url } : {}),
        env: jaeger.otelEnv(),
      });
    });
    after(async () => {
      await agent?.stop();
      client?.close();
      await Promise.all([hub?.stop(), cluster?.stop(), git?.stop()]);
      await Promise.all([nats?.stop(), jaeger?.stop()]);
    });

    /** The sync of `revision` as the hub's history has it, once it succeeded. */
    const syncOf = (revision: string) =>
      waitFor(`a succeeded sync of web at ${revision.slice(0, 7)} in the hub's history`, async () =>
        (
          await api.get<{ items: HistoryItem[] }>('/api/v1/history?cluster=test&app=web')
        ).items.find((i) => i.revision === revision && i.result === 'succeeded'),
      );

    it('shows a sync as one trace of agent and hub spans, with the id on the objects and in the history', async () => {
      const revision = await repo.commit(
        { 'apps/web/first.yaml': cm('first', 'v2'), 'apps/web/second.yaml': cm('second', 'v2', 1) },
        'web v2',
      );
      const { traceId } = await syncOf(revision);
      assert.match(traceId, /^[0-9a-f]{32}$/);

      // Jaeger has the whole trace once every span the test reads has arrived: the hub exports
      // its ingest spans in batches, the status change's possibly after the sync result's.
      const trace = await waitFor(
        `trace ${traceId} with the agent's sync and the hub's ingest`,
        async () => {
          const t = await jaeger.trace(traceId);
          const names = new Set(t?.spans.map((s) => s.operationName));
          const all = ['sync', 'health', 'ingest syncResult', 'ingest appStatus'];
          return t && all.every((n) => names.has(n)) ? t : undefined;
        },
      );
      const sync = trace.spans.find((s) => s.operationName === 'sync')!;
      assert.equal(serviceOf(trace, sync), 'driftless-agent');
      assert.equal(parentOf(sync), undefined, 'the sync span is the root');
      assert.equal(tagOf(sync, 'k8s.cluster.name'), 'test');
      assert.equal(tagOf(sync, 'driftless.app'), 'web');
      assert.equal(tagOf(sync, 'k8s.namespace.name'), 'web');
      assert.equal(tagOf(sync, 'vcs.ref.head.revision'), revision);
      assert.equal(tagOf(sync, 'driftless.sync.outcome'), 'succeeded');
      const agentProcess = trace.processes[sync.processID]!;
      assert.equal(
        agentProcess.tags.find((t) => t.key === 'vcs.repository.url.full')?.value,
        repo.url,
      );

      const childrenOf = (parent: JaegerSpan) =>
        trace.spans.filter((s) => parentOf(s) === parent.spanID);
      // The agent's steps, and the hub storing the result and each status change on the way.
      assert.deepEqual([...new Set(childrenOf(sync).map((s) => s.operationName))].sort(), [
        'apply',
        'fetch',
        'guard',
        'health',
        'ingest appStatus',
        'ingest syncResult',
        'plan',
        'prune',
        'render',
      ]);
      // One span per apply wave: the ConfigMaps are in waves 0 and 1.
      const apply = childrenOf(sync).find((s) => s.operationName === 'apply')!;
      const waves = childrenOf(apply).map((s) => s.operationName);
      assert.ok(waves.includes('apply namespaced wave 0'), String(waves));
      assert.ok(waves.includes('apply namespaced wave 1'), String(waves));

      // The hub's handling joined the agent's trace, as a child of the sync.
      const ingest = childrenOf(sync).find((s) => s.operationName === 'ingest syncResult')!;
      assert.equal(serviceOf(trace, ingest), 'driftless-hub');
      assert.equal(tagOf(ingest, 'k8s.cluster.name'), 'test');
      assert.equal(tagOf(ingest, 'driftless.app'), 'web');
      assert.equal(tagOf(ingest, 'vcs.ref.head.revision'), revision);
      assert.equal(tagOf(ingest, 'driftless.sync.outcome'), 'succeeded');

      // The applied objects name this very span: trace id and the full W3C traceparent.
      for (const name of ['first', 'second']) {
        const live = await client.get(
          { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'web', name },
          undefined,
        );
        const annotations = live?.metadata.annotations ?? {};
        assert.equal(annotations['driftless.dev/trace-id'], traceId, name);
        assert.equal(
          annotations['driftless.dev/traceparent'],
          `00-${traceId}-${sync.spanID}-01`,
          name,
        );
      }
    });

    it('traces a heal in its own trace, linked to the sync that set the value', async () => {
      const revision = await repo.commit({ 'apps/web/first.yaml': cm('first', 'v3') }, 'web v3');
      const { traceId: syncTraceId } = await syncOf(revision);
      const syncTrace = await waitFor('the sync trace in Jaeger', async () => {
        const t = await jaeger.trace(syncTraceId);
        return t?.spans.some((s) => s.operationName === 'sync') ? t : undefined;
      });
      const syncSpan = syncTrace.spans.find((s) => s.operationName === 'sync')!;

      // A hand edit of a field Git declares: drift, healed by the agent.
      await client.apply(
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'first', namespace: 'web' },
          data: { value: 'edited by hand' },
        },
        { fieldManager: 'kubectl-edit', force: true },
      );
      const drift = await waitFor('the hand edit healed, as the hub records it', async () =>
        (
          await api.get<{ items: DriftItem[] }>('/api/v1/drift?cluster=test&app=web&state=all')
        ).items.find((d) => d.objectRef === 'v1 ConfigMap web/first' && d.healed),
      );
      assert.equal(drift.lastSyncTraceId, syncTraceId);

      const heal = await waitFor(`the heal span of drift ${drift.driftId} in Jaeger`, async () => {
        for (const t of await jaeger.findTraces('driftless-agent', 'heal')) {
          const span = t.spans.find(
            (s) => s.operationName === 'heal' && tagOf(s, 'driftless.drift.id') === drift.driftId,
          );
          if (span) return { trace: t, span };
        }
        return undefined;
      });
      assert.notEqual(heal.trace.traceID, syncTraceId, 'a heal is a trace of its own');
      assert.equal(parentOf(heal.span), undefined);
      assert.equal(tagOf(heal.span, 'driftless.app'), 'web');
      assert.equal(tagOf(heal.span, 'driftless.object.name'), 'first');
      assert.equal(tagOf(heal.span, 'driftless.drift.changed_by'), 'kubectl-edit');
      assert.deepEqual(
        heal.span.references
          .filter((r) => r.refType === 'FOLLOWS_FROM')
          .map((r) => [r.traceID, r.spanID]),
        [[syncTraceId, syncSpan.spanID]],
        'a span link to the sync that set the value',
      );
      // The hub's ingest of the healed drift report joins the heal's trace.
      const healTrace = await waitFor('the hub ingest span in the heal trace', async () => {
        const t = await jaeger.trace(heal.trace.traceID);
        return t?.spans.some(
          (s) => s.operationName === 'ingest driftReport' && parentOf(s) === heal.span.spanID,
        )
          ? t
          : undefined;
      });
      const ingest = healTrace.spans.find((s) => s.operationName === 'ingest driftReport')!;
      assert.equal(serviceOf(healTrace, ingest), 'driftless-hub');
      assert.equal(tagOf(ingest, 'driftless.drift.id'), drift.driftId);
    });
  });
