/**
 * Handed cases 11 and 13 (files copied verbatim into cases/) with the
 * agent engine on a real kube-apiserver and a real Git server: a chart that
 * renders for the cluster it is applied to, and a kustomization whose
 * `helmCharts` use a vendored chart or need the network.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, startGitServer, type Cluster, type GitServer } from '@driftless/test';
import { caseFiles } from './cases.ts';
import { makeAgent, type TestAgent } from './fleet.ts';

const BIN = fileURLToPath(new URL('../../../agent/bin/driftless-agent.ts', import.meta.url));

/** Runs `driftless-agent` as a user would, with only the given KUBECONFIG. */
function cli(args: string[], cwd: string, kubeconfig?: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: cwd };
    delete env['KUBECONFIG'];
    if (kubeconfig) env['KUBECONFIG'] = kubeconfig;
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
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
    await repo.commit(await caseFiles(name), name);
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

    // The CLI renders the same chart for the kubeconfig's cluster, and offline for Helm's defaults.
    const dir = mkdtempSync(path.join(tmpdir(), 'driftless-case11-cli-'));
    try {
      for (const [rel, text] of Object.entries(await caseFiles('11-helm-capabilities'))) {
        mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        writeFileSync(path.join(dir, rel), text);
      }
      const args = ['apps/monitoring', '--app', 'c11-monitoring', '-n', 'c11', '-o', 'json'];
      const online = await cli(['render', ...args], dir, cluster.kubeconfigPath);
      assert.equal(online.code, 0, online.stderr);
      const items = (
        JSON.parse(online.stdout) as { items: Array<{ kind: string; data?: unknown }> }
      ).items;
      assert.deepEqual(items.map((o) => o.kind).sort(), ['ConfigMap', 'Gadget']);
      assert.deepEqual(items.find((o) => o.kind === 'ConfigMap')?.data, {
        kubeVersion: version.gitVersion,
        hasGadgetApi: 'true',
      });
      const offline = await cli(['render', ...args, '--offline'], dir);
      assert.equal(offline.code, 0, offline.stderr);
      const offlineItems = (
        JSON.parse(offline.stdout) as { items: Array<{ kind: string; data?: unknown }> }
      ).items;
      assert.deepEqual(
        offlineItems.map((o) => [o.kind, o.data]),
        [['ConfigMap', { kubeVersion: 'v1.34.0', hasGadgetApi: 'false' }]],
      );
      const diff = await cli(
        ['diff', 'apps/monitoring', '--app', 'c11-monitoring', '-n', 'c11', '-v'],
        dir,
        cluster.kubeconfigPath,
      );
      // 0: nothing to change, 3: changes; either way the Gadget was rendered and planned.
      assert.ok(diff.code === 0 || diff.code === 3, `${diff.stdout}${diff.stderr}`);
      assert.match(diff.stdout, /Gadget c11\/c11-monitoring-probe/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
      /chart podinfo from https:\/\/charts\.example\.invalid needs the network: vendor it into apps\/remote-chart\/charts\/podinfo-6\.5\.0\/podinfo \(helm pull podinfo --repo https:\/\/charts\.example\.invalid --version 6\.5\.0 --untar --untardir apps\/remote-chart\/charts\/podinfo-6\.5\.0\) or set kustomize\.allowRemoteCharts: true on app c13-remote in driftless\.yaml/,
    );
    assert.ok(!/must specify --enable-helm/.test(remote?.error ?? ''));
  });
});
