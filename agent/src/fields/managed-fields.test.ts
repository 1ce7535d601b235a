import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../model.ts';
import { changedByOf, ownersOf, parsePath } from './managed-fields.ts';

/** A Deployment as the API server returns it, written by three managers. */
function deployment(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'shop',
      labels: { app: 'web', 'app.kubernetes.io/managed-by': 'driftless' },
      managedFields: [
        {
          manager: 'driftless',
          operation: 'Apply',
          time: '2025-01-01T10:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:labels': { 'f:app': {}, 'f:app.kubernetes.io/managed-by': {} } },
            'f:spec': {
              'f:selector': {},
              'f:template': {
                'f:spec': {
                  'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:name': {} } },
                },
              },
            },
          },
        },
        {
          manager: 'ops-team',
          operation: 'Apply',
          time: '2025-01-01T10:05:00Z',
          fieldsV1: {
            'f:spec': {
              'f:replicas': {},
              'f:template': {
                'f:spec': {
                  'f:containers': { 'k:{"name":"web"}': { 'f:image': {}, 'f:resources': {} } },
                },
              },
            },
          },
        },
        {
          manager: 'kubectl-edit',
          operation: 'Update',
          time: '2025-01-01T10:07:00Z',
          fieldsV1: {
            'f:spec': {
              'f:template': {
                'f:spec': {
                  'f:containers': { 'k:{"name":"web"}': { 'f:image': {} } },
                  'f:tolerations': {},
                  'f:args': { 'v:"--debug"': {} },
                },
              },
            },
          },
        },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          subresource: 'status',
          time: '2025-01-01T10:09:00Z',
          fieldsV1: { 'f:status': { 'f:replicas': {} } },
        },
      ],
    },
    spec: {
      replicas: 5,
      template: {
        spec: {
          containers: [
            { name: 'sidecar', image: 'envoy' },
            { name: 'web', image: 'web:2', resources: { limits: { cpu: '1' } } },
          ],
          args: ['--verbose', '--debug'],
        },
      },
    },
  };
}

describe('parsePath', () => {
  it('splits the paths diffValues writes', () => {
    assert.deepEqual(parsePath('.spec.template.spec.containers[1].image'), [
      'spec',
      'template',
      'spec',
      'containers',
      1,
      'image',
    ]);
    assert.deepEqual(parsePath('.metadata.labels["app.kubernetes.io/managed-by"]'), [
      'metadata',
      'labels',
      'app.kubernetes.io/managed-by',
    ]);
    assert.deepEqual(parsePath('.'), []);
  });
});

describe('ownersOf', () => {
  it('finds the manager of a plain field and never names driftless', () => {
    assert.deepEqual(
      ownersOf(deployment(), '.spec.replicas').map((o) => o.manager),
      ['ops-team'],
    );
    assert.deepEqual(ownersOf(deployment(), '.metadata.labels.app'), []);
  });

  it('matches list items by their key fields, not their position', () => {
    // containers[1] is the one named "web": k:{"name":"web"}.
    assert.deepEqual(
      ownersOf(deployment(), '.spec.template.spec.containers[1].image').map((o) => o.manager),
      ['kubectl-edit', 'ops-team'],
    );
    assert.deepEqual(ownersOf(deployment(), '.spec.template.spec.containers[0].image'), []);
  });

  it('matches set items by value', () => {
    assert.deepEqual(
      ownersOf(deployment(), '.spec.template.spec.args[1]').map((o) => o.manager),
      ['kubectl-edit'],
    );
    assert.deepEqual(ownersOf(deployment(), '.spec.template.spec.args[0]'), []);
  });

  it('gives a path below an atomic field to the owner of that field', () => {
    assert.deepEqual(
      ownersOf(deployment(), '.spec.template.spec.containers[1].resources.limits.cpu').map(
        (o) => o.manager,
      ),
      ['ops-team'],
    );
  });
});

describe('changedByOf', () => {
  it('prefers the most recent owner among the drifted paths', () => {
    assert.equal(changedByOf(deployment(), ['.spec.replicas']), 'ops-team');
    assert.equal(
      changedByOf(deployment(), ['.spec.replicas', '.spec.template.spec.containers[1].image']),
      'kubectl-edit',
    );
  });

  it('falls back to the newest writer after our own apply when nobody owns the path', () => {
    // A removed field has no owner; status writers are never the suspect.
    assert.equal(changedByOf(deployment(), ['.metadata.labels.tier']), 'kubectl-edit');
  });

  it('is empty when only Driftless wrote the object', () => {
    const d = deployment();
    d.metadata['managedFields'] = (d.metadata['managedFields'] as unknown[]).slice(0, 1);
    assert.equal(changedByOf(d, ['.spec.replicas']), '');
  });
});
