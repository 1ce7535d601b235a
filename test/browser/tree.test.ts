// The live object tree on the app page, in Chromium (playwright-core), against the real hub, a
// real agent and a real workloads cluster (kube-apiserver, controller-manager, scheduler, kwok):
// the Deployment opens onto its ReplicaSet and Pods with health colours, nodes expand and
// collapse, Events show under their node, Refresh asks the agent again. Saves the screenshot that
// docs/dashboard.md shows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
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
import { ensureDashboardBuilt, launchBrowser, newPage, screenshot } from './fleet.ts';

const FILES = {
  'clusters/prod/driftless.yaml': `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: podinfo
      path: apps/podinfo
      namespace: podinfo
      createNamespace: true
      healthTimeout: 30s
`,
  'apps/podinfo/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 3
  selector:
    matchLabels: { app: podinfo }
  template:
    metadata:
      labels: { app: podinfo }
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:6.7.0
`,
  'apps/podinfo/service.yaml': `apiVersion: v1
kind: Service
metadata:
  name: podinfo
spec:
  selector: { app: podinfo }
  ports: [{ port: 9898 }]
`,
  'apps/podinfo/config.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-settings
data:
  color: blue
`,
};

describe('the live object tree on the app page', { timeout: 240_000 }, () => {
  let cluster: Cluster;
  let git: GitServer;
  let hub: Hub;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    [cluster, git] = await Promise.all([startCluster({ workloads: true }), startGitServer()]);
    hub = await startHub();
    const repo = await git.createRepo('fleet');
    await repo.commit(FILES, 'podinfo for prod');
    agent = startAgent({
      cluster,
      clusterName: 'prod',
      repoUrl: repo.url,
      gitCredentials: git.credentials,
      hub,
      token: await createEnrollmentToken(hub, 'prod'),
    });
    await waitFor(
      'prod/podinfo Healthy on the hub',
      async () =>
        (
          await hubApi(hub).get<{ items: { app: string; health: string }[] }>(
            '/api/v1/apps?cluster=prod',
          )
        ).items.some((a) => a.app === 'podinfo' && a.health === 'healthy') || undefined,
      { timeoutMs: 120_000 },
    );
    browser = await launchBrowser();
    ({ page } = await newPage(browser));
    await page.goto(hub.httpUrl + '/');
    await page.getByLabel('API token').fill(hub.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await agent?.stop();
    await hub?.stop();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  it('shows the Deployment, its ReplicaSet and Pods with health, expandable, with Events', async () => {
    await page.goto(`${hub.httpUrl}/#/apps/prod/podinfo`);
    const tree = page.getByRole('region', { name: 'Live objects' });
    await tree.waitFor();
    const item = (name: string | RegExp) => tree.getByRole('treeitem', { name, exact: true });
    const deployment = item('Deployment podinfo/podinfo');
    await deployment.first().waitFor();
    // Managed objects start open: the ReplicaSet shows under the Deployment, and under it the Pods.
    const rs = deployment
      .first()
      .getByRole('treeitem', { name: /^ReplicaSet podinfo\/podinfo-/ })
      .first();
    await rs.waitFor();
    await waitFor(
      'three Healthy Pods under the ReplicaSet',
      async () => {
        // The page has the operators' cluster Refresh too; this one asks the agent for the tree.
        const refresh = page.getByRole('button', { name: 'Refresh live objects' });
        await refresh.click();
        await refresh.and(page.locator(':enabled')).waitFor();
        const expand = rs.getByRole('button', { name: /^Expand ReplicaSet/ });
        if (await expand.count()) await expand.first().click();
        const pods = rs.getByRole('treeitem', { name: /^Pod podinfo\/podinfo-/ });
        const healthy = pods.filter({ hasText: 'Healthy' });
        return (await pods.count()) === 3 && (await healthy.count()) === 3 ? true : undefined;
      },
      { timeoutMs: 60_000, everyMs: 1000 },
    );
    const badge = deployment.first().locator('.tree-node .badge').first();
    assert.match((await badge.getAttribute('class')) ?? '', /tone-ok/, 'healthy is green');
    assert.equal(await badge.textContent(), '♥Healthy');
    // Events of the Deployment show under it.
    assert.match(
      (await deployment.first().locator('.tree-events').first().textContent()) ?? '',
      /ScalingReplicaSet/,
    );
    // The ConfigMap and the Service are managed roots too.
    await item('ConfigMap podinfo/podinfo-settings').waitFor();
    await item('Service podinfo/podinfo').waitFor();
    await screenshot(page, 'dashboard-tree.png', true);

    // Collapsing the Deployment hides its children.
    await deployment.first().getByRole('button', { name: 'Collapse Deployment podinfo' }).click();
    assert.equal(await deployment.first().getByRole('treeitem').count(), 0);
    await deployment.first().getByRole('button', { name: 'Expand Deployment podinfo' }).click();
    assert.ok((await deployment.first().getByRole('treeitem').count()) > 0);
  });
});
