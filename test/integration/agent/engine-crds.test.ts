/**
 * CRDs and their resources in one sync, on a real kube-apiserver that never
 * had the CRD: plain YAML (case 02, also a schema change with the resource
 * using the new field), Kustomize, a Helm chart's `crds/` folder, a manual
 * app whose approval binds to a plan made before the CRD exists, and a kind
 * defined nowhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, startGitServer, type Cluster, type GitServer } from '@driftless/test';
import { clusterYaml, makeAgent, type TestAgent } from './fleet.ts';
import { startCase, type CaseFleet } from './cases.ts';

/** A namespaced CRD of `kind` in `group`, whose spec has the given integer/string fields. */
function crd(group: string, kind: string, fields: Record<string, 'integer' | 'string'>): string {
  const plural = `${kind.toLowerCase()}s`;
  const props = Object.entries(fields)
    .map(([name, type]) => `                ${name}: { type: ${type} }`)
    .join('\n');
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: { plural: ${plural}, singular: ${kind.toLowerCase()}, kind: ${kind}, listKind: ${kind}List }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
${props}
`;
}

const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;

describe('CRDs and their resources in one sync', () => {
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

  const get = (t: TestAgent, apiVersion: string, kind: string, namespace: string, name: string) =>
    t.client.get({ apiVersion, kind, namespace, name });

  it('case 02: a CRD and a resource of it sync in one pass; a schema change with the new field too', async () => {
    // As handed: an app limited to its namespace brings its own new CRD (tenancy default).
    const c: CaseFleet = await startCase('02-crd-and-cr-one-app', {
      kubeConfig: cluster.kubeConfig,
      git,
    });
    agents.push(c.t);
    await c.t.agent.reconcileOnce();
    const first = c.t.recorder.lastSync('c02-widgets');
    assert.equal(first?.outcome, 'succeeded', first?.error);
    const widget = await get(c.t, 'c02.example.com/v1', 'Widget', 'c02', 'first');
    assert.deepEqual(widget?.['spec'], { size: 3 });
    assert.equal(
      first?.objects.find((o) => o.ref.kind === 'Widget')?.action,
      'create',
      'the plan shows the resource',
    );

    await c.step(2);
    const second = c.t.recorder.lastSync('c02-widgets');
    assert.equal(second?.outcome, 'succeeded', second?.error);
    assert.notEqual(second?.revision, first?.revision);
    const updated = await get(c.t, 'c02.example.com/v1', 'Widget', 'c02', 'first');
    assert.deepEqual(updated?.['spec'], { size: 3, color: 'blue' });
    const change = second?.objects.find((o) => o.ref.kind === 'Widget');
    assert.equal(change?.action, 'update');
    assert.deepEqual(change?.diff, [{ path: '.spec.color', after: 'blue' }]);
  });

  describe('Kustomize, Helm, manual approval and unknown kinds', () => {
    let t: TestAgent;
    before(async () => {
      const repo = await git.createRepo('crds-fleet');
      await repo.commit(
        {
          'clusters/test/driftless.yaml': clusterYaml(`
    - name: kust
      path: apps/kust
      namespace: kcrd
    - name: chart
      path: apps/chart
      namespace: hcrd
      createNamespace: true
    - name: gated
      path: apps/gated
      namespace: mcrd
      sync: manual
    - name: nowhere
      path: apps/nowhere
      namespace: nowhere
`),
          'apps/kust/kustomization.yaml':
            'resources: [crd.yaml, ns.yaml, gadget.yaml]\nnamespace: kcrd\n',
          'apps/kust/crd.yaml': crd('k.example.com', 'Gadget', { size: 'integer' }),
          'apps/kust/ns.yaml': ns('kcrd'),
          'apps/kust/gadget.yaml':
            'apiVersion: k.example.com/v1\nkind: Gadget\nmetadata:\n  name: g1\nspec:\n  size: 2\n',
          'apps/chart/Chart.yaml': 'apiVersion: v2\nname: gizmos\nversion: 0.1.0\n',
          'apps/chart/crds/gizmo.yaml': crd('h.example.com', 'Gizmo', { size: 'integer' }),
          'apps/chart/templates/gizmo.yaml':
            'apiVersion: h.example.com/v1\nkind: Gizmo\nmetadata:\n  name: {{ .Release.Name }}-gizmo\nspec:\n  size: 4\n',
          'apps/gated/crd.yaml': crd('m.example.com', 'Doohickey', { size: 'integer' }),
          'apps/gated/ns.yaml': ns('mcrd'),
          'apps/gated/thing.yaml':
            'apiVersion: m.example.com/v1\nkind: Doohickey\nmetadata:\n  name: d1\nspec:\n  size: 1\n',
          'apps/nowhere/ns.yaml': ns('nowhere'),
          'apps/nowhere/thing.yaml':
            'apiVersion: nowhere.example.com/v1\nkind: Phantom\nmetadata:\n  name: p1\n',
        },
        'CRDs in every renderer',
      );
      t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
      agents.push(t);
      await t.agent.reconcileOnce();
    });

    it('a Kustomize app with a CRD and its resource syncs in one pass', async () => {
      const sync = t.recorder.lastSync('kust');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      assert.deepEqual((await get(t, 'k.example.com/v1', 'Gadget', 'kcrd', 'g1'))?.['spec'], {
        size: 2,
      });
    });

    it("a Helm chart's crds/ folder and a resource of it sync in one pass", async () => {
      const sync = t.recorder.lastSync('chart');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      const gizmo = await get(t, 'h.example.com/v1', 'Gizmo', 'hcrd', 'chart-gizmo');
      assert.deepEqual(gizmo?.['spec'], { size: 4 });
    });

    it('a manual app is planned before its CRD exists, and the approval of that plan applies it', async () => {
      const waiting = t.recorder.lastSync('gated');
      assert.equal(waiting?.outcome, 'waiting-approval', waiting?.error);
      assert.deepEqual(waiting?.objects.map((o) => `${o.action} ${o.ref.kind}`).sort(), [
        'create CustomResourceDefinition',
        'create Doohickey',
        'create Namespace',
      ]);
      assert.equal(
        await t.client.resource('m.example.com/v1', 'Doohickey'),
        undefined,
        'nothing was applied before the approval',
      );
      // A second pass plans the same: the digest covers the resource planned from its manifest.
      await t.agent.reconcileOnce();
      const digest = t.agent.statuses().find((s) => s.app === 'gated')?.planDigest;
      assert.equal(digest, waiting?.planDigest);

      t.approvals.add({
        approvalId: 'crd-ok',
        app: 'gated',
        revision: waiting?.revision ?? '',
        planDigest: waiting?.planDigest ?? '',
        approvedBy: 'alice',
      });
      await t.agent.reconcileOnce();
      const synced = t.recorder.lastSync('gated');
      assert.equal(synced?.outcome, 'succeeded', synced?.error);
      assert.equal(synced?.approvalId, 'crd-ok');
      assert.deepEqual((await get(t, 'm.example.com/v1', 'Doohickey', 'mcrd', 'd1'))?.['spec'], {
        size: 1,
      });
    });

    it('a kind defined nowhere fails with one short message naming the kind, and applies nothing', async () => {
      const sync = t.recorder.lastSync('nowhere');
      assert.equal(sync?.outcome, 'failed');
      assert.equal(sync?.retryable, false);
      assert.match(sync?.error ?? '', /unknown kind Phantom \(nowhere\.example\.com\/v1\)/);
      assert.ok((sync?.error.length ?? 0) < 400, sync?.error);
      assert.equal(await get(t, 'v1', 'Namespace', '', 'nowhere'), undefined);
    });
  });
});
