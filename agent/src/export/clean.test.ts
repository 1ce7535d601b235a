import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../model.ts';
import { cleanObject, skipReason, stripKnownDefaults } from './index.ts';

/** A Deployment as the API server returns it after `kubectl create` (an Update, not an apply). */
function createdDeployment(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'abc',
      resourceVersion: '42',
      generation: 1,
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { app: 'web' },
      annotations: { 'deployment.kubernetes.io/revision': '1' },
      managedFields: [
        {
          manager: 'kubectl-create',
          operation: 'Update',
          apiVersion: 'apps/v1',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
            'f:spec': {
              'f:progressDeadlineSeconds': {},
              'f:replicas': {},
              'f:revisionHistoryLimit': {},
              'f:selector': {},
              'f:strategy': {
                'f:rollingUpdate': { '.': {}, 'f:maxSurge': {}, 'f:maxUnavailable': {} },
                'f:type': {},
              },
              'f:template': {
                'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
                'f:spec': {
                  'f:containers': {
                    'k:{"name":"web"}': {
                      '.': {},
                      'f:image': {},
                      'f:imagePullPolicy': {},
                      'f:name': {},
                      'f:resources': {},
                      'f:terminationMessagePath': {},
                      'f:terminationMessagePolicy': {},
                    },
                  },
                  'f:dnsPolicy': {},
                  'f:restartPolicy': {},
                  'f:schedulerName': {},
                  'f:securityContext': {},
                  'f:terminationGracePeriodSeconds': {},
                },
              },
            },
          },
        },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': { '.': {}, 'f:deployment.kubernetes.io/revision': {} },
            },
          },
        },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:replicas': {} } },
        },
      ],
    },
    spec: {
      replicas: 2,
      progressDeadlineSeconds: 600,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { app: 'web' } },
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
      },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'nginx:1.27',
              imagePullPolicy: 'IfNotPresent',
              resources: {},
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
            },
          ],
          dnsPolicy: 'ClusterFirst',
          restartPolicy: 'Always',
          schedulerName: 'default-scheduler',
          securityContext: {},
          terminationGracePeriodSeconds: 30,
        },
      },
    },
    status: { replicas: 2 },
  };
}

const cleanDeployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
    },
  },
};

describe('cleanObject', () => {
  it('keeps what the creator declared and drops defaults, status, server metadata and controller fields', () => {
    assert.deepEqual(cleanObject(createdDeployment()), cleanDeployment);
  });

  it('keeps a default-looking value that a server-side apply declared', () => {
    const live = createdDeployment();
    live.metadata['managedFields'] = [
      {
        manager: 'driftless',
        operation: 'Apply',
        fieldsV1: { 'f:spec': { 'f:replicas': {}, 'f:revisionHistoryLimit': {} } },
      },
    ];
    assert.deepEqual(cleanObject(live), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { replicas: 2, revisionHistoryLimit: 10 },
    });
  });

  it('falls back to the known defaults when an object has no managedFields', () => {
    const live = createdDeployment();
    delete live.metadata['managedFields'];
    delete live.metadata.annotations;
    assert.deepEqual(cleanObject(live), cleanDeployment);
  });

  it('drops the last-applied annotation and a Service clusterIP, but keeps a headless one', () => {
    const service = (clusterIP: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'web',
        namespace: 'shop',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      },
      spec: {
        clusterIP,
        clusterIPs: [clusterIP],
        type: 'ClusterIP',
        sessionAffinity: 'None',
        ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      },
    });
    assert.deepEqual(cleanObject(service('10.0.0.12')), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { ports: [{ port: 80 }] },
    });
    assert.deepEqual(
      (cleanObject(service('None'))['spec'] as { clusterIP?: string }).clusterIP,
      'None',
    );
  });

  it('drops the marks Driftless writes and keeps the user labels and annotations', () => {
    const applied = (managedBy: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'settings',
        namespace: 'shop',
        labels: {
          team: 'shop',
          'app.kubernetes.io/managed-by': managedBy,
          'driftless.dev/app': 'shop',
        },
        annotations: {
          owner: 'ana',
          'driftless.dev/sync-wave': '1',
          'driftless.dev/revision': 'a'.repeat(40),
          'driftless.dev/trace-id': '4bf92f3577b34da6a3ce929d0e0e4736',
          'driftless.dev/traceparent': '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        },
        managedFields: [
          {
            manager: 'driftless',
            operation: 'Apply',
            fieldsV1: {
              'f:data': { 'f:mode': {} },
              'f:metadata': {
                'f:labels': {
                  'f:team': {},
                  'f:app.kubernetes.io/managed-by': {},
                  'f:driftless.dev/app': {},
                },
                'f:annotations': {
                  'f:owner': {},
                  'f:driftless.dev/sync-wave': {},
                  'f:driftless.dev/revision': {},
                  'f:driftless.dev/trace-id': {},
                  'f:driftless.dev/traceparent': {},
                },
              },
            },
          },
        ],
      },
      data: { mode: 'fast' },
    });
    assert.deepEqual(cleanObject(applied('driftless')), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'settings',
        namespace: 'shop',
        labels: { team: 'shop' },
        annotations: { owner: 'ana', 'driftless.dev/sync-wave': '1' },
      },
      data: { mode: 'fast' },
    });
    assert.deepEqual(
      cleanObject(applied('platform-team')).metadata.labels,
      { team: 'shop', 'app.kubernetes.io/managed-by': 'platform-team' },
      "someone else's managed-by is theirs",
    );
  });

  it('does not change its input', () => {
    const live = createdDeployment();
    cleanObject(live);
    assert.deepEqual(live, createdDeployment());
  });
});

describe('stripKnownDefaults', () => {
  it('tells latest and untagged images (pulled Always) from tagged ones', () => {
    const pod = (image: string, imagePullPolicy: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', image, imagePullPolicy }] },
    });
    assert.deepEqual(stripKnownDefaults(pod('nginx', 'Always')), [
      'spec.containers.0.imagePullPolicy',
    ]);
    assert.deepEqual(stripKnownDefaults(pod('registry:5000/nginx:1.2', 'IfNotPresent')), [
      'spec.containers.0.imagePullPolicy',
    ]);
    assert.deepEqual(stripKnownDefaults(pod('nginx:1.2', 'Always')), []);
  });
});

describe('skipReason', () => {
  const obj = (
    kind: string,
    name: string,
    extra: Partial<KubeObject['metadata']> = {},
  ): KubeObject => ({
    apiVersion: 'v1',
    kind,
    metadata: { name, namespace: 'shop', ...extra },
  });

  it('skips generated and cluster-made objects and keeps user objects', () => {
    assert.equal(skipReason(obj('ServiceAccount', 'default')), 'created by the cluster');
    assert.equal(skipReason(obj('ConfigMap', 'kube-root-ca.crt')), 'created by the cluster');
    assert.equal(
      skipReason(
        obj('ConfigMap', 'driftless-app-web', { labels: { 'driftless.dev/inventory': 'true' } }),
      ),
      'a Driftless inventory',
    );
    assert.equal(
      skipReason(
        obj('Pod', 'web-1', { ownerReferences: [{ kind: 'ReplicaSet', controller: true }] }),
      ),
      'managed by a controller',
    );
    assert.equal(
      skipReason({ ...obj('Secret', 'token'), type: 'kubernetes.io/service-account-token' }),
      'a service account token',
    );
    assert.equal(
      skipReason(
        obj('PersistentVolumeClaim', 'pg-db-0', {
          managedFields: [{ manager: 'kube-controller-manager', operation: 'Update' }],
        }),
      ),
      'created by the control plane',
    );
    assert.equal(
      skipReason(
        obj('ConfigMap', 'driftless-suspensions', {
          labels: { 'app.kubernetes.io/managed-by': 'driftless' },
        }),
      ),
      "the Driftless agent's own state",
    );
    assert.equal(
      skipReason(
        obj('ConfigMap', 'settings', {
          labels: { 'app.kubernetes.io/managed-by': 'driftless', 'driftless.dev/app': 'shop' },
        }),
      ),
      undefined,
      'an object an app applied is exported (without its marks)',
    );
    assert.equal(skipReason(obj('ServiceAccount', 'builder')), undefined);
    assert.equal(skipReason(obj('ConfigMap', 'settings')), undefined);
  });
});

describe('stripKnownDefaults on server-written values', () => {
  it("drops a DaemonSet's template generation annotation and a claim template's defaulted kind", () => {
    const ds: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'a', annotations: { 'deprecated.daemonset.template.generation': '1' } },
    };
    assert.deepEqual(stripKnownDefaults(ds), [
      'metadata.annotations.deprecated.daemonset.template.generation',
    ]);
    const sts: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: {
        volumeClaimTemplates: [
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: 'pg' },
            spec: { volumeMode: 'Filesystem' },
          },
        ],
      },
    };
    stripKnownDefaults(sts);
    assert.deepEqual(sts['spec'], {
      volumeClaimTemplates: [{ metadata: { name: 'pg' }, spec: {} }],
    });
  });
});
