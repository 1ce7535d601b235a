/**
 * Handed cases 11 and 13 (fixtures copied from the shared cases) with the
 * agent engine on a real kube-apiserver and a real Git server: a chart that
 * renders for the cluster it is applied to, and a kustomization whose
 * `helmCharts` use a vendored chart or need the network.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, startGitServer, type Cluster, type GitServer } from '@driftless/test';
import { makeAgent, type TestAgent } from './fleet.ts';

const CASES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'cases');

/** Every file of a case's `repo/` folder, by its path in the repository. */
function caseFiles(name: string): Record<string, string> {
  const root = path.join(CASES, name, 'repo');
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else files[path.relative(root, full).split(path.sep).join('/')] = readFileSync(full, 'utf8');
    }
  };
  walk(root);
  return files;
}

describe('handed cases 11 and 13 on a real cluster', () => {
  let cluster: Cluster;
  let git: GitServer;
  const agents: TestAgent[] = [];

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
  });
  after(async () => {
    for (const a of agents) await a.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  async function syncCase(name: string): Promise<TestAgent> {
    const repo = await git.createRepo(name);
    await repo.commit(caseFiles(name), name);
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    agents.push(t);
    await t.agent.reconcileOnce();
    return t;
  }

  it('11: the chart sees the cluster version and the CRD applied by the app it depends on', async () => {
    const t = await syncCase('11-helm-capabilities');
    const monitoring = t.recorder.syncs.find((s) => s.app === 'c11-monitoring');
    assert.equal(monitoring?.outcome, 'succeeded', monitoring?.error);
    const version = await t.client.request<{ gitVersion: string }>('GET', '/version');
    const info = await t.client.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'c11',
      name: 'c11-monitoring-render-info',
    });
    assert.deepEqual(info?.['data'], { kubeVersion: version.gitVersion, hasGadgetApi: 'true' });
    const gadget = await t.client.get({
      apiVersion: 'c11.example.com/v1',
      kind: 'Gadget',
      namespace: 'c11',
      name: 'c11-monitoring-probe',
    });
    assert.equal((gadget?.['spec'] as { interval?: string } | undefined)?.interval, '30s');
  });

  it('13: a vendored helmCharts chart renders; one from the network fails saying what to set or vendor', async () => {
    const t = await syncCase('13-kustomize-helmcharts');
    const greeter = t.recorder.syncs.find((s) => s.app === 'c13-greeter');
    assert.equal(greeter?.outcome, 'succeeded', greeter?.error);
    const cm = await t.client.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'c13',
      name: 'greeter-config',
    });
    assert.deepEqual(cm?.['data'], { greeting: 'hello from prod', env: 'prod' });
    const remote = t.recorder.syncs.find((s) => s.app === 'c13-remote');
    assert.equal(remote?.outcome, 'failed');
    assert.match(
      remote?.error ?? '',
      /chart podinfo from https:\/\/charts\.example\.invalid needs the network: vendor it into apps\/remote-chart\/charts\/podinfo .* or set kustomize\.allowRemoteCharts: true on app c13-remote in driftless\.yaml/,
    );
    assert.ok(!/must specify --enable-helm/.test(remote?.error ?? ''));
  });
});
