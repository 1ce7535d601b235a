/**
 * Health that gates waves, on a real cluster with a scheduler, the volume
 * controllers and kwok: a claim that binds on its first consumer (case 22)
 * and a LoadBalancer Service without an address do not hold back later
 * waves; an app's own CEL rule decides when its custom resource is healthy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitServer,
} from '@driftless/test';
import { clusterYaml, makeAgent, type TestAgent } from './fleet.ts';
import { startCase } from './cases.ts';

describe('health that gates waves', () => {
  let cluster: Cluster;
  let git: GitServer;
  const agents: TestAgent[] = [];

  before(async () => {
    [cluster, git] = await Promise.all([startCluster({ workloads: true }), startGitServer()]);
  });
  after(async () => {
    for (const a of agents) await a.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  it('case 22: a WaitForFirstConsumer claim in wave 0 lets wave 1 create the pod that binds it', async () => {
    const c = await startCase('22-pvc-wait-for-first-consumer', {
      kubeConfig: cluster.kubeConfig,
      git,
    });
    agents.push(c.t);
    await c.t.agent.reconcileOnce();
    const sync = c.t.recorder.lastSync('c22-db');
    assert.equal(sync?.outcome, 'succeeded', sync?.error);
    const db = await c.t.client.get({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: 'c22',
      name: 'db',
    });
    assert.equal((db?.['status'] as { availableReplicas?: number }).availableReplicas, 1);
    const pvc = await c.t.client.get({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      namespace: 'c22',
      name: 'data',
    });
    assert.equal((pvc?.['status'] as { phase?: string }).phase, 'Bound');
    assert.equal(sync?.health, 'Healthy');
  });

  describe('a LoadBalancer without an address, and a CEL rule for a custom kind', () => {
    let t: TestAgent;
    before(async () => {
      const repo = await git.createRepo('health-fleet');
      await repo.commit(
        {
          'clusters/test/driftless.yaml': clusterYaml(`
    - name: edge
      path: apps/edge
      namespace: edge
      createNamespace: true
      healthTimeout: 20s
    - name: widgets
      path: apps/widgets
      namespace: cel
      createNamespace: true
      allowedClusterKinds: [apiextensions.k8s.io/CustomResourceDefinition]
      healthTimeout: 60s
      health:
        - group: cel.example.com
          kind: Widget
          healthy: "has(object.status) && object.status.phase == 'Ready'"
          degraded: "has(object.status) && object.status.phase == 'Failed'"
`),
          'apps/edge/kustomization.yaml': 'resources: [lb.yaml, after.yaml]\n',
          'apps/edge/lb.yaml':
            'apiVersion: v1\nkind: Service\nmetadata:\n  name: public\n  annotations:\n    driftless.dev/sync-wave: "0"\nspec:\n  type: LoadBalancer\n  selector: { app: web }\n  ports: [{ port: 80 }]\n',
          'apps/edge/after.yaml':
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after-lb\n  annotations:\n    driftless.dev/sync-wave: "1"\ndata:\n  ok: "yes"\n',
          'apps/widgets/crd.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.cel.example.com
spec:
  group: cel.example.com
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget, listKind: WidgetList }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`,
          'apps/widgets/widget.yaml':
            'apiVersion: cel.example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 1\n',
          'apps/widgets/after.yaml':
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after-widget\n  annotations:\n    driftless.dev/sync-wave: "1"\ndata:\n  ok: "yes"\n',
        },
        'health fleet',
      );
      t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
      agents.push(t);
    });

    it('the CEL rule holds wave 1 back until the widget is Ready, then releases it', async () => {
      const widget = {
        apiVersion: 'cel.example.com/v1',
        kind: 'Widget',
        namespace: 'cel',
        name: 'w1',
      };
      const afterWidget = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: 'cel',
        name: 'after-widget',
      };
      const pass = t.agent.reconcileOnce();
      // Play the widget's controller: once the widget exists, check wave 1 waits, then set it Ready.
      await waitFor('the widget created', async () => {
        const failed = t.recorder.lastSync('widgets');
        if (failed) return { failed };
        return (
          !!(await t.client.resource('cel.example.com/v1', 'Widget')) &&
          !!(await t.client.get(widget)) && { failed: undefined }
        );
      }).then(({ failed }) => {
        if (failed) throw new Error(`the sync ended before the widget was Ready: ${failed.error}`);
      });
      assert.equal(await t.client.get(afterWidget), undefined, 'wave 1 waits for the widget');
      const r = await t.client.mustResource(widget);
      await t.client.request('PATCH', `${t.client.collectionPath(r, 'cel')}/w1`, {
        body: { status: { phase: 'Ready' } },
        contentType: 'application/merge-patch+json',
        query: { fieldManager: 'widget-controller' },
      });
      await pass;
      const sync = t.recorder.lastSync('widgets');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      assert.equal(sync?.health, 'Healthy');
      assert.ok(await t.client.get(afterWidget));
    });

    it('a LoadBalancer Service without an address does not hold back the next wave', async () => {
      const sync = t.recorder.lastSync('edge');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      assert.ok(
        await t.client.get({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          namespace: 'edge',
          name: 'after-lb',
        }),
      );
      const status = t.agent.statuses().find((s) => s.app === 'edge');
      assert.equal(status?.health, 'Progressing', 'not Healthy: it still has no address');
    });
  });
});
