import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appSpec, ConfigError, parseClusterConfig } from '../config/index.ts';
import { NEW_OR_OWN_CRDS, type AppSpec, type KubeObject } from '../model.ts';
import { guard, GuardError, type ObjectReader, type Scope, type ScopeResolver } from './index.ts';

/** Built-in kinds, cluster-scoped and namespaced, as discovery reports them. */
const KINDS: Record<string, Scope> = {
  'v1/Namespace': 'Cluster',
  'v1/PersistentVolume': 'Cluster',
  'v1/ConfigMap': 'Namespaced',
  'v1/ServiceAccount': 'Namespaced',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'Cluster',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'Cluster',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'Namespaced',
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': 'Cluster',
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': 'Cluster',
  'storage.k8s.io/v1/StorageClass': 'Cluster',
  'apiregistration.k8s.io/v1/APIService': 'Cluster',
  'apiextensions.k8s.io/v1/CustomResourceDefinition': 'Cluster',
  'scheduling.k8s.io/v1/PriorityClass': 'Cluster',
  // A custom resource whose CRD someone else installed: known only from discovery.
  'example.com/v1/Tenant': 'Cluster',
};
/** An empty cluster serving KINDS (CRD lookups: see tenancy-crds.test.ts). */
const discovery: ScopeResolver & ObjectReader = {
  scopeOf: async (v, k) => KINDS[`${v}/${k}`],
  get: async () => undefined,
};

const tenant = (fields: Partial<AppSpec> = {}) =>
  appSpec({ name: 'team-a', path: 'apps/team-a', namespace: 'team-a', ...fields });
const infra = (fields: Partial<AppSpec> = {}) =>
  appSpec({ name: 'infrastructure', path: 'infrastructure', ...fields });

function object(apiVersion: string, kind: string, name: string, namespace?: string): KubeObject {
  return { apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } };
}

/**
 * One object of every way out of a namespace. (A new CRD is not one: an app
 * limited to namespaces may create new or own CRDs by default; see
 * tenancy-crds.test.ts.)
 */
const WAYS_OUT: KubeObject[] = [
  object('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'team-a-admin'),
  object('rbac.authorization.k8s.io/v1', 'ClusterRole', 'team-a-all'),
  object('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', 'inject'),
  object('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'deny'),
  object('v1', 'PersistentVolume', 'host-root'),
  object('storage.k8s.io/v1', 'StorageClass', 'fast'),
  object('apiregistration.k8s.io/v1', 'APIService', 'v1.evil.example.com'),
  object('scheduling.k8s.io/v1', 'PriorityClass', 'top'),
  object('example.com/v1', 'Tenant', 'someone-else'),
  object('v1', 'Namespace', 'team-b'),
  object('v1', 'Namespace', 'kube-system'),
  object('rbac.authorization.k8s.io/v1', 'RoleBinding', 'admin', 'kube-system'),
  object('v1', 'ConfigMap', 'coredns', 'kube-system'),
];

async function problems(objects: KubeObject[], app: AppSpec): Promise<string[]> {
  const err = await guard(
    objects.map((o) => ({ object: o, source: 'apps/team-a/x.yaml' })),
    app,
    discovery,
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err === undefined) return [];
  assert.ok(err instanceof GuardError, `expected a GuardError, got ${(err as Error).message}`);
  return err.problems;
}

describe('tenancy: an app limited to namespaces stays in them', () => {
  it('refuses every cluster-scoped kind and every other namespace, each named', async () => {
    const found = await problems(WAYS_OUT, tenant());
    assert.equal(found.length, WAYS_OUT.length, found.join('\n'));
    assert.equal(
      found[0],
      'ClusterRoleBinding team-a-admin in apps/team-a/x.yaml: ClusterRoleBinding is cluster-scoped and app team-a is limited to namespaces (team-a); allowedClusterKinds must list "rbac.authorization.k8s.io/ClusterRoleBinding"',
    );
    assert.match(
      found[9] ?? '',
      /^Namespace team-b .*namespace team-b is not allowed for app team-a/,
    );
    assert.match(found[11] ?? '', /^RoleBinding kube-system\/admin .*namespace kube-system/);
  });

  it('still creates its own Namespace and what lives in it, RoleBindings included', async () => {
    const own = [
      object('v1', 'Namespace', 'team-a'),
      object('v1', 'ServiceAccount', 'deployer'),
      object('rbac.authorization.k8s.io/v1', 'RoleBinding', 'deployer-edit'),
      object('v1', 'ConfigMap', 'settings', 'team-a'),
    ];
    assert.deepEqual(await problems(own, tenant()), []);
  });

  it('lets an app list the cluster kinds it may create: Kind, group/Kind, group/*', async () => {
    const app = tenant({
      allowedClusterKinds: [
        'PersistentVolume',
        'rbac.authorization.k8s.io/ClusterRole',
        'example.com/*',
      ],
    });
    const allowed = [
      object('v1', 'PersistentVolume', 'data'),
      object('rbac.authorization.k8s.io/v1', 'ClusterRole', 'reader'),
      object('example.com/v1', 'Tenant', 'mine'),
    ];
    assert.deepEqual(await problems(allowed, app), []);
    const still = await problems(
      [
        object('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'x'),
        object('v1', 'Namespace', 'team-b'),
      ],
      app,
    );
    assert.equal(still.length, 2, 'other kinds and other Namespaces stay refused');
  });

  it('never lets a listed Namespace kind reach another team’s namespace', async () => {
    const found = await problems(
      [object('v1', 'Namespace', 'team-b')],
      tenant({ allowedClusterKinds: ['*'] }),
    );
    assert.equal(found.length, 1);
  });

  it('keeps an app without namespace limits (the infrastructure app) creating anything', async () => {
    assert.deepEqual(await problems(WAYS_OUT, infra()), []);
    // ...unless it lists what it may create.
    const limited = await problems(
      WAYS_OUT.slice(0, 2),
      infra({ allowedClusterKinds: ['rbac.authorization.k8s.io/ClusterRole'] }),
    );
    assert.equal(limited.length, 1);
    assert.match(limited[0] ?? '', /^ClusterRoleBinding team-a-admin/);
  });

  it('applies the same rule to an app with allowedNamespaces and no default namespace', async () => {
    const app = appSpec({ name: 'jobs', path: 'jobs', allowedNamespaces: ['a', 'b'] });
    assert.deepEqual(app.allowedClusterKinds, [NEW_OR_OWN_CRDS]);
    assert.deepEqual(
      await problems([object('v1', 'Namespace', 'a'), object('v1', 'ConfigMap', 'c', 'b')], app),
      [],
    );
    assert.equal(
      (await problems([object('storage.k8s.io/v1', 'StorageClass', 's')], app)).length,
      1,
    );
  });
});

describe('tenancy fields in driftless.yaml', () => {
  const file = 'clusters/dev/driftless.yaml';
  const parse = (app: string) =>
    parseClusterConfig(
      `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n${app}`,
      file,
    ).apps[0];

  it('defaults cluster kinds by whether the app is limited to namespaces', () => {
    assert.deepEqual(parse('    - { name: a, path: a, namespace: a }\n')?.allowedClusterKinds, [
      NEW_OR_OWN_CRDS,
    ]);
    assert.deepEqual(parse('    - { name: a, path: a }\n')?.allowedClusterKinds, ['*']);
    // An explicit list replaces the default entirely: [] means no CRDs either.
    assert.deepEqual(
      parse('    - { name: a, path: a, namespace: a, allowedClusterKinds: [] }\n')
        ?.allowedClusterKinds,
      [],
    );
  });

  it('refuses bad kinds and ServiceAccount names', () => {
    assert.throws(
      () =>
        parse(
          `    - name: a\n      path: a\n      allowedClusterKinds: [cluster-role, "rbac/", "${NEW_OR_OWN_CRDS}"]\n      serviceAccountName: Deployer\n`,
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.map((p) => `${p.path}: ${p.message}`),
          [
            'spec.apps[0].allowedClusterKinds[0]: "cluster-role" is not a kind: use Kind, group/Kind, group/* or *',
            'spec.apps[0].allowedClusterKinds[1]: "rbac/" is not a kind: use Kind, group/Kind, group/* or *',
            `spec.apps[0].allowedClusterKinds[2]: "${NEW_OR_OWN_CRDS}" is not a kind: use Kind, group/Kind, group/* or *`,
            'spec.apps[0].serviceAccountName: "Deployer" is not a valid object name',
          ],
        );
        return true;
      },
    );
  });
});
