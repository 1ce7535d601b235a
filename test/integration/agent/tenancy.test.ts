/**
 * Tenants stay in their namespace, on a real kube-apiserver with RBAC and a
 * real git server: the guard refuses every way out of an app's namespaces
 * (cluster-scoped kinds, other namespaces, other teams' Namespaces) while the
 * infrastructure app keeps creating CRDs and RBAC; and with
 * `serviceAccountName` the API server's RBAC bounds each app on plan, apply,
 * prune, health and heal, with the agent itself running with the
 * least-privilege identity docs/multi-tenancy.md describes.
 */
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, type KubeObject } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import { eventually, makeTenancyAgent, type TenancyAgent } from './tenancy-agent.ts';

const cluster = (apps: string) =>
  `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n${apps}`;
const yaml = (...docs: string[]) => docs.join('---\n');
const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
const cm = (name: string, value = '1', namespace?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}data:\n  v: "${value}"\n`;
const crb = (name: string, subjectNs: string) => `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ${name}
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }
subjects:
  - { kind: ServiceAccount, name: default, namespace: ${subjectNs} }
`;
const TENANT_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tenants.example.com
spec:
  group: example.com
  scope: Cluster
  names: { kind: Tenant, plural: tenants, singular: tenant, listKind: TenantList }
  versions:
    - name: v1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
`;

/** A CRD of `plural.group` defining `kind` (namespaced), with `labels`. */
function crdObject(
  plural: string,
  kind: string,
  group: string,
  labels: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, plural },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          },
        },
      ],
    },
  };
}

/**
 * CRDs already in the cluster that are not team-a's: one created with
 * kubectl, one carrying the ownership labels of an app `platform` (of
 * another agent or an earlier config).
 */
const existingCrds = () => [
  crdObject('gadgets', 'Gadget', 'example.com', { app: 'installed-by-hand' }),
  crdObject('gizmos', 'Gizmo', 'example.com', {
    'app.kubernetes.io/managed-by': 'driftless',
    'driftless.dev/app': 'platform',
  }),
];

/** One manifest of every way out of namespace team-a, each with the kind named in messages. */
const WAYS_OUT: Record<string, string> = {
  ClusterRoleBinding: crb('team-a-admin', 'team-a'),
  ClusterRole:
    'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: team-a-everything\n  labels: { rbac.authorization.k8s.io/aggregate-to-admin: "true" }\nrules: []\n',
  MutatingWebhookConfiguration:
    'apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: team-a-inject\nwebhooks: []\n',
  PersistentVolume:
    'apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: team-a-host\nspec:\n  capacity: { storage: 1Gi }\n  accessModes: [ReadWriteOnce]\n  hostPath: { path: / }\n',
  StorageClass:
    'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: team-a-fast\nprovisioner: example.com/none\n',
  PriorityClass:
    'apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: team-a-top\nvalue: 1000000000\n',
  APIService:
    'apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n  name: v1.team-a.example.com\nspec:\n  group: team-a.example.com\n  version: v1\n  groupPriorityMinimum: 1000\n  versionPriority: 15\n',
  // CRDs that exist and are someone else's (see `existingCrds`): a tenant may
  // create only new CRDs or its own by default.
  'CustomResourceDefinition gadgets.example.com': JSON.stringify(
    crdObject('gadgets', 'Gadget', 'example.com'),
  ),
  'CustomResourceDefinition gizmos.example.com': JSON.stringify(
    crdObject('gizmos', 'Gizmo', 'example.com'),
  ),
  // Cluster-scoped only by discovery: its CRD was installed by the infrastructure app.
  Tenant: 'apiVersion: example.com/v1\nkind: Tenant\nmetadata:\n  name: team-b\n',
  'Namespace team-b': ns('team-b'),
  'RoleBinding kube-system/team-a-admin':
    'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: team-a-admin\n  namespace: kube-system\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin }\nsubjects:\n  - { kind: ServiceAccount, name: default, namespace: team-a }\n',
  'ConfigMap kube-system/coredns': cm('coredns', 'x', 'kube-system'),
};

describe('tenancy on a real cluster', () => {
  let git: GitServer;

  before(async () => {
    git = await startGitServer();
  });
  after(() => git?.stop());

  describe('the guard keeps an app limited to namespaces in them', () => {
    let kube: Cluster;
    let repo: GitRepo;
    let t: TenancyAgent;
    const APPS = `    - name: infrastructure
      path: infrastructure
    - name: team-a
      path: apps/team-a
      namespace: team-a
      prune: true
      dependsOn: [infrastructure]
`;

    before(async () => {
      kube = await startCluster();
      repo = await git.createRepo('guard');
      await repo.commit(
        {
          'clusters/test/driftless.yaml': cluster(APPS),
          'infrastructure/namespaces.yaml': yaml(ns('team-a'), ns('team-b')),
          'infrastructure/crd.yaml': TENANT_CRD,
          'infrastructure/rbac.yaml': crb('platform-admin', 'driftless-system'),
          'apps/team-a/config.yaml': cm('settings', '1'),
        },
        'fleet',
      );
      t = await makeTenancyAgent({ kubeConfig: kube.kubeConfig, git, repo });
    });
    after(async () => {
      await t?.close();
      await kube?.stop();
    });

    const get = (apiVersion: string, kind: string, name: string, namespace = '') =>
      t.client.get({ apiVersion, kind, namespace, name });

    it('lets the infrastructure app (no namespace limits) create CRDs, RBAC and Namespaces', async () => {
      await t.agent.reconcileOnce();
      for (const s of t.agent.statuses())
        assert.equal(s.syncStatus, 'Synced', `${s.app}: ${s.message}`);
      assert.ok(
        await get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'tenants.example.com'),
      );
      assert.ok(await get('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'platform-admin'));
    });

    it('refuses a ClusterRoleBinding of the tenant to cluster-admin, and applies nothing of that commit', async () => {
      await repo.commit(
        {
          'apps/team-a/escape.yaml': crb('team-a-admin', 'team-a'),
          'apps/team-a/config.yaml': cm('settings', '2'),
        },
        'team-a tries to become cluster-admin',
      );
      await t.agent.reconcileOnce();
      const sync = t.recorder.lastSync('team-a');
      assert.equal(sync?.outcome, 'failed');
      assert.match(
        sync?.error ?? '',
        /ClusterRoleBinding team-a-admin in apps\/team-a\/escape\.yaml: ClusterRoleBinding is cluster-scoped and app team-a is limited to namespaces \(team-a\); allowedClusterKinds must list "rbac.authorization.k8s.io\/ClusterRoleBinding"/,
      );
      assert.equal(
        await get('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'team-a-admin'),
        undefined,
      );
      assert.deepEqual((await get('v1', 'ConfigMap', 'settings', 'team-a'))?.['data'], { v: '1' });
    });

    it('refuses every other way out of the namespace, each named in one message', async () => {
      const before = new Map<string, KubeObject>();
      for (const crd of existingCrds()) {
        const live = await t.client.create(crd, { fieldManager: 'kubectl' });
        before.set(crd.metadata.name, live);
      }
      const files = Object.fromEntries(
        Object.values(WAYS_OUT).map((m, i) => [`apps/team-a/out-${i}.yaml`, m]),
      );
      await repo.commit({ ...files, 'apps/team-a/escape.yaml': null }, 'every way out');
      await t.agent.reconcileOnce();
      const error = t.recorder.lastSync('team-a')?.error ?? '';
      assert.match(
        error,
        /^guard refused app team-a \(14 problems\)/,
        'one per object, and the Namespace team-b also for belonging to the infrastructure app',
      );
      for (const what of Object.keys(WAYS_OUT))
        assert.ok(error.includes(what), `${what} in: ${error}`);
      const adopt =
        'it may create only new CRDs or its own; to adopt it, allowedClusterKinds must list "apiextensions.k8s.io/CustomResourceDefinition"';
      assert.ok(
        error.includes(
          `CustomResourceDefinition gadgets.example.com already exists (created outside Driftless) and app team-a is limited to namespaces (team-a): ${adopt}`,
        ),
        error,
      );
      assert.ok(
        error.includes(
          `CustomResourceDefinition gizmos.example.com already exists (owned by app platform) and app team-a is limited to namespaces (team-a): ${adopt}`,
        ),
        error,
      );
      // Nothing of it reached the cluster; the existing CRDs are unchanged.
      assert.equal(await get('v1', 'PersistentVolume', 'team-a-host'), undefined);
      assert.equal(await get('example.com/v1', 'Tenant', 'team-b'), undefined);
      assert.equal(await get('v1', 'ConfigMap', 'coredns', 'kube-system'), undefined);
      for (const [name, was] of before) {
        const now = await get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', name);
        // (The API server writes its status; nothing else may have changed.)
        assert.deepEqual(now?.['spec'], was['spec'], name);
        assert.deepEqual(now?.metadata.labels, was.metadata.labels, name);
        const managers = (now?.metadata['managedFields'] as { manager: string }[]).map(
          (f) => f.manager,
        );
        assert.ok(!managers.includes('driftless'), `${name}: ${managers.join(', ')}`);
      }
    });

    it('creates the cluster kinds an app lists, and still nothing else', async () => {
      const files: Record<string, string | null> = Object.fromEntries(
        Object.keys(WAYS_OUT).map((_, i) => [`apps/team-a/out-${i}.yaml`, null]),
      );
      await repo.commit(
        {
          ...files,
          'apps/team-a/tenant.yaml': WAYS_OUT['Tenant'] ?? '',
          'clusters/test/driftless.yaml': cluster(
            `${APPS}      allowedClusterKinds: [example.com/Tenant]\n`,
          ),
        },
        'team-a may create Tenants',
      );
      await t.agent.reconcileOnce();
      assert.equal(
        t.recorder.lastSync('team-a')?.outcome,
        'succeeded',
        t.recorder.lastSync('team-a')?.error,
      );
      assert.ok(await get('example.com/v1', 'Tenant', 'team-b'));
      assert.deepEqual((await get('v1', 'ConfigMap', 'settings', 'team-a'))?.['data'], { v: '2' });
    });

    it('creates a new CRD and its resources by default; allowedClusterKinds: [] refuses new CRDs', async () => {
      const widget =
        'apiVersion: team-a.example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 1\n';
      await repo.commit(
        {
          'apps/team-a/tenant.yaml': null,
          'apps/team-a/crd.yaml': JSON.stringify(
            crdObject('widgets', 'Widget', 'team-a.example.com'),
          ),
          'apps/team-a/widget.yaml': widget,
          'clusters/test/driftless.yaml': cluster(APPS),
        },
        'team-a ships its own CRD',
      );
      await t.agent.reconcileOnce();
      const sync = t.recorder.lastSync('team-a');
      assert.equal(sync?.outcome, 'succeeded', sync?.error);
      const crd = await get(
        'apiextensions.k8s.io/v1',
        'CustomResourceDefinition',
        'widgets.team-a.example.com',
      );
      assert.equal(crd?.metadata.labels?.['driftless.dev/app'], 'team-a');
      assert.ok(await get('team-a.example.com/v1', 'Widget', 'w1', 'team-a'));

      // A resync keeps its own CRD (it exists now, and is team-a's).
      await repo.commit({ 'apps/team-a/config.yaml': cm('settings', '3') }, 'resync');
      await t.agent.reconcileOnce();
      assert.equal(
        t.recorder.lastSync('team-a')?.outcome,
        'succeeded',
        t.recorder.lastSync('team-a')?.error,
      );

      await repo.commit(
        {
          'apps/team-a/sprocket-crd.yaml': JSON.stringify(
            crdObject('sprockets', 'Sprocket', 'team-a.example.com'),
          ),
          'clusters/test/driftless.yaml': cluster(`${APPS}      allowedClusterKinds: []\n`),
        },
        'team-a may create no cluster kinds at all',
      );
      await t.agent.reconcileOnce();
      const refused = t.recorder.lastSync('team-a');
      assert.equal(refused?.outcome, 'failed');
      assert.match(
        refused?.error ?? '',
        /CustomResourceDefinition sprockets\.team-a\.example\.com in apps\/team-a\/sprocket-crd\.yaml: CustomResourceDefinition is cluster-scoped .*allowedClusterKinds must list "apiextensions\.k8s\.io\/CustomResourceDefinition"/,
      );
      assert.equal(
        await get(
          'apiextensions.k8s.io/v1',
          'CustomResourceDefinition',
          'sprockets.team-a.example.com',
        ),
        undefined,
      );
    });
  });

  describe('apps act as their ServiceAccount; the agent runs with least privilege', () => {
    let kube: Cluster;
    let repo: GitRepo;
    let t: TenancyAgent;
    let admin: KubeClient;
    const APPS = `    - name: infrastructure
      path: infrastructure
      serviceAccountName: platform
    - name: team-a
      path: apps/team-a
      namespace: team-a
      serviceAccountName: deployer
      prune: true
      selfHeal: true
      dependsOn: [infrastructure]
    - name: rogue
      path: apps/rogue
      namespace: team-b
      dependsOn: [infrastructure]
`;
    const deployerRole = (verbs: string[]) => `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: deployer
  namespace: team-a
rules:
  - { apiGroups: [""], resources: [configmaps], verbs: [${verbs.join(', ')}] }
  - { apiGroups: [""], resources: [namespaces], verbs: [get] }
`;
    const ALL = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

    before(async () => {
      kube = await startCluster();
      admin = await KubeClient.fromKubeConfig(kube.kubeConfig);
      await bootstrapLeastPrivilege(admin);
      repo = await git.createRepo('impersonation');
      await repo.commit(
        {
          'clusters/test/driftless.yaml': cluster(APPS),
          'infrastructure/namespaces.yaml': yaml(ns('team-a'), ns('team-b')),
          'infrastructure/team-a.yaml': yaml(
            'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: deployer\n  namespace: team-a\n',
            deployerRole(ALL),
            'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: deployer\n  namespace: team-a\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer }\nsubjects:\n  - { kind: ServiceAccount, name: deployer, namespace: team-a }\n',
          ),
          'apps/team-a/config.yaml': yaml(cm('a', '1'), cm('b', '1')),
          'apps/rogue/config.yaml': cm('rogue'),
        },
        'fleet with tenants',
      );
      t = await makeTenancyAgent({
        kubeConfig: await tokenKubeConfig(
          admin,
          kube.kubeConfig,
          'driftless-system',
          'driftless-agent',
        ),
        git,
        repo,
      });
    });
    after(async () => {
      await t?.close();
      admin?.close();
      await kube?.stop();
    });

    const get = (name: string, namespace = 'team-a') =>
      admin.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name });

    it('syncs each app as its ServiceAccount; an app without one cannot write with the agent’s identity', async () => {
      await t.agent.reconcileOnce();
      const status = Object.fromEntries(t.agent.statuses().map((s) => [s.app, s]));
      assert.equal(
        status['infrastructure']?.syncStatus,
        'Synced',
        status['infrastructure']?.message,
      );
      assert.equal(status['team-a']?.syncStatus, 'Synced', status['team-a']?.message);
      assert.equal(status['team-a']?.health, 'Healthy');
      assert.deepEqual((await get('a'))?.['data'], { v: '1' });
      const rogue = t.recorder.lastSync('rogue');
      assert.equal(rogue?.outcome, 'failed');
      assert.match(rogue?.error ?? '', /system:serviceaccount:driftless-system:driftless-agent/);
      assert.match(rogue?.error ?? '', /forbidden/i);
      assert.equal(await get('rogue', 'team-b'), undefined);
    });

    it('lets RBAC refuse what the guard was told to allow: a listed ClusterRoleBinding', async () => {
      await repo.commit(
        {
          'clusters/test/driftless.yaml': cluster(
            APPS.replace(
              '      serviceAccountName: deployer\n',
              '      serviceAccountName: deployer\n      allowedClusterKinds: [rbac.authorization.k8s.io/ClusterRoleBinding]\n',
            ),
          ),
          'apps/team-a/escape.yaml': crb('team-a-admin', 'team-a'),
        },
        'team-a lists ClusterRoleBindings',
      );
      await t.agent.reconcileOnce();
      const sync = t.recorder.lastSync('team-a');
      assert.equal(sync?.outcome, 'failed');
      assert.match(sync?.error ?? '', /ClusterRoleBinding team-a-admin/);
      assert.match(sync?.error ?? '', /system:serviceaccount:team-a:deployer/);
      assert.equal(
        await admin.get({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          namespace: '',
          name: 'team-a-admin',
        }),
        undefined,
      );
      await repo.commit(
        { 'clusters/test/driftless.yaml': cluster(APPS), 'apps/team-a/escape.yaml': null },
        'back in lane',
      );
    });

    it('prunes as the ServiceAccount: without delete rights, nothing is deleted', async () => {
      await repo.commit(
        {
          'infrastructure/team-a.yaml': (await fileOf(repo, 'infrastructure/team-a.yaml')).replace(
            deployerRole(ALL),
            deployerRole(ALL.filter((v) => v !== 'delete')),
          ),
          'apps/team-a/config.yaml': cm('a', '1'),
        },
        'team-a drops b, and may no longer delete',
      );
      await t.agent.reconcileOnce();
      const sync = t.recorder.lastSync('team-a');
      assert.equal(sync?.outcome, 'failed', 'prune refused by RBAC');
      assert.match(sync?.error ?? '', /system:serviceaccount:team-a:deployer/);
      assert.ok(await get('b'), 'b is still there');
    });

    it('heals as the ServiceAccount: healed while it may patch, not once it may not', async () => {
      t.agent.start();
      await t.agent.nextTick();
      const edit = (value: string) =>
        admin.apply(
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'a', namespace: 'team-a' },
            data: { v: value },
          },
          { fieldManager: 'kubectl-edit', force: true },
        );
      await edit('changed');
      await eventually('the heal of ConfigMap a', async () => {
        const data = (await get('a'))?.['data'] as Record<string, string> | undefined;
        return data?.['v'] === '1' ? true : undefined;
      });

      // Take patch away from the tenant (the platform app does not self-heal).
      await admin.apply(
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'deployer', namespace: 'team-a' },
          rules: [
            { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
            { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
          ],
        },
        { fieldManager: 'kubectl-edit', force: true },
      );
      const before = t.drift.metrics;
      await edit('changed again');
      await eventually('a refused check or heal', async () => {
        const m = t.drift.metrics;
        return m.healFailures + m.checkFailures > before.healFailures + before.checkFailures
          ? true
          : undefined;
      });
      assert.deepEqual((await get('a'))?.['data'], { v: 'changed again' });
    });

    it('prunes an app removed from driftless.yaml as its ServiceAccount', async () => {
      await admin.apply(
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'deployer', namespace: 'team-a' },
          rules: [
            { apiGroups: [''], resources: ['configmaps'], verbs: ALL },
            { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
          ],
        },
        { fieldManager: 'kubectl-edit', force: true },
      );
      await repo.commit(
        {
          'clusters/test/driftless.yaml': cluster(
            APPS.replace(/ {4}- name: team-a\n[\s\S]*?dependsOn: \[infrastructure\]\n/, ''),
          ),
        },
        'team-a leaves the cluster',
      );
      // The agent itself may not delete in team-a: only the app's ServiceAccount can.
      await eventually('the prune of team-a', async () => {
        t.agent.refresh();
        return (await get('a')) === undefined && (await get('b')) === undefined ? true : undefined;
      });
    });
  });
});

/**
 * The least-privilege setup of docs/multi-tenancy.md, made as an admin: the
 * agent's ServiceAccount reads everything, impersonates ServiceAccounts and
 * writes only its own namespace; the platform ServiceAccount (for the
 * infrastructure app) is cluster-admin.
 */
async function bootstrapLeastPrivilege(admin: KubeClient): Promise<void> {
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'driftless-system' } },
    sa('driftless-agent'),
    sa('platform'),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'driftless-agent' },
      rules: [
        { apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] },
        {
          apiGroups: [''],
          resources: ['namespaces'],
          resourceNames: ['driftless-system'],
          verbs: ['patch'],
        },
      ],
    },
    binding('ClusterRoleBinding', 'driftless-agent', 'ClusterRole', 'driftless-agent'),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'driftless-agent', namespace: 'driftless-system' },
      rules: [
        { apiGroups: [''], resources: ['configmaps', 'secrets', 'events'], verbs: ['*'] },
        { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['*'] },
      ],
    },
    binding('RoleBinding', 'driftless-agent', 'Role', 'driftless-agent', 'driftless-system'),
    binding(
      'ClusterRoleBinding',
      'driftless-platform',
      'ClusterRole',
      'cluster-admin',
      '',
      'platform',
    ),
  ];
  for (const o of objects) await admin.apply(o, { fieldManager: 'test-bootstrap' });
}

function sa(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace: 'driftless-system' },
  };
}

function binding(
  kind: 'RoleBinding' | 'ClusterRoleBinding',
  name: string,
  roleKind: 'Role' | 'ClusterRole',
  role: string,
  namespace = '',
  subject = 'driftless-agent',
): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: role },
    subjects: [{ kind: 'ServiceAccount', name: subject, namespace: 'driftless-system' }],
  };
}

/** A kubeconfig for the cluster of `adminConfig` that authenticates as a ServiceAccount token. */
async function tokenKubeConfig(
  admin: KubeClient,
  adminConfig: KubeConfig,
  namespace: string,
  name: string,
): Promise<KubeConfig> {
  const answer = await admin.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      },
    },
  );
  const server = adminConfig.getCurrentCluster();
  assert.ok(server);
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ ...server, name: 'test' }],
    users: [{ name, token: answer.status.token }],
    contexts: [{ name: 'test', cluster: 'test', user: name }],
    currentContext: 'test',
  });
  return config;
}

/** The content of `path` at the head of `repo` (read from its bare repository). */
async function fileOf(repo: GitRepo, path: string): Promise<string> {
  const { stdout } = await promisify(execFile)('git', [
    '--git-dir',
    repo.path,
    'show',
    `HEAD:${path}`,
  ]);
  return stdout;
}
