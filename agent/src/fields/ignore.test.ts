import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../model.ts';
import { isIgnoredPath, pointerOf, respectIgnored, rulesFor, withoutIgnored } from './index.ts';

function deployment(replicas: number, image: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      replicas,
      template: { spec: { containers: [{ name: 'web', image, resources: { cpu: '1' } }] } },
    },
  };
}

/** The live Deployment: replicas and the container's resources written by other managers. */
function live(): KubeObject {
  const obj = deployment(5, 'web:1');
  obj.metadata['managedFields'] = [
    {
      manager: 'driftless',
      operation: 'Apply',
      fieldsV1: { 'f:spec': { 'f:template': {} } },
    },
    { manager: 'hpa', operation: 'Update', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
    {
      manager: 'vpa',
      operation: 'Update',
      fieldsV1: {
        'f:spec': {
          'f:template': {
            'f:spec': {
              'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:resources': {} } },
            },
          },
        },
      },
    },
  ];
  const spec = obj['spec'] as { template: { spec: { containers: { resources: unknown }[] } } };
  spec.template.spec.containers[0]!.resources = { cpu: '3' };
  return obj;
}

describe('ignore rules', () => {
  it('match by group, kind, name and namespace', () => {
    const d = deployment(2, 'web:1');
    assert.equal(rulesFor(d, [{ group: 'apps', kind: 'Deployment', name: 'web' }]).length, 1);
    assert.equal(rulesFor(d, [{ kind: '*', namespace: 'shop' }]).length, 1);
    assert.equal(rulesFor(d, [{ group: '', kind: 'Deployment' }]).length, 0);
    assert.equal(rulesFor(d, [{ kind: 'Deployment', name: 'api' }]).length, 0);
  });

  it('take the live value of ignored fields, by pointer and by manager, and keep the rest of Git', () => {
    const out = withoutIgnored(
      deployment(2, 'web:2'),
      [{ kind: 'Deployment', jsonPointers: ['/spec/replicas'], managedFieldsManagers: ['vpa'] }],
      live(),
    );
    const spec = out['spec'] as {
      replicas: number;
      template: { spec: { containers: { name: string; image: string; resources: unknown }[] } };
    };
    assert.equal(spec.replicas, 5);
    assert.deepEqual(spec.template.spec.containers, [
      { name: 'web', image: 'web:2', resources: { cpu: '3' } },
    ]);
  });

  it('apply the whole desired object when it is created', () => {
    const d = deployment(2, 'web:1');
    assert.equal(
      withoutIgnored(d, [{ kind: 'Deployment', jsonPointers: ['/spec/replicas'] }], undefined),
      d,
    );
  });

  it('leave ignored paths out of a plan diff', () => {
    const rules = [{ kind: 'Deployment', managedFieldsManagers: ['hpa'] }];
    const { diff } = respectIgnored({
      desired: deployment(2, 'web:2'),
      live: live(),
      rules,
      diff: [{ path: '.spec.replicas' }, { path: '.spec.template.spec.containers[0].image' }],
    });
    assert.deepEqual(diff, [{ path: '.spec.template.spec.containers[0].image' }]);
  });

  it('hold a few well-known fields for everyone', () => {
    const webhook: KubeObject = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'inject' },
      webhooks: [{ name: 'a', clientConfig: { caBundle: 'Zm9v', service: { name: 's' } } }],
    };
    const rules = rulesFor(webhook, []);
    assert.equal(isIgnoredPath('.webhooks[0].clientConfig.caBundle', rules), true);
    assert.equal(isIgnoredPath('.webhooks[0].clientConfig.service.name', rules), false);
    const aggregated: KubeObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'view-all' },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { view: 'true' } }] },
      rules: [],
    };
    assert.equal(isIgnoredPath('.rules', rulesFor(aggregated, [])), true);
    const plain = { ...aggregated, aggregationRule: undefined } as KubeObject;
    delete plain['aggregationRule'];
    assert.equal(isIgnoredPath('.rules', rulesFor(plain, [])), false);
  });

  it('turn drift paths into JSON pointers', () => {
    assert.equal(pointerOf('.spec.replicas'), '/spec/replicas');
    assert.equal(pointerOf('.metadata.labels["a.b/c"]'), '/metadata/labels/a.b~1c');
    assert.equal(pointerOf('.spec.containers[0].image'), '/spec/containers/0/image');
  });
});
