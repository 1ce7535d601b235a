/**
 * A tenant who controls only its app's folder (not `driftless.yaml`) tries
 * every way out of its namespace and into other apps' objects, against the
 * real agent, a real kube-apiserver with RBAC and a real git server. Each
 * probe commits the attack, runs a pass, and checks that the sync was refused
 * with a message naming the object, and that the cluster shows no trace of
 * it. docs/multi-tenancy.md lists the probes and what held.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectRef } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import { makeTenancyAgent, type TenancyAgent } from '../integration/agent/tenancy-agent.ts';

const RBAC = 'rbac.authorization.k8s.io/v1';
const CLUSTER = `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: infrastructure
      path: infrastructure
    - name: team-a
      path: apps/team-a
      namespace: team-a
      prune: true
      selfHeal: true
      dependsOn: [infrastructure]
    - name: team-b
      path: apps/team-b
      namespace: team-b
      prune: true
      dependsOn: [infrastructure]
`;
const crbYaml = (name: string) => `apiVersion: ${RBAC}
kind: ClusterRoleBinding
metadata:
  name: ${name}
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }
subjects:
  - { kind: ServiceAccount, name: default, namespace: team-a }
`;
const deployerBinding = (subjects: string) => `apiVersion: ${RBAC}
kind: RoleBinding
metadata:
  name: deployer
  namespace: team-a
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view }
subjects:
${subjects}`;
const PLATFORM_SUBJECTS =
  '  - { kind: Group, name: team-a-developers, apiGroup: rbac.authorization.k8s.io }\n';

/** A CRD `plural.example.com` defining `kind` of `scope`. */
const crdYaml = (plural: string, kind: string, scope: string) =>
  `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: ${plural}.example.com\nspec:\n  group: example.com\n  scope: ${scope}\n  names: { kind: ${kind}, plural: ${plural} }\n  versions:\n    - { name: v1, served: true, storage: true, schema: { openAPIV3Schema: { type: object } } }\n`;
const CRD = 'apiextensions.k8s.io/v1';

/** One probe: files the tenant commits in its folder, and objects that must not appear or change. */
interface Probe {
  name: string;
  files: Record<string, string>;
  /** Objects that must not exist after the probe. */
  absent?: ObjectRef[];
  /** The refusal, as the sync's error must state it. */
  error: RegExp;
}

const ref = (apiVersion: string, kind: string, name: string, namespace = ''): ObjectRef => ({
  apiVersion,
  kind,
  namespace,
  name,
});

const PROBES: Probe[] = [
  {
    name: 'a ClusterRoleBinding of its ServiceAccount to cluster-admin (plain YAML)',
    files: { 'apps/team-a/escape.yaml': crbYaml('team-a-admin') },
    absent: [ref(RBAC, 'ClusterRoleBinding', 'team-a-admin')],
    error: /ClusterRoleBinding team-a-admin .*cluster-scoped/,
  },
  {
    name: 'the same ClusterRoleBinding from a Kustomize overlay',
    files: {
      'apps/team-a/kustomization.yaml': 'resources: [escape.yaml]\nnamePrefix: kust-\n',
      'apps/team-a/escape.yaml': crbYaml('team-a-admin'),
    },
    absent: [ref(RBAC, 'ClusterRoleBinding', 'kust-team-a-admin')],
    error: /ClusterRoleBinding kust-team-a-admin .*cluster-scoped/,
  },
  {
    name: 'the same ClusterRoleBinding from a Helm chart template',
    files: {
      'apps/team-a/Chart.yaml': 'apiVersion: v2\nname: sneaky\nversion: 0.1.0\n',
      'apps/team-a/templates/escape.yaml': crbYaml('{{ .Release.Name }}-admin'),
    },
    absent: [ref(RBAC, 'ClusterRoleBinding', 'team-a-admin')],
    error: /ClusterRoleBinding team-a-admin .*cluster-scoped/,
  },
  {
    name: 'a ClusterRoleBinding wrapped in a v1 List',
    files: {
      'apps/team-a/list.yaml': `apiVersion: v1\nkind: List\nitems:\n  - ${crbYaml('listed-admin').trimEnd().split('\n').join('\n    ')}\n`,
    },
    absent: [ref(RBAC, 'ClusterRoleBinding', 'listed-admin')],
    error: /ClusterRoleBinding listed-admin|kind List/,
  },
  {
    name: 'a RoleBinding to admin in kube-system',
    files: {
      'apps/team-a/rb.yaml': `apiVersion: ${RBAC}\nkind: RoleBinding\nmetadata:\n  name: team-a\n  namespace: kube-system\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin }\nsubjects:\n  - { kind: ServiceAccount, name: default, namespace: team-a }\n`,
    },
    absent: [ref(RBAC, 'RoleBinding', 'team-a', 'kube-system')],
    error: /RoleBinding kube-system\/team-a .*namespace kube-system is not allowed/,
  },
  {
    name: "an object in another team's namespace",
    files: {
      'apps/team-a/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b-settings\n  namespace: team-b\ndata:\n  hijacked: "true"\n',
    },
    error: /ConfigMap team-b\/b-settings .*namespace team-b is not allowed/,
  },
  {
    name: "another team's Namespace, relabelled",
    files: {
      'apps/team-a/ns.yaml':
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n  labels: { pod-security.kubernetes.io/enforce: privileged }\n',
    },
    error: /Namespace team-b .*namespace team-b is not allowed/,
  },
  {
    name: 'the platform’s RoleBinding in its own namespace, with itself added as a subject',
    files: {
      'apps/team-a/rb.yaml': deployerBinding(
        `${PLATFORM_SUBJECTS}  - { kind: ServiceAccount, name: default, namespace: team-a }\n`,
      ),
    },
    error: /RoleBinding team-a\/deployer .*also declared by app infrastructure, which owns it/,
  },
  {
    name: 'a mutating webhook',
    files: {
      'apps/team-a/hook.yaml':
        'apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: team-a-inject\nwebhooks: []\n',
    },
    absent: [
      ref('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', 'team-a-inject'),
    ],
    error: /MutatingWebhookConfiguration team-a-inject .*cluster-scoped/,
  },
  {
    // A new CRD is allowed by default; one that exists and is not the tenant's is not.
    name: 'a CRD installed with kubectl, redefined to take it over',
    files: { 'apps/team-a/crd.yaml': crdYaml('gizmos', 'Gizmo', 'Cluster') },
    error:
      /CustomResourceDefinition gizmos\.example\.com .*already exists \(created outside Driftless\).*allowedClusterKinds must list "apiextensions\.k8s\.io\/CustomResourceDefinition"/,
  },
  {
    name: 'the platform’s CRD, redefined',
    files: { 'apps/team-a/crd.yaml': crdYaml('gadgets', 'Gadget', 'Cluster') },
    error:
      /CustomResourceDefinition gadgets\.example\.com .*also declared by app infrastructure, which owns it/,
  },
];

describe('tenancy probes: a tenant that controls only its folder', () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let t: TenancyAgent;

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    repo = await git.createRepo('tenants');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': CLUSTER,
        'infrastructure/ns.yaml':
          'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n',
        'infrastructure/rbac.yaml': deployerBinding(PLATFORM_SUBJECTS),
        'infrastructure/crd.yaml': crdYaml('gadgets', 'Gadget', 'Namespaced'),
        'apps/team-a/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: "1"\n',
        'apps/team-b/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b-settings\ndata:\n  hijacked: "false"\n',
      },
      'tenants',
    );
    t = await makeTenancyAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    // Installed by hand, outside Driftless.
    await t.client.create(
      {
        apiVersion: CRD,
        kind: 'CustomResourceDefinition',
        metadata: { name: 'gizmos.example.com' },
        spec: {
          group: 'example.com',
          scope: 'Namespaced',
          names: { kind: 'Gizmo', plural: 'gizmos' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object' } },
            },
          ],
        },
      },
      { fieldManager: 'kubectl' },
    );
    await t.agent.reconcileOnce();
    for (const s of t.agent.statuses())
      assert.equal(s.syncStatus, 'Synced', `${s.app}: ${s.message}`);
  });
  after(async () => {
    await t?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  /**
   * What the tenant must never be able to change: resourceVersions, and the
   * CRDs' spec and labels (the API server writes their status by itself).
   */
  const guarded = async () => {
    const objects = [
      ref('v1', 'Namespace', 'team-b'),
      ref('v1', 'ConfigMap', 'b-settings', 'team-b'),
      ref(RBAC, 'RoleBinding', 'deployer', 'team-a'),
    ];
    const crds = [
      ref(CRD, 'CustomResourceDefinition', 'gizmos.example.com'),
      ref(CRD, 'CustomResourceDefinition', 'gadgets.example.com'),
    ];
    return Promise.all([
      ...objects.map(async (r) => String((await t.client.get(r))?.metadata['resourceVersion'])),
      ...crds.map(async (r) => {
        const live = await t.client.get(r);
        return JSON.stringify([live?.['spec'], live?.metadata.labels ?? {}]);
      }),
    ]);
  };

  for (const probe of PROBES) {
    it(`refuses ${probe.name}`, async () => {
      const before = await guarded();
      const files = Object.fromEntries(Object.keys(probe.files).map((f) => [f, null]));
      await repo.commit(probe.files, `probe: ${probe.name}`);
      try {
        await t.agent.reconcileOnce();
        const sync = t.recorder.lastSync('team-a');
        assert.equal(sync?.outcome, 'failed');
        assert.match(sync?.error ?? '', probe.error);
        for (const r of probe.absent ?? [])
          assert.equal(await t.client.get(r), undefined, `${r.kind} ${r.name} exists`);
        assert.deepEqual(await guarded(), before, "other apps' objects are untouched");
        assert.equal(t.recorder.lastSync('team-b')?.outcome, 'succeeded');
      } finally {
        await repo.commit(files, 'probe undone');
      }
    });
  }

  it('cannot pass its objects off as another app’s by setting the app label', async () => {
    await repo.commit(
      {
        'apps/team-a/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: { driftless.dev/app: infrastructure, app.kubernetes.io/managed-by: Helm }\ndata:\n  x: "1"\n',
      },
      'spoofed labels',
    );
    await t.agent.reconcileOnce();
    const live = await t.client.get(ref('v1', 'ConfigMap', 'a', 'team-a'));
    assert.equal(live?.metadata.labels?.['driftless.dev/app'], 'team-a');
    assert.equal(live?.metadata.labels?.['app.kubernetes.io/managed-by'], 'driftless');
  });
});
