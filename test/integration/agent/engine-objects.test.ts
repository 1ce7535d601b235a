/**
 * Objects with a lifecycle of their own, on a real cluster: immutable fields
 * (case 05) with one short error and an opt-in replace, never for claims;
 * run-once Jobs deleted by their TTL; objects protected from prune;
 * create-only objects; adoption of what kubectl and Helm made (case 07), in
 * plain YAML, Kustomize and Helm apps; and the app's namespace.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeClient, KubeObject, ObjectRef } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  type Cluster,
  type GitRepo,
  type GitServer,
  waitFor,
} from '@driftless/test';
import { clusterYaml, makeAgent, type TestAgent } from './fleet.ts';
import { caseFiles, startCase, type CaseFleet } from './cases.ts';

const uid = (o: KubeObject | undefined) => o?.metadata['uid'];

/** Creates an object the way another tool would: a POST as `manager`. */
async function createAs(client: KubeClient, manager: string, obj: KubeObject): Promise<void> {
  const r = await client.mustResource(obj);
  await client.request('POST', client.collectionPath(r, obj.metadata.namespace ?? ''), {
    body: obj,
    query: { fieldManager: manager },
  });
}

/** Merge-patches an object as `manager` (what `kubectl edit` sends). */
async function patchAs(client: KubeClient, manager: string, ref: ObjectRef, patch: object) {
  const r = await client.mustResource(ref);
  await client.request('PATCH', `${client.collectionPath(r, ref.namespace)}/${ref.name}`, {
    body: patch,
    contentType: 'application/merge-patch+json',
    query: { fieldManager: manager },
  });
}

/** Polls `check` until it holds, failing with `what` after `timeoutMs`. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  await waitFor(what, check, { timeoutMs, everyMs: 200 });
}

function job(name: string, image: string, extra = '', annotations = ''): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
${annotations ? `  annotations:\n${annotations}` : ''}spec:
${extra}  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: ${image}
`;
}

const cm = (name: string, data: Record<string, string>, annotations = '') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${annotations ? `  annotations:\n${annotations}` : ''}data:\n${Object.entries(
    data,
  )
    .map(([k, v]) => `  ${k}: "${v}"`)
    .join('\n')}\n`;

describe('objects with a lifecycle of their own', () => {
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

  describe('case 05: a changed Job template', () => {
    let c: CaseFleet;
    const get = (kind: string, name: string) =>
      c.t.client.get({
        apiVersion: kind === 'Job' ? 'batch/v1' : 'v1',
        kind,
        namespace: 'c05',
        name,
      });

    before(async () => {
      c = await startCase('05-immutable-job-template', { kubeConfig: cluster.kubeConfig, git });
      agents.push(c.t);
      await c.t.agent.reconcileOnce();
      assert.equal(c.t.recorder.lastSync('c05-migrate')?.outcome, 'succeeded');
    });

    it('fails with one short message naming the Job and the field, and applies nothing', async () => {
      const before = uid(await get('Job', 'db-migrate'));
      await c.step(2);
      const sync = c.t.recorder.lastSync('c05-migrate');
      assert.equal(sync?.outcome, 'failed');
      assert.equal(sync?.retryable, false);
      const error = sync?.error ?? '';
      assert.match(error, /Job c05\/db-migrate: Invalid: spec\.template: field is immutable/);
      assert.match(error, /driftless\.dev\/sync-options: Replace=true/);
      assert.ok(error.length < 400, `${error.length} characters: ${error}`);
      assert.equal(error.split('immutable').length - 1, 1, 'said once');
      const status = c.t.agent.statuses().find((s) => s.app === 'c05-migrate');
      assert.equal(status?.message.split('spec.template').length, 2, status?.message);
      assert.equal(uid(await get('Job', 'db-migrate')), before);
      assert.deepEqual((await get('ConfigMap', 'migrate-settings'))?.['data'], { target: '1' });
    });

    it('with Replace=true on the Job, deletes and creates it again', async () => {
      const before = uid(await get('Job', 'db-migrate'));
      const files = await caseFiles('05-immutable-job-template', 2);
      await c.repo.commit(
        {
          'apps/migrate/job.yaml': (files['apps/migrate/job.yaml'] ?? '').replace(
            '  name: db-migrate\n',
            '  name: db-migrate\n  annotations:\n    driftless.dev/sync-options: Replace=true\n',
          ),
        },
        'replace the migration Job',
      );
      await c.t.agent.reconcileOnce();
      const sync = c.t.recorder.lastSync('c05-migrate');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      const replaced = await get('Job', 'db-migrate');
      assert.notEqual(uid(replaced), before);
      assert.match(JSON.stringify(replaced?.['spec']), /migrate:2\.0/);
      assert.deepEqual((await get('ConfigMap', 'migrate-settings'))?.['data'], { target: '2' });
      const change = sync?.objects.find((o) => o.ref.kind === 'Job');
      assert.equal(change?.action, 'update');
      assert.ok(change?.diff.some((d) => d.path === '.metadata.uid' && d.after === '(replaced)'));
    });
  });

  it('replaces a StatefulSet whose forbidden field changed, with Replace=true (plain YAML)', async () => {
    const sts = (serviceName: string) => `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  annotations:
    driftless.dev/sync-options: Replace=true
spec:
  serviceName: ${serviceName}
  replicas: 1
  selector:
    matchLabels: { app: db }
  template:
    metadata:
      labels: { app: db }
    spec:
      containers:
        - name: db
          image: registry.local/db:1.0
`;
    const repo = await git.createRepo('sts-fleet');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(`
    - name: sts
      path: apps/sts
      namespace: sts
      createNamespace: true
      healthTimeout: 60s
`),
        'apps/sts/sts.yaml': sts('db'),
      },
      'a StatefulSet',
    );
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    agents.push(t);
    await t.agent.reconcileOnce();
    assert.equal(
      t.recorder.lastSync('sts')?.outcome,
      'succeeded',
      t.recorder.lastSync('sts')?.error,
    );
    const ref = { apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: 'sts', name: 'db' };
    const before = uid(await t.client.get(ref));
    await repo.commit({ 'apps/sts/sts.yaml': sts('db-headless') }, 'another service name');
    await t.agent.reconcileOnce();
    const sync = t.recorder.lastSync('sts');
    assert.equal(sync?.outcome, 'succeeded', sync?.error);
    const live = await t.client.get(ref);
    assert.notEqual(uid(live), before);
    assert.equal((live?.['spec'] as { serviceName: string }).serviceName, 'db-headless');
  });

  it('never deletes an object to replace it when the server would refuse its successor', async () => {
    const repo = await git.createRepo('bad-replacement');
    const jobFile = (image: string, restartPolicy: string) =>
      job('convert', image, '', '    driftless.dev/sync-options: Replace=true\n').replace(
        'restartPolicy: Never',
        `restartPolicy: ${restartPolicy}`,
      );
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(`
    - name: badrep
      path: apps/badrep
      namespace: badrep
      createNamespace: true
      healthTimeout: 60s
`),
        'apps/badrep/job.yaml': jobFile('registry.local/convert:1.0', 'Never'),
      },
      'a replaceable Job',
    );
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    agents.push(t);
    await t.agent.reconcileOnce();
    assert.equal(t.recorder.lastSync('badrep')?.outcome, 'succeeded');
    const ref = { apiVersion: 'batch/v1', kind: 'Job', namespace: 'badrep', name: 'convert' };
    const before = uid(await t.client.get(ref));
    await repo.commit(
      { 'apps/badrep/job.yaml': jobFile('registry.local/convert:2.0', 'Always') },
      'an invalid successor',
    );
    await t.agent.reconcileOnce();
    const sync = t.recorder.lastSync('badrep');
    assert.equal(sync?.outcome, 'failed');
    assert.match(sync?.error ?? '', /^plan replacement of Job badrep\/convert: .*restartPolicy/);
    assert.ok((sync?.error.length ?? 0) < 400, sync?.error);
    assert.equal(uid(await t.client.get(ref)), before, 'the old Job is still there');
  });

  describe('replace per app, claims never, run-once Jobs, protection, create-only, namespaces', () => {
    let t: TestAgent;
    let repo: GitRepo;
    const get = (apiVersion: string, kind: string, namespace: string, name: string) =>
      t.client.get({ apiVersion, kind, namespace, name });
    const APPS = (extra = '') =>
      clusterYaml(`
    - name: kust
      path: apps/kust
      namespace: objk
      createNamespace: true
      replace: true
      prune: true
      healthTimeout: 60s
    - name: once
      path: apps/once
      namespace: objo
      createNamespace: true
      healthTimeout: 60s
    - name: claims
      path: apps/claims
      namespace: objc
      createNamespace: true
      replace: true
      healthTimeout: 20s
    - name: bare
      path: apps/bare
      namespace: objb
${extra}`);

    before(async () => {
      repo = await git.createRepo('objects-fleet');
      await repo.commit(
        {
          'clusters/test/driftless.yaml': APPS(),
          'apps/kust/kustomization.yaml':
            'resources: [job.yaml, keep.yaml, helm-keep.yaml, seed.yaml]\n',
          'apps/kust/job.yaml': job('convert', 'registry.local/convert:1.0'),
          'apps/kust/keep.yaml': cm(
            'keep-me',
            { v: '1' },
            '    driftless.dev/sync-options: Prune=false\n',
          ),
          'apps/kust/helm-keep.yaml': cm(
            'helm-keep',
            { v: '1' },
            '    helm.sh/resource-policy: keep\n',
          ),
          'apps/kust/seed.yaml': cm(
            'seed',
            { v: '1' },
            '    driftless.dev/sync-options: CreateOnly=true\n',
          ),
          'apps/once/job.yaml': job(
            'once',
            'registry.local/once:1.0',
            '  ttlSecondsAfterFinished: 1\n',
          ),
          'apps/claims/pvc.yaml':
            'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  storageClassName: slow\n  resources:\n    requests: { storage: 1Gi }\n',
          'apps/bare/cm.yaml': cm('bare', { v: '1' }),
        },
        'objects fleet',
      );
      t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
      agents.push(t);
      await t.agent.reconcileOnce();
    });

    it('creates the app namespace with the ownership marks when asked to', async () => {
      const sync = t.recorder.lastSync('kust');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      const ns = await get('v1', 'Namespace', '', 'objk');
      assert.equal(ns?.metadata.labels?.['driftless.dev/app'], 'kust');
      assert.equal(ns?.metadata.labels?.['app.kubernetes.io/managed-by'], 'driftless');
    });

    it('without createNamespace, says once which namespace is missing', () => {
      const sync = t.recorder.lastSync('bare');
      assert.equal(sync?.outcome, 'failed');
      const error = sync?.error ?? '';
      assert.match(error, /namespace objb does not exist/);
      assert.match(error, /createNamespace: true/);
      assert.equal(error.split('objb').length - 1, 2, `named once, plus the object: ${error}`);
      assert.ok(error.length < 400, error);
    });

    it('replaces a Job per the app option (Kustomize)', async () => {
      const before = uid(await get('batch/v1', 'Job', 'objk', 'convert'));
      await repo.commit(
        { 'apps/kust/job.yaml': job('convert', 'registry.local/convert:2.0') },
        'convert 2.0',
      );
      await t.agent.reconcileOnce();
      const sync = t.recorder.lastSync('kust');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      assert.notEqual(uid(await get('batch/v1', 'Job', 'objk', 'convert')), before);
    });

    it('never replaces a PersistentVolumeClaim, even with replace on', async () => {
      await repo.commit(
        {
          'apps/claims/pvc.yaml':
            'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  storageClassName: fast\n  resources:\n    requests: { storage: 1Gi }\n',
        },
        'another storage class',
      );
      const before = uid(await get('v1', 'PersistentVolumeClaim', 'objc', 'data'));
      assert.ok(before);
      await t.agent.reconcileOnce();
      const sync = t.recorder.lastSync('claims');
      assert.equal(sync?.outcome, 'failed');
      assert.match(
        sync?.error ?? '',
        /PersistentVolumeClaim objc\/data: Invalid: spec: .*immutable.*; it is never replaced/,
      );
      assert.equal(uid(await get('v1', 'PersistentVolumeClaim', 'objc', 'data')), before);
    });

    it('does not create again a Job its TTL deleted, until its manifest changes', async () => {
      assert.equal(t.recorder.lastSync('once')?.outcome, 'succeeded');
      await eventually(
        'the TTL controller deleted the finished Job',
        async () => (await get('batch/v1', 'Job', 'objo', 'once')) === undefined,
      );
      await t.agent.reconcileOnce();
      assert.equal(await get('batch/v1', 'Job', 'objo', 'once'), undefined, 'not re-created');
      const status = t.agent.statuses().find((s) => s.app === 'once');
      assert.equal(status?.syncStatus, 'Synced');
      assert.equal(status?.health, 'Healthy');

      await repo.commit(
        {
          'apps/once/job.yaml': job(
            'once',
            'registry.local/once:2.0',
            '  ttlSecondsAfterFinished: 30\n',
          ),
        },
        'once 2.0',
      );
      await t.agent.reconcileOnce();
      assert.equal(t.recorder.lastSync('once')?.outcome, 'succeeded');
      assert.ok(await get('batch/v1', 'Job', 'objo', 'once'), 'a new manifest runs again');
    });

    it('never updates a create-only object, and creates it again when it is missing', async () => {
      await patchAs(
        t.client,
        'operator',
        { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'objk', name: 'seed' },
        { data: { v: 'tuned' } },
      );
      await repo.commit(
        {
          'apps/kust/seed.yaml': cm(
            'seed',
            { v: '2' },
            '    driftless.dev/sync-options: CreateOnly=true\n',
          ),
        },
        'seed 2',
      );
      await t.agent.reconcileOnce();
      assert.equal(t.recorder.lastSync('kust')?.outcome, 'succeeded');
      assert.deepEqual((await get('v1', 'ConfigMap', 'objk', 'seed'))?.['data'], { v: 'tuned' });
      await t.client.delete({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: 'objk',
        name: 'seed',
      });
      await t.agent.reconcileOnce();
      assert.deepEqual((await get('v1', 'ConfigMap', 'objk', 'seed'))?.['data'], { v: '2' });
    });

    it('never prunes protected objects, nor a namespace that holds what the app does not own', async () => {
      await t.client.apply(
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'not-ours', namespace: 'objk' },
          data: { x: '1' },
        },
        { fieldManager: 'someone-else' },
      );
      await repo.commit(
        {
          'apps/kust/kustomization.yaml': 'resources: [job.yaml, seed.yaml]\n',
          'apps/kust/keep.yaml': null,
          'apps/kust/helm-keep.yaml': null,
        },
        'drop the protected objects',
      );
      await t.agent.reconcileOnce();
      const sync = t.recorder.lastSync('kust');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      assert.ok(await get('v1', 'ConfigMap', 'objk', 'keep-me'), 'Prune=false');
      assert.ok(await get('v1', 'ConfigMap', 'objk', 'helm-keep'), 'helm.sh/resource-policy: keep');

      // The app leaves Git with prune on: its own objects go; the namespace stays for not-ours.
      await repo.commit(
        {
          'clusters/test/driftless.yaml': APPS().replace(
            /    - name: kust\n(      .*\n)+?(?=    - name: once)/,
            '',
          ),
        },
        'drop kust',
      );
      await t.agent.reconcileOnce();
      assert.equal(await get('batch/v1', 'Job', 'objk', 'convert'), undefined, 'pruned');
      assert.ok(await get('v1', 'ConfigMap', 'objk', 'keep-me'), 'still protected');
      const ns = await get('v1', 'Namespace', '', 'objk');
      assert.ok(ns && !ns.metadata['deletionTimestamp'], 'the namespace holding not-ours stays');
    });
  });

  it('a Helm chart changing a Deployment selector: one short error, then replaced with Replace=true', async () => {
    const chart = (selector: string, replace: boolean) => ({
      'apps/sel/Chart.yaml': 'apiVersion: v2\nname: sel\nversion: 0.1.0\n',
      'apps/sel/values.yaml': `selector: ${selector}\n`,
      'apps/sel/templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
${replace ? '  annotations:\n    driftless.dev/sync-options: Replace=true\n' : ''}spec:
  replicas: 1
  selector:
    matchLabels: { app: {{ .Values.selector }} }
  template:
    metadata:
      labels: { app: {{ .Values.selector }} }
    spec:
      containers:
        - name: web
          image: registry.local/web:1.0
`,
    });
    const repo = await git.createRepo('selector-fleet');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml(`
    - name: sel
      path: apps/sel
      namespace: sel
      createNamespace: true
      healthTimeout: 60s
`),
        ...chart('blue', false),
      },
      'selector blue',
    );
    const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    agents.push(t);
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'sel', name: 'sel-web' };
    await t.agent.reconcileOnce();
    assert.equal(
      t.recorder.lastSync('sel')?.outcome,
      'succeeded',
      t.recorder.lastSync('sel')?.error,
    );
    const first = uid(await t.client.get(ref));

    await repo.commit(chart('green', false), 'selector green');
    await t.agent.reconcileOnce();
    const failed = t.recorder.lastSync('sel');
    assert.equal(failed?.outcome, 'failed');
    assert.match(
      failed?.error ?? '',
      /^Deployment sel\/sel-web: Invalid: spec\.selector: (Invalid value: .{0,80}: )?field is immutable; to have it deleted/,
    );
    assert.ok((failed?.error.length ?? 0) < 400, failed?.error);
    assert.equal(uid(await t.client.get(ref)), first);

    await repo.commit(chart('green', true), 'selector green, replaced');
    await t.agent.reconcileOnce();
    const replaced = t.recorder.lastSync('sel');
    assert.equal(replaced?.outcome, 'succeeded', replaced?.error);
    const live = await t.client.get(ref);
    assert.notEqual(uid(live), first);
    assert.deepEqual((live?.['spec'] as { selector: unknown }).selector, {
      matchLabels: { app: 'green' },
    });
  });

  describe('adoption of what kubectl and Helm made', () => {
    const client = () => agents[0]?.client as KubeClient;

    it('case 07: a client-side kubectl apply is adopted; keys Git drops are removed', async () => {
      const manifest = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'settings',
          namespace: 'c07',
          annotations: { 'team.example/owner': 'payments' },
        },
        data: { key: 'value', legacy: 'unused' },
      };
      await client().apply(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'c07' } },
        { fieldManager: 'kubectl-client-side-apply' },
      );
      await createAs(client(), 'kubectl-client-side-apply', {
        ...manifest,
        metadata: {
          ...manifest.metadata,
          annotations: {
            ...manifest.metadata.annotations,
            'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(manifest),
          },
        },
      });
      const c = await startCase('07-csa-adoption-field-removal', {
        kubeConfig: cluster.kubeConfig,
        git,
      });
      agents.push(c.t);
      await c.t.agent.reconcileOnce();
      const first = c.t.recorder.lastSync('c07-settings');
      assert.equal(first?.outcome, 'succeeded', first?.error);
      const adoption = first?.objects.find((o) => o.ref.kind === 'ConfigMap');
      assert.equal(adoption?.action, 'update');
      assert.deepEqual(
        adoption?.diff.find((d) => d.path === '.metadata.managedFields'),
        {
          path: '.metadata.managedFields',
          before: ['kubectl-client-side-apply'],
          after: ['driftless'],
        },
        'the plan shows the adoption',
      );
      assert.ok(
        adoption?.diff.some(
          (d) => d.path.includes('last-applied-configuration') && d.after === undefined,
        ),
        JSON.stringify(adoption?.diff),
      );

      await c.step(2);
      assert.equal(c.t.recorder.lastSync('c07-settings')?.outcome, 'succeeded');
      const live = await c.t.client.get({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: 'c07',
        name: 'settings',
      });
      assert.deepEqual(live?.['data'], { key: 'value' });
      assert.equal(live?.metadata.annotations?.['team.example/owner'], undefined);
      assert.equal(
        live?.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'],
        undefined,
      );
    });

    it('objects made by kubectl create/edit (Kustomize app) and by Helm (Helm app) are adopted', async () => {
      await client().apply(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'adopt' } },
        { fieldManager: 'kubectl-create' },
      );
      await createAs(client(), 'kubectl-create', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'made-by-hand', namespace: 'adopt' },
        data: { a: '1' },
      });
      await patchAs(
        client(),
        'kubectl-edit',
        { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'adopt', name: 'made-by-hand' },
        { data: { edited: 'yes' } },
      );
      await createAs(client(), 'helm', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'rel-settings',
          namespace: 'adopt',
          labels: { 'app.kubernetes.io/managed-by': 'Helm' },
          annotations: { 'meta.helm.sh/release-name': 'rel' },
        },
        data: { b: '1', old: 'x' },
      });
      const repo = await git.createRepo('adopt-fleet');
      await repo.commit(
        {
          'clusters/test/driftless.yaml': clusterYaml(`
    - name: handmade
      path: apps/handmade
      namespace: adopt
    - name: rel
      path: apps/rel
      namespace: adopt
`),
          'apps/handmade/kustomization.yaml': 'resources: [cm.yaml]\n',
          'apps/handmade/cm.yaml': cm('made-by-hand', { a: '1' }),
          'apps/rel/Chart.yaml': 'apiVersion: v2\nname: rel\nversion: 0.1.0\n',
          'apps/rel/templates/cm.yaml':
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  b: "1"\n',
        },
        'adopt',
      );
      const t = await makeAgent({ kubeConfig: cluster.kubeConfig, git, repo });
      agents.push(t);
      await t.agent.reconcileOnce();
      for (const app of ['handmade', 'rel'])
        assert.equal(
          t.recorder.lastSync(app)?.outcome,
          'succeeded',
          t.recorder.lastSync(app)?.error,
        );
      const hand = await t.client.get({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: 'adopt',
        name: 'made-by-hand',
      });
      assert.deepEqual(hand?.['data'], { a: '1' }, 'the edited key Git never had is gone');
      const rel = await t.client.get({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: 'adopt',
        name: 'rel-settings',
      });
      assert.deepEqual(rel?.['data'], { b: '1' });
      assert.equal(rel?.metadata.annotations?.['meta.helm.sh/release-name'], undefined);
      assert.equal(rel?.metadata.labels?.['app.kubernetes.io/managed-by'], 'driftless');
      const managers = (rel?.metadata['managedFields'] as { manager: string }[]).map(
        (m) => m.manager,
      );
      assert.ok(!managers.includes('helm'), managers.join(','));
    });
  });
});
