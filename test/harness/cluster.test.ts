import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type V1ConfigMap,
  type V1Deployment,
} from '@kubernetes/client-node';
import { startCluster, waitFor, type Cluster } from './index.ts';

const deployment: V1Deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'ghcr.io/stefanprodan/podinfo:6.7.0' }] },
    },
  },
};

describe('startCluster', () => {
  let workloads: Cluster;
  let plain: Cluster;

  before(async () => {
    [workloads, plain] = await Promise.all([
      startCluster({ workloads: true, name: 'workloads' }),
      startCluster({ name: 'plain' }),
    ]);
  });

  after(async () => {
    await Promise.all([workloads?.stop(), plain?.stop()]);
  });

  it('serves the API over HTTPS with the kubeconfig it wrote', async () => {
    assert.match(workloads.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const fromFile = new KubeConfig();
    fromFile.loadFromString(await readFile(workloads.kubeconfigPath, 'utf8'));
    assert.equal(fromFile.getCurrentCluster()?.server, workloads.server);
    const namespaces = await fromFile.makeApiClient(CoreV1Api).listNamespace();
    assert.ok(namespaces.items.some((ns) => ns.metadata?.name === 'kube-system'));
  });

  it('makes a server-side-applied Deployment Available in a workloads cluster', async () => {
    const objects = KubernetesObjectApi.makeApiClient(workloads.kubeConfig);
    await objects.patch(
      deployment,
      undefined,
      undefined,
      'driftless-test',
      true,
      PatchStrategy.ServerSideApply,
    );
    const apps = workloads.kubeConfig.makeApiClient(AppsV1Api);
    const available = await waitFor('Deployment default/web to be Available', async () => {
      const live = await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' });
      const condition = live.status?.conditions?.find((c) => c.type === 'Available');
      return condition?.status === 'True' && live.status?.availableReplicas === 2
        ? live
        : undefined;
    });
    assert.equal(available.status?.readyReplicas, 2);
    const managers = available.metadata?.managedFields?.map((f) => f.manager) ?? [];
    assert.ok(managers.includes('driftless-test'), `managers: ${managers.join(', ')}`);

    const pods = await workloads.kubeConfig
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' });
    assert.equal(pods.items.length, 2);
    for (const pod of pods.items) {
      assert.equal(pod.spec?.nodeName, workloads.nodeName);
      assert.equal(pod.status?.phase, 'Running');
    }
  });

  it('keeps two clusters apart', async () => {
    assert.notEqual(plain.server, workloads.server);
    const configMap: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'only-in-plain', namespace: 'default' },
      data: { cluster: 'plain' },
    };
    await plain.kubeConfig
      .makeApiClient(CoreV1Api)
      .createNamespacedConfigMap({ namespace: 'default', body: configMap });

    const inPlain = await plain.kubeConfig
      .makeApiClient(CoreV1Api)
      .listNamespacedConfigMap({ namespace: 'default' });
    const inWorkloads = await workloads.kubeConfig
      .makeApiClient(CoreV1Api)
      .listNamespacedConfigMap({ namespace: 'default' });
    assert.ok(inPlain.items.some((cm) => cm.metadata?.name === 'only-in-plain'));
    assert.ok(!inWorkloads.items.some((cm) => cm.metadata?.name === 'only-in-plain'));

    const deploymentsInPlain = await plain.kubeConfig
      .makeApiClient(AppsV1Api)
      .listNamespacedDeployment({ namespace: 'default' });
    assert.deepEqual(deploymentsInPlain.items, []);
    // Each cluster has its own PKI.
    assert.notEqual(
      plain.kubeConfig.getCurrentCluster()?.caData,
      workloads.kubeConfig.getCurrentCluster()?.caData,
    );
  });
});
