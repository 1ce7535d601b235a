/**
 * What the agent asks of a real API server and Git server, request by request: a cold sync of
 * an app into a Namespace it creates reads nothing inside that Namespace, checks each object
 * against the schema the server serves (dry-running only what that check cannot pass, so a bad
 * object is refused before anything is written) and writes each object once; an app in a Namespace that exists is still dry-run object by object (the
 * plan refuses a bad object before anything is written); a rollout is followed through the drift
 * watch, not polled; and a poll where nothing moved is one Git request and no API request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitServer,
} from '@driftless/test';
import { clusterYaml, makeAgent, type TestAgent } from './fleet.ts';

interface Sent {
  method: string;
  path: string;
  dryRun: boolean;
}

/** Records every request `client` sends from now on. */
function record(client: KubeClient): Sent[] {
  const sent: Sent[] = [];
  const request = client.request.bind(client);
  client.request = (method, path, options) => {
    sent.push({ method, path, dryRun: Boolean(options?.query?.['dryRun']) });
    return request(method, path, options);
  };
  return sent;
}

const configMaps = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `c${i}` },
      data: { i: String(i) },
    }),
  );
const service = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web' },
  spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
});
const app = (name: string, extra = '') =>
  `    - name: ${name}\n      path: apps/${name}\n      namespace: ${name}\n      prune: true\n${extra}`;

describe('API and Git requests of the agent', () => {
  let cluster: Cluster;
  let git: GitServer;
  let admin: KubeClient;
  const agents: TestAgent[] = [];

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    admin = await KubeClient.fromKubeConfig(cluster.kubeConfig);
  });
  after(async () => {
    for (const a of agents) await a.close();
    admin?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  it('creates an app in a Namespace it brings without reading or dry-running anything in it (the schema the server serves checks them), writing each object once', async () => {
    const repo = await git.createRepo('cold');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('cold')),
        'apps/cold/namespace.yaml': JSON.stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'cold' },
        }),
        'apps/cold/objects.yaml': [...configMaps(7), service].join('\n---\n'),
      },
      'cold app',
    );
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    agents.push(t);
    const sent = record(t.client);
    assert.equal(await t.agent.reconcileOnce(), true);
    const status = t.agent.statuses().find((s) => s.app === 'cold');
    assert.equal(status?.syncStatus, 'Synced');
    assert.equal(status?.health, 'Healthy');

    const inside = sent.filter((r) => r.path.includes('/namespaces/cold/'));
    assert.deepEqual(
      inside.filter((r) => r.method !== 'PATCH'),
      [],
      'no GET or LIST inside the new Namespace',
    );
    const objects = [
      ...Array.from({ length: 7 }, (_, i) => `configmaps/c${i}`).sort(),
      'services/web',
    ];
    const paths = (dryRun: boolean) =>
      inside
        .filter((r) => r.dryRun === dryRun)
        .map((r) => r.path.replace(/^.*\/namespaces\/cold\//, ''))
        .sort();
    assert.deepEqual(paths(true), [], 'no dry-run: each passed the schema the server serves');
    assert.deepEqual(paths(false), objects, 'one write each');
    assert.deepEqual(
      sent.filter((r) => r.path.startsWith('/openapi/')).map((r) => r.path.replace(/\?.*$/, '')),
      ['/openapi/v3', '/openapi/v3/api/v1'],
      'the OpenAPI index and the one document of the kinds, once',
    );
    const namespace = sent.filter((r) => r.path === '/api/v1/namespaces/cold');
    assert.deepEqual(
      namespace.map((r) => `${r.method}${r.dryRun ? ' dry-run' : ''}`).sort(),
      ['GET', 'PATCH', 'PATCH dry-run'],
      'the Namespace: read and dry-run by the plan, applied once, no health read',
    );
    const live = await admin.list('v1', 'ConfigMap', { namespace: 'cold' });
    assert.equal(live.items.filter((c) => /^c\d$/.test(c.metadata.name)).length, 7);
  });

  it('refuses an object of a new Namespace that its schema refuses before writing anything, the Namespace included', async () => {
    const wrongType = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'typed' },
      data: { count: 3 },
    });
    const undeclared = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'extra' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }], bogus: true },
    });
    const twins = JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'twins' },
      spec: {
        selector: { matchLabels: { app: 'twins' } },
        template: {
          metadata: { labels: { app: 'twins' } },
          spec: {
            containers: [
              { name: 'main', image: 'a' },
              { name: 'main', image: 'b' },
            ],
          },
        },
      },
    });
    const notBase64 = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'b64' },
      data: { token: 'not base64!' },
    });
    for (const [name, bad, what] of [
      ['coldtyped', wrongType, /ConfigMap coldtyped\/typed/],
      ['coldfield', undeclared, /Service coldfield\/extra/],
      ['coldtwins', twins, /Deployment coldtwins\/twins/],
      ['coldbytes', notBase64, /Secret coldbytes\/b64/],
    ] as const) {
      const repo = await git.createRepo(name);
      await repo.commit(
        {
          'clusters/test/driftless.yaml': clusterYaml(app(name)),
          [`apps/${name}/namespace.yaml`]: JSON.stringify({
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name },
          }),
          [`apps/${name}/objects.yaml`]: [...configMaps(3), bad].join('\n---\n'),
        },
        `${name} app with a bad object`,
      );
      const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
      agents.push(t);
      await t.agent.reconcileOnce();
      const status = t.agent.statuses().find((s) => s.app === name);
      assert.notEqual(status?.syncStatus, 'Synced');
      assert.match(t.recorder.lastSync(name)?.error ?? '', what);
      const namespaces = await admin.list('v1', 'Namespace');
      assert.equal(
        namespaces.items.some((n) => n.metadata.name === name),
        false,
        `nothing written: no Namespace ${name}`,
      );
    }
  });

  it('names an object of a new Namespace that only validation refuses in a failed sync, and its next plan writes nothing', async () => {
    // An invalid port passes the schema: the server judges it only after finding its Namespace,
    // so the first apply is where it fails; the sync must say so, not claim Synced.
    const bad = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'bad', annotations: { 'driftless.dev/sync-wave': '1' } },
      spec: { ports: [{ port: 99999 }] },
    });
    const repo = await git.createRepo('coldinvalid');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('coldinvalid')),
        'apps/coldinvalid/namespace.yaml': JSON.stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'coldinvalid' },
        }),
        'apps/coldinvalid/objects.yaml': [...configMaps(2), bad].join('\n---\n'),
      },
      'coldinvalid app with an invalid Service',
    );
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    agents.push(t);
    await t.agent.reconcileOnce();
    const first = t.recorder.lastSync('coldinvalid');
    assert.equal(first?.outcome, 'failed');
    assert.match(first?.error ?? '', /Service coldinvalid\/bad/);
    assert.notEqual(t.agent.statuses().find((s) => s.app === 'coldinvalid')?.syncStatus, 'Synced');

    // The Namespace exists now: the next plan dry-runs everything and refuses before writing.
    const sent = record(t.client);
    await t.agent.reconcileOnce();
    const again = t.recorder.lastSync('coldinvalid');
    assert.equal(again?.outcome, 'failed');
    assert.match(again?.error ?? '', /Service coldinvalid\/bad/);
    assert.deepEqual(
      sent.filter((r) => r.method === 'PATCH' && !r.dryRun).map((r) => r.path),
      [],
      'nothing written by the second sync',
    );
  });

  it('judges an object of an earlier wave afresh at the end: what its apply showed is not the health of the app later', async () => {
    const rules = [
      '      health:',
      "        - group: ''",
      '          kind: ConfigMap',
      `          healthy: "object.metadata.name != 'second' || (has(object.metadata.annotations) && 'go' in object.metadata.annotations)"`,
      `          degraded: "has(object.metadata.annotations) && 'broken' in object.metadata.annotations"`,
      '',
    ].join('\n');
    const cm = (name: string, wave: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, annotations: { 'driftless.dev/sync-wave': wave } },
        data: { name },
      });
    await admin.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'waves' } },
      { fieldManager: 'test' },
    );
    const repo = await git.createRepo('waves');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('waves', rules)),
        'apps/waves/objects.yaml': [cm('first', '0'), cm('second', '1'), cm('third', '2')].join(
          '\n---\n',
        ),
      },
      'two waves',
    );
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    agents.push(t);
    const pass = t.agent.reconcileOnce();
    const ref = (name: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'waves',
      name,
    });
    // Wave 1 is written and waited for (until it has `go`): meanwhile the wave-0 object, Healthy
    // when applied, breaks. The final wait must see that, not what wave 0's apply showed.
    await waitFor(
      'the second wave written',
      async () => (await admin.get(ref('second'))) !== undefined,
      {
        timeoutMs: 60_000,
      },
    );
    const annotate = (name: string, key: string) =>
      admin.request('PATCH', `/api/v1/namespaces/waves/configmaps/${name}`, {
        body: { metadata: { annotations: { [key]: 'yes' } } },
        contentType: 'application/merge-patch+json',
      });
    await annotate('first', 'broken');
    await annotate('second', 'go');
    await pass;
    const sync = t.recorder.lastSync('waves');
    assert.notEqual(sync?.health, 'Healthy', JSON.stringify(sync));
    assert.notEqual(sync?.outcome, 'succeeded');
    assert.match(sync?.error ?? '', /ConfigMap waves\/first Degraded/);
  });

  it('still dry-runs each object of an app in a Namespace that exists, and refuses a bad one before writing', async () => {
    await admin.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'warm' } },
      { fieldManager: 'test' },
    );
    const bad = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'bad' },
      spec: { ports: [{ port: 99999 }] },
    });
    const repo = await git.createRepo('warm');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('warm')),
        'apps/warm/objects.yaml': [...configMaps(3), bad].join('\n---\n'),
      },
      'warm app with a bad Service',
    );
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    agents.push(t);
    const sent = record(t.client);
    await t.agent.reconcileOnce();
    const dryRuns = sent.filter((r) => r.dryRun && r.path.includes('/namespaces/warm/'));
    assert.equal(dryRuns.length, 4, 'one dry-run per object');
    assert.match(t.recorder.lastSync('warm')?.error ?? '', /Service warm\/bad/);
    const live = await admin.list('v1', 'ConfigMap', { namespace: 'warm' });
    assert.equal(
      live.items.filter((c) => /^c\d$/.test(c.metadata.name)).length,
      0,
      'nothing written',
    );
  });

  it('spends one Git request and no API request on a poll where nothing moved', async () => {
    const repo = await git.createRepo('idle');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('idle')),
        'apps/idle/namespace.yaml': JSON.stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'idle' },
        }),
        'apps/idle/objects.yaml': [...configMaps(5), service].join('\n---\n'),
      },
      'idle app',
    );
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo, pollIntervalMs: 200 });
    agents.push(t);
    const sent = record(t.client);
    t.agent.start();
    await waitFor(
      'the app Synced and Healthy',
      () => {
        const s = t.agent.statuses().find((x) => x.app === 'idle');
        return s?.syncStatus === 'Synced' && s.health === 'Healthy';
      },
      { timeoutMs: 60_000 },
    );
    // Settled: a whole poll without a request (the drift watcher's first look is over).
    await waitFor(
      'a poll without API requests',
      async () => {
        const n = sent.length;
        await t.agent.nextTick();
        return sent.length === n;
      },
      { timeoutMs: 30_000 },
    );
    const api = sent.length;
    const gitBefore = git.requests.length;
    for (let i = 0; i < 5; i++) await t.agent.nextTick();
    const polls = git.requests.slice(gitBefore);
    assert.deepEqual(sent.slice(api), [], 'no API request');
    assert.ok(polls.length >= 5 && polls.length <= 6, `one Git request a poll: ${polls.length}`);
    for (const p of polls) {
      assert.equal(p.method, 'POST');
      assert.match(p.url, /\/idle\.git\/git-upload-pack$/);
      assert.ok(p.responseBytes < 200, `a small ls-refs answer: ${p.responseBytes} bytes`);
    }
  });
});

describe('API requests of a health wait', () => {
  let cluster: Cluster;
  let git: GitServer;
  let t: TestAgent | undefined;

  before(async () => {
    [cluster, git] = await Promise.all([startCluster({ workloads: true }), startGitServer()]);
  });
  after(async () => {
    await t?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  it("follows a rolling-out Deployment from its apply's answer and then its watch (a read only after 10 s without a word from the watch), and never reads what the apply showed Healthy", async () => {
    const labels = { app: 'web' };
    const repo = await git.createRepo('rollout');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(app('rollout')),
        'apps/rollout/namespace.yaml': JSON.stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'rollout' },
        }),
        'apps/rollout/objects.yaml': [
          ...configMaps(3),
          JSON.stringify({
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: 'web' },
            spec: {
              replicas: 1,
              selector: { matchLabels: labels },
              template: {
                metadata: { labels },
                spec: { containers: [{ name: 'main', image: 'registry.local/web:1.0' }] },
              },
            },
          }),
        ].join('\n---\n'),
      },
      'rollout app',
    );
    t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    const sent = record(t.client);
    assert.equal(await t.agent.reconcileOnce(), true);
    const status = t.agent.statuses().find((s) => s.app === 'rollout');
    assert.equal(status?.health, 'Healthy');
    const reads = (resource: string) =>
      sent.filter((r) => r.method === 'GET' && r.path.includes(`/namespaces/rollout/${resource}`))
        .length;
    assert.equal(reads('configmaps'), 0, 'ConfigMaps: judged from the apply');
    const healthMs =
      t.recorder.lastSync('rollout')?.steps.find((s) => s.name === 'health')?.durationMs ?? 0;
    assert.ok(healthMs > 0);
    // No read right after the apply: its answer is the first judgement, the watch the next.
    const bound = Math.floor(healthMs / 10_000);
    assert.ok(
      reads('deployments') <= bound,
      `${reads('deployments')} reads of the Deployment in a ${healthMs} ms wait (at most ${bound})`,
    );
  });
});
