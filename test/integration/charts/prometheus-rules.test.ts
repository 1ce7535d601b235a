/**
 * The hub chart's alerts and Grafana dashboard: the rendered PrometheusRule loads in the real
 * `promtool` (Debian's `prometheus` package) and passes its unit tests of series
 * (prometheus-rules.promtool.yaml), the dashboard ships as a ConfigMap the Grafana sidecar
 * picks up, and every metric the rules and the dashboard use is one a real `driftless-hub` and
 * `driftless-agent run` expose on /metrics once the agent has synced an app.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import {
  createEnrollmentToken,
  hubApi,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  waitFor,
  type AgentProcess,
  type Cluster,
  type GitServer,
  type Hub,
} from '@driftless/test';

const run = promisify(execFile);
const CHART = path.resolve(import.meta.dirname, '../../../charts/hub');
const UNIT_TESTS = path.join(import.meta.dirname, 'prometheus-rules.promtool.yaml');

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
}
interface Manifest {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { groups: { name: string; rules: Rule[] }[] };
  data?: Record<string, string>;
}

/** `helm template` of the hub chart with the alerts and the dashboard on. */
async function renderChart(): Promise<Manifest[]> {
  const { stdout } = await run('helm', [
    'template',
    'demo',
    CHART,
    '--kube-version',
    'v1.34.4',
    '--set',
    'prometheusRule.enabled=true',
    '--set',
    'grafanaDashboard.enabled=true',
  ]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((o): o is Manifest => o !== null);
}

/** Every `driftless_…` metric name a PromQL expression mentions. */
const metricNames = (expr: string): string[] => expr.match(/\bdriftless_[a-z0-9_]+/g) ?? [];

/** Every PromQL expression in a Grafana dashboard: panel targets and template variable queries. */
function dashboardExprs(dashboard: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'expr' || k === 'query' || k === 'definition') && typeof x === 'string')
        out.push(x);
      else walk(x);
    }
  };
  walk(dashboard);
  return out;
}

/**
 * The sample names a /metrics text exposes: each family from its `# TYPE` line (so a family
 * with no series yet still counts), and for histograms and summaries their `_bucket`, `_sum`
 * and `_count` series.
 */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram' || type === 'summary')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

describe('the hub chart alerts and dashboard', () => {
  let manifests: Manifest[];
  let cluster: Cluster;
  let git: GitServer;
  let hub: Hub;
  let agent: AgentProcess;
  const work = mkdtempSync(path.join(tmpdir(), 'driftless-rules-'));

  before(async () => {
    manifests = await renderChart();
  });
  after(async () => {
    await agent?.stop();
    await Promise.all([hub?.stop(), cluster?.stop(), git?.stop()]);
    rmSync(work, { recursive: true, force: true });
  });

  const rules = () => {
    const rule = manifests.find((m) => m.kind === 'PrometheusRule');
    assert.ok(rule?.spec, 'the chart renders a PrometheusRule');
    return rule.spec.groups.flatMap((g) => g.rules);
  };
  const dashboard = () => {
    const cm = manifests.find((m) => m.metadata.name === 'demo-driftless-dashboard');
    assert.ok(cm?.data?.['driftless.json'], 'the chart renders the dashboard ConfigMap');
    return { cm, json: JSON.parse(cm.data['driftless.json']) as { title: string } };
  };

  it('ships neither unless asked', async () => {
    const { stdout } = await run('helm', ['template', 'demo', CHART, '--kube-version', 'v1.34.4']);
    assert.doesNotMatch(stdout, /kind: PrometheusRule/);
    assert.doesNotMatch(stdout, /grafana_dashboard/);
  });

  it('has rules promtool loads, and they fire as their unit tests expect', async () => {
    assert.deepEqual(
      rules()
        .map((r) => r.alert)
        .sort(),
      [
        'DriftlessAppDegraded',
        'DriftlessAppSyncFailed',
        'DriftlessClusterDisconnected',
        'DriftlessDriftNotHealed',
        'DriftlessIngestLag',
      ],
    );
    const groups = manifests.find((m) => m.kind === 'PrometheusRule')!.spec!.groups;
    writeFileSync(path.join(work, 'rules.yaml'), stringify({ groups }));
    copyFileSync(UNIT_TESTS, path.join(work, 'tests.yaml'));
    const check = await run('promtool', ['check', 'rules', 'rules.yaml'], { cwd: work });
    assert.match(check.stdout, /SUCCESS: 5 rules found/);
    const test = await run('promtool', ['test', 'rules', 'tests.yaml'], { cwd: work });
    assert.match(test.stdout, /SUCCESS/);
  });

  it('ships the Grafana dashboard as a ConfigMap with the sidecar label', () => {
    const { cm, json } = dashboard();
    assert.equal(cm.metadata.labels?.['grafana_dashboard'], '1');
    assert.equal(json.title, 'Driftless');
    assert.ok(dashboardExprs(json).length > 10);
  });

  it('uses only metrics a running hub and agent expose', async () => {
    [cluster, git, hub] = await Promise.all([startCluster(), startGitServer(), startHub()]);
    const repo = await git.createRepo('fleet');
    await repo.commit(
      {
        'clusters/test/driftless.yaml':
          'apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n    - name: web\n      path: apps/web\n      namespace: web\n      createNamespace: true\n',
        'apps/web/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  value: "v1"\n',
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
      env: { DRIFTLESS_METRICS_ADDRESS: '127.0.0.1:0' },
    });
    const agentMetricsUrl = await waitFor('the agent serving its metrics', () => {
      const line = agent.logs().find((l) => String(l['msg']).startsWith('serving metrics at '));
      return line ? String(line['msg']).slice('serving metrics at '.length) : undefined;
    });
    // Once a sync is in the hub, both sides have had something to count.
    await waitFor('a succeeded sync of web in the hub', async () =>
      (
        await hubApi(hub).get<{ items: { result: string }[] }>('/api/v1/history?cluster=test')
      ).items.some((i) => i.result === 'succeeded'),
    );
    const agentText = await (await fetch(agentMetricsUrl)).text();
    const hubText = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    const exposed = new Set([...exposedNames(agentText), ...exposedNames(hubText)]);
    // What the alerts and panels read is there, with the labels they use.
    assert.match(
      hubText,
      /driftless_hub_apps\{cluster="test",sync_status="synced",health="healthy"\} 1/,
    );
    assert.match(hubText, /driftless_hub_cluster_connected\{cluster="test"\} 1/);
    assert.match(
      agentText,
      /driftless_agent_syncs_total\{app="web",outcome="succeeded",cluster="test"\} [1-9]/,
    );
    assert.match(hubText, /driftless_hub_report_delay_seconds_count\{type="sync"\} [1-9]/);

    const used = new Map<string, string>();
    for (const r of rules()) for (const n of metricNames(r.expr)) used.set(n, `alert ${r.alert}`);
    for (const e of dashboardExprs(dashboard().json))
      for (const n of metricNames(e)) used.set(n, 'the Grafana dashboard');
    assert.ok(used.size > 10, `${used.size} metrics used`);
    const missing = [...used].filter(([n]) => !exposed.has(n)).map(([n, w]) => `${n} (${w})`);
    assert.deepEqual(
      missing,
      [],
      'metrics used by the rules or the dashboard that nothing exposes',
    );
  });
});
