import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from '@driftless/common';
import { appSpec } from '../config/index.ts';
import { Marks, refKey, type AppSpec, type KubeObject, type ObjectRef } from '../model.ts';
import { guard, GuardError, type ObjectReader, type ScopeResolver } from './index.ts';
import type { OwnershipView } from './ownership.ts';

const CRD_API = 'apiextensions.k8s.io/v1';

/** A cluster holding `live` objects; counts and answers GETs (or fails them with `fail`). */
class FakeCluster implements ScopeResolver, ObjectReader {
  readonly gets: string[] = [];
  readonly #live = new Map<string, KubeObject>();
  fail: Error | undefined;

  constructor(live: KubeObject[] = []) {
    for (const o of live) this.#live.set(`${o.kind}/${o.metadata.name}`, o);
  }

  async scopeOf(apiVersion: string, kind: string) {
    if (apiVersion === CRD_API && kind === 'CustomResourceDefinition') return 'Cluster' as const;
    if (apiVersion === 'v1' && kind === 'ConfigMap') return 'Namespaced' as const;
    return undefined;
  }

  async get(ref: ObjectRef) {
    this.gets.push(ref.name);
    if (this.fail !== undefined) throw this.fail;
    return this.#live.get(`${ref.kind}/${ref.name}`);
  }
}

/** A CRD defining `Thing` of `group`, with the given labels. */
function crd(group: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: CRD_API,
    kind: 'CustomResourceDefinition',
    metadata: { name: `things.${group}`, labels },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind: 'Thing', plural: 'things' },
      versions: [{ name: 'v1', served: true, storage: true }],
    },
  };
}
const ownedBy = (app: string) => ({ [Marks.managedBy]: Marks.managedByValue, [Marks.app]: app });

const tenant = (fields: Partial<AppSpec> = {}) =>
  appSpec({ name: 'team-a', path: 'apps/team-a', namespace: 'team-a', ...fields });

/** The guard's problems for `objects` of `app` on `cluster` ([] when it passes). */
async function problems(
  objects: KubeObject[],
  app: AppSpec,
  cluster: FakeCluster,
  ownership?: OwnershipView,
): Promise<string[]> {
  const rendered = objects.map((object) => ({ object, source: 'apps/team-a/crds.yaml' }));
  const err = await guard(rendered, app, cluster, ownership ? { ownership } : {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err === undefined) return [];
  assert.ok(err instanceof GuardError, `expected a GuardError, got ${(err as Error).message}`);
  return err.problems;
}

describe('tenancy: CRDs of an app limited to namespaces', () => {
  it('creates a CRD the cluster does not have yet, with its resources, by default', async () => {
    const cluster = new FakeCluster();
    const thing = { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 't' } };
    assert.deepEqual(await problems([crd('example.com'), thing], tenant(), cluster), []);
    assert.deepEqual(cluster.gets, ['things.example.com'], 'one GET per CRD');
  });

  it('keeps a CRD its labels say it owns', async () => {
    const cluster = new FakeCluster([crd('example.com', ownedBy('team-a'))]);
    assert.deepEqual(await problems([crd('example.com')], tenant(), cluster), []);
  });

  it('keeps a CRD its inventory holds without asking the cluster', async () => {
    const cluster = new FakeCluster([crd('example.com')]);
    const held = refKey({
      apiVersion: CRD_API,
      kind: 'CustomResourceDefinition',
      namespace: '',
      name: 'things.example.com',
    });
    const ownership: OwnershipView = {
      ownerOf: () => undefined,
      prunable: (_, refs) => refs,
      holds: (app, ref) => app === 'team-a' && refKey(ref) === held,
      undeclared: () => [],
    };
    assert.deepEqual(await problems([crd('example.com')], tenant(), cluster, ownership), []);
    assert.deepEqual(cluster.gets, []);
  });

  it('refuses to take over a CRD of another app, naming it and how to adopt it', async () => {
    const cluster = new FakeCluster([crd('example.com', ownedBy('platform'))]);
    assert.deepEqual(await problems([crd('example.com')], tenant(), cluster), [
      'CustomResourceDefinition things.example.com in apps/team-a/crds.yaml: CustomResourceDefinition things.example.com already exists (owned by app platform) and app team-a is limited to namespaces (team-a): it may create only new CRDs or its own; to adopt it, allowedClusterKinds must list "apiextensions.k8s.io/CustomResourceDefinition"',
    ]);
  });

  it('refuses to take over a CRD created outside Driftless', async () => {
    const cluster = new FakeCluster([crd('example.com', { app: 'installed-by-hand' })]);
    const found = await problems([crd('example.com')], tenant(), cluster);
    assert.equal(found.length, 1);
    assert.match(found[0] ?? '', /already exists \(created outside Driftless\)/);
  });

  it('adopts an existing CRD when allowedClusterKinds lists the kind, without a GET', async () => {
    const cluster = new FakeCluster([crd('example.com', ownedBy('platform'))]);
    const app = tenant({ allowedClusterKinds: ['apiextensions.k8s.io/CustomResourceDefinition'] });
    assert.deepEqual(await problems([crd('example.com')], app, cluster), []);
    assert.deepEqual(cluster.gets, []);
  });

  it('refuses even a new CRD when allowedClusterKinds is [] (the default replaced)', async () => {
    const cluster = new FakeCluster();
    const found = await problems(
      [crd('example.com')],
      tenant({ allowedClusterKinds: [] }),
      cluster,
    );
    assert.equal(found.length, 1);
    assert.match(
      found[0] ?? '',
      /allowedClusterKinds must list "apiextensions.k8s.io\/CustomResourceDefinition"/,
    );
    assert.deepEqual(cluster.gets, []);
  });

  it('makes a CRD read RBAC denies a problem, and throws one that may pass, classified', async () => {
    const denied = new FakeCluster();
    denied.fail = Object.assign(new Error('customresourcedefinitions is forbidden'), {
      statusCode: 403,
    });
    const found = await problems([crd('example.com')], tenant(), denied);
    assert.equal(found.length, 1);
    assert.match(
      found[0] ?? '',
      /cannot tell whether it exists \(customresourcedefinitions is forbidden\)/,
    );

    const down = new FakeCluster();
    down.fail = Object.assign(new Error('etcdserver: leader changed'), { statusCode: 503 });
    const err = await guard(
      [{ object: crd('example.com'), source: 'apps/team-a/crds.yaml' }],
      tenant(),
      down,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error && !(err instanceof GuardError), String(err));
    assert.equal(classify(err), 'transient');
    assert.match(err.message, /reading CustomResourceDefinition things.example.com/);
  });
});
