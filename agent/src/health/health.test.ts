import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refOf, type KubeObject } from '../model.ts';
import { aggregateHealth, gatesWave, healthOf, type Health } from './index.ts';
import { celProblem } from './index.ts';

/** An object as the API server returns it: metadata with generation, spec and status. */
function live(
  apiVersion: string,
  kind: string,
  name: string,
  body: { generation?: number; spec?: object; status?: object; namespace?: string | null } = {},
): KubeObject {
  const namespace = body.namespace === null ? undefined : (body.namespace ?? 'web');
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      uid: '0b3c9e1e-8f57-4c1e-9a57-2f3b8d0c1a11',
      resourceVersion: '48213',
      generation: body.generation ?? 1,
    },
    ...(body.spec ? { spec: body.spec } : {}),
    ...(body.status ? { status: body.status } : {}),
  };
}

const cond = (type: string, status: string, reason = '', message = '') => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2025-05-02T10:14:03Z',
});

function expectHealth(obj: KubeObject | undefined, status: Health['status'], message: string) {
  assert.deepEqual(healthOf(obj), { status, message });
}

describe('healthOf: Deployment', () => {
  const deploy = (status: object, spec: object = {}, generation = 2) =>
    live('apps/v1', 'Deployment', 'api', {
      generation,
      spec: { replicas: 3, selector: { matchLabels: { app: 'api' } }, ...spec },
      status,
    });
  const rolledOut = {
    observedGeneration: 2,
    replicas: 3,
    updatedReplicas: 3,
    readyReplicas: 3,
    availableReplicas: 3,
    conditions: [
      cond('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.'),
      cond(
        'Progressing',
        'True',
        'NewReplicaSetAvailable',
        'ReplicaSet "api-7d9c" has successfully progressed.',
      ),
    ],
  };

  it('is Healthy when rolled out', () => {
    expectHealth(deploy(rolledOut), 'Healthy', 'Deployment web/api: 3 of 3 replicas available');
  });
  it('is Progressing while replicas become available', () => {
    expectHealth(
      deploy({ ...rolledOut, readyReplicas: 1, availableReplicas: 1 }),
      'Progressing',
      'Deployment web/api: 1 of 3 replicas available',
    );
  });
  it('is Progressing while updating and while old replicas terminate', () => {
    expectHealth(
      deploy({ ...rolledOut, replicas: 4, updatedReplicas: 2 }),
      'Progressing',
      'Deployment web/api: 2 of 3 replicas updated',
    );
    expectHealth(
      deploy({ ...rolledOut, replicas: 4 }),
      'Progressing',
      'Deployment web/api: 1 old replicas pending termination',
    );
  });
  it('is Progressing until the controller observes the new generation', () => {
    expectHealth(
      deploy({ ...rolledOut, observedGeneration: 1 }, {}, 2),
      'Progressing',
      'Deployment web/api: waiting for the controller to observe generation 2 (at 1)',
    );
    expectHealth(
      deploy(undefined as never),
      'Progressing',
      'Deployment web/api: waiting for the controller to report status',
    );
  });
  it('is Degraded past its progress deadline', () => {
    expectHealth(
      deploy({
        ...rolledOut,
        updatedReplicas: 1,
        availableReplicas: 2,
        conditions: [
          cond('Available', 'True', 'MinimumReplicasAvailable'),
          cond(
            'Progressing',
            'False',
            'ProgressDeadlineExceeded',
            'ReplicaSet "api-5f6b" has timed out progressing.',
          ),
        ],
      }),
      'Degraded',
      'Deployment web/api: rollout exceeded its progress deadline: ProgressDeadlineExceeded: ReplicaSet "api-5f6b" has timed out progressing.',
    );
  });
  it('is Progressing while paused', () => {
    expectHealth(
      deploy(rolledOut, { paused: true }),
      'Progressing',
      'Deployment web/api: rollout paused',
    );
  });
  it('defaults spec.replicas to 1', () => {
    const obj = deploy({
      observedGeneration: 2,
      replicas: 1,
      updatedReplicas: 1,
      availableReplicas: 1,
    });
    delete (obj['spec'] as Record<string, unknown>)['replicas'];
    expectHealth(obj, 'Healthy', 'Deployment web/api: 1 of 1 replicas available');
  });
});

describe('healthOf: StatefulSet', () => {
  const sts = (status: object, spec: object = {}) =>
    live('apps/v1', 'StatefulSet', 'db', {
      spec: { replicas: 3, serviceName: 'db', ...spec },
      status: { observedGeneration: 1, replicas: 3, ...status },
    });
  const done = {
    readyReplicas: 3,
    currentReplicas: 3,
    updatedReplicas: 3,
    availableReplicas: 3,
    currentRevision: 'db-6c8f7d9b5',
    updateRevision: 'db-6c8f7d9b5',
  };
  it('is Healthy when all replicas are ready at the update revision', () => {
    expectHealth(sts(done), 'Healthy', 'StatefulSet web/db: 3 of 3 replicas ready');
  });
  it('is Progressing while replicas are not ready', () => {
    expectHealth(
      sts({ ...done, readyReplicas: 2 }),
      'Progressing',
      'StatefulSet web/db: 2 of 3 replicas ready',
    );
  });
  it('is Progressing during a rolling update', () => {
    expectHealth(
      sts({ ...done, updatedReplicas: 1, updateRevision: 'db-84b5c7f6d' }),
      'Progressing',
      'StatefulSet web/db: 1 of 3 replicas at revision db-84b5c7f6d',
    );
  });
  it('honours a partition', () => {
    const partitioned = {
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } },
    };
    expectHealth(
      sts({ ...done, updatedReplicas: 0, updateRevision: 'db-84b5c7f6d' }, partitioned),
      'Progressing',
      'StatefulSet web/db: 0 of 1 replicas updated (partition 2)',
    );
    expectHealth(
      sts({ ...done, updatedReplicas: 1, updateRevision: 'db-84b5c7f6d' }, partitioned),
      'Healthy',
      'StatefulSet web/db: partitioned rollout complete: 1 updated (partition 2)',
    );
  });
  it('does not wait for OnDelete updates', () => {
    expectHealth(
      sts({ ...done, updateRevision: 'db-84b5c7f6d' }, { updateStrategy: { type: 'OnDelete' } }),
      'Healthy',
      'StatefulSet web/db: 3 of 3 replicas ready (OnDelete updates)',
    );
  });
});

describe('healthOf: DaemonSet and ReplicaSet', () => {
  const ds = (status: object) =>
    live('apps/v1', 'DaemonSet', 'agent', {
      spec: { updateStrategy: { type: 'RollingUpdate' } },
      status: {
        observedGeneration: 1,
        currentNumberScheduled: 4,
        numberMisscheduled: 0,
        ...status,
      },
    });
  it('DaemonSet', () => {
    const full = {
      desiredNumberScheduled: 4,
      updatedNumberScheduled: 4,
      numberReady: 4,
      numberAvailable: 4,
    };
    expectHealth(ds(full), 'Healthy', 'DaemonSet web/agent: 4 of 4 pods available');
    expectHealth(
      ds({ ...full, updatedNumberScheduled: 2 }),
      'Progressing',
      'DaemonSet web/agent: 2 of 4 pods updated',
    );
    expectHealth(
      ds({ ...full, numberAvailable: 3, numberUnavailable: 1 }),
      'Progressing',
      'DaemonSet web/agent: 3 of 4 pods available',
    );
  });
  it('ReplicaSet', () => {
    const rs = (status: object) =>
      live('apps/v1', 'ReplicaSet', 'api-7d9c', {
        spec: { replicas: 2 },
        status: { observedGeneration: 1, ...status },
      });
    expectHealth(
      rs({ replicas: 2, readyReplicas: 2, availableReplicas: 2 }),
      'Healthy',
      'ReplicaSet web/api-7d9c: 2 of 2 replicas available',
    );
    expectHealth(
      rs({ replicas: 2, availableReplicas: 0 }),
      'Progressing',
      'ReplicaSet web/api-7d9c: 0 of 2 replicas available',
    );
    expectHealth(
      rs({
        replicas: 0,
        conditions: [
          cond(
            'ReplicaFailure',
            'True',
            'FailedCreate',
            'pods "api-7d9c-" is forbidden: exceeded quota: compute',
          ),
        ],
      }),
      'Degraded',
      'ReplicaSet web/api-7d9c: cannot create pods: FailedCreate: pods "api-7d9c-" is forbidden: exceeded quota: compute',
    );
  });
});

describe('healthOf: Job and Pod', () => {
  const job = (status: object, spec: object = {}) =>
    live('batch/v1', 'Job', 'migrate', {
      spec: { completions: 1, backoffLimit: 2, ...spec },
      status,
    });
  it('Job', () => {
    expectHealth(
      job({
        succeeded: 1,
        completionTime: '2025-05-02T10:15:00Z',
        conditions: [
          cond('SuccessCriteriaMet', 'True', 'CompletionsReached'),
          cond('Complete', 'True', 'CompletionsReached'),
        ],
      }),
      'Healthy',
      'Job web/migrate: complete (1 succeeded)',
    );
    expectHealth(
      job({
        failed: 3,
        conditions: [
          cond(
            'FailureTarget',
            'True',
            'BackoffLimitExceeded',
            'Job has reached the specified backoff limit',
          ),
          cond(
            'Failed',
            'True',
            'BackoffLimitExceeded',
            'Job has reached the specified backoff limit',
          ),
        ],
      }),
      'Degraded',
      'Job web/migrate: failed: BackoffLimitExceeded: Job has reached the specified backoff limit',
    );
    expectHealth(
      job({ active: 1, ready: 0 }),
      'Progressing',
      'Job web/migrate: running: 1 active, 0 of 1 succeeded',
    );
    expectHealth(job({}, { suspend: true }), 'Progressing', 'Job web/migrate: suspended');
  });
  it('Pod', () => {
    const pod = (status: object) =>
      live('v1', 'Pod', 'debug', {
        spec: { containers: [{ name: 'sh', image: 'busybox' }] },
        status,
      });
    expectHealth(
      pod({ phase: 'Running', conditions: [cond('Ready', 'True')] }),
      'Healthy',
      'Pod web/debug: running and ready',
    );
    expectHealth(
      pod({ phase: 'Running', conditions: [cond('Ready', 'False', 'ContainersNotReady')] }),
      'Progressing',
      'Pod web/debug: running, not ready',
    );
    expectHealth(
      pod({
        phase: 'Pending',
        containerStatuses: [
          {
            name: 'sh',
            ready: false,
            restartCount: 0,
            state: {
              waiting: {
                reason: 'ImagePullBackOff',
                message: 'Back-off pulling image "busybox:nope"',
              },
            },
          },
        ],
      }),
      'Degraded',
      'Pod web/debug: container sh is ImagePullBackOff: Back-off pulling image "busybox:nope"',
    );
    expectHealth(
      pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }),
      'Degraded',
      'Pod web/debug: failed: Evicted: The node was low on resource: memory.',
    );
    expectHealth(pod({ phase: 'Unknown' }), 'Unknown', 'Pod web/debug: phase Unknown');
  });
});

describe('healthOf: PersistentVolumeClaim, Service, CRD', () => {
  it('PersistentVolumeClaim', () => {
    const pvc = (phase: string) =>
      live('v1', 'PersistentVolumeClaim', 'data', {
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '1Gi' } },
          volumeName: 'pvc-3f1e',
        },
        status: { phase },
      });
    expectHealth(pvc('Bound'), 'Healthy', 'PersistentVolumeClaim web/data: bound to pvc-3f1e');
    const waiting = healthOf(pvc('Pending'));
    assert.deepEqual(waiting, {
      status: 'Progressing',
      message:
        'PersistentVolumeClaim web/data: pending: waiting for its first consumer or a volume',
      waitsOn: 'a pod that uses it, or a volume',
    });
    assert.equal(gatesWave(waiting), false, 'a claim no pod uses yet holds back no wave');
    const placed = pvc('Pending');
    placed.metadata.annotations = { 'volume.kubernetes.io/selected-node': 'node-1' };
    expectHealth(
      placed,
      'Progressing',
      'PersistentVolumeClaim web/data: pending: binding a volume on node node-1',
    );
    assert.equal(gatesWave(healthOf(placed)), true, 'binding under way gates');
    expectHealth(pvc('Lost'), 'Degraded', 'PersistentVolumeClaim web/data: lost its volume');
  });
  it('Service', () => {
    const svc = (type: string, status: object = { loadBalancer: {} }) =>
      live('v1', 'Service', 'api', {
        spec: { type, ports: [{ port: 80 }], clusterIP: '10.96.12.4' },
        status,
      });
    expectHealth(svc('ClusterIP'), 'Healthy', 'Service web/api: ClusterIP');
    const lb = healthOf(svc('LoadBalancer'));
    assert.deepEqual(lb, {
      status: 'Progressing',
      message: 'Service web/api: waiting for a load balancer address',
      waitsOn: 'a load balancer address',
    });
    assert.equal(gatesWave(lb), false);
    expectHealth(
      svc('LoadBalancer', { loadBalancer: { ingress: [{ ip: '203.0.113.7', ipMode: 'VIP' }] } }),
      'Healthy',
      'Service web/api: load balancer at 203.0.113.7',
    );
  });
  it('CustomResourceDefinition', () => {
    const crd = (conditions: object[]) =>
      live('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'widgets.example.com', {
        namespace: null,
        spec: {
          group: 'example.com',
          scope: 'Namespaced',
          names: { kind: 'Widget', plural: 'widgets' },
        },
        status: {
          conditions,
          acceptedNames: { kind: 'Widget', plural: 'widgets' },
          storedVersions: ['v1'],
        },
      });
    expectHealth(
      crd([
        cond('NamesAccepted', 'True', 'NoConflicts'),
        cond('Established', 'True', 'InitialNamesAccepted'),
      ]),
      'Healthy',
      'CustomResourceDefinition widgets.example.com: established',
    );
    expectHealth(
      crd([cond('NamesAccepted', 'True', 'NoConflicts')]),
      'Progressing',
      'CustomResourceDefinition widgets.example.com: waiting to be established',
    );
    expectHealth(
      crd([
        cond('NamesAccepted', 'False', 'ListKindConflict', '"WidgetList" is already in use'),
        cond('Established', 'False', 'NotAccepted'),
      ]),
      'Degraded',
      'CustomResourceDefinition widgets.example.com: names not accepted: ListKindConflict: "WidgetList" is already in use',
    );
  });
});

describe('healthOf: other kinds', () => {
  const cert = (conditions: object[], observedGeneration = 1) =>
    live('cert-manager.io/v1', 'Certificate', 'tls', {
      status: { conditions, observedGeneration },
    });
  it('reads a Ready condition', () => {
    expectHealth(
      cert([cond('Ready', 'True', 'Ready', 'Certificate is up to date and has not expired')]),
      'Healthy',
      'Certificate web/tls: ready: Ready: Certificate is up to date and has not expired',
    );
    expectHealth(
      cert([
        cond('Ready', 'False', 'DoesNotExist', 'Issuing certificate as Secret does not exist'),
      ]),
      'Degraded',
      'Certificate web/tls: not ready: DoesNotExist: Issuing certificate as Secret does not exist',
    );
    expectHealth(
      cert([cond('Ready', 'False', 'Progressing', 'Reconciliation in progress')]),
      'Progressing',
      'Certificate web/tls: not ready: Progressing: Reconciliation in progress',
    );
    expectHealth(
      cert([cond('Ready', 'False', 'ReconciliationFailed', 'kustomize build failed')]),
      'Degraded',
      'Certificate web/tls: not ready: ReconciliationFailed: kustomize build failed',
    );
    expectHealth(
      cert([cond('Ready', 'Unknown', 'Pending')]),
      'Progressing',
      'Certificate web/tls: readiness unknown: Pending',
    );
  });
  it('follows kstatus: stale generation, Stalled, Reconciling', () => {
    const stale = cert([cond('Ready', 'True')], 1);
    stale.metadata['generation'] = 2;
    expectHealth(
      stale,
      'Progressing',
      'Certificate web/tls: waiting for the controller to observe generation 2 (at 1)',
    );
    expectHealth(
      cert([cond('Stalled', 'True', 'InvalidSpec', 'bad issuer')]),
      'Degraded',
      'Certificate web/tls: stalled: InvalidSpec: bad issuer',
    );
    expectHealth(
      cert([cond('Reconciling', 'True', 'Progressing')]),
      'Progressing',
      'Certificate web/tls: reconciling: Progressing',
    );
  });
  it('is Healthy for kinds without status semantics', () => {
    expectHealth(live('v1', 'ConfigMap', 'cfg'), 'Healthy', 'ConfigMap web/cfg: exists');
    expectHealth(
      live('v1', 'Namespace', 'web', { namespace: null, status: { phase: 'Active' } }),
      'Healthy',
      'Namespace web: exists',
    );
  });
  it('is Progressing while being deleted, Missing when absent', () => {
    const gone = live('v1', 'ConfigMap', 'cfg');
    gone.metadata['deletionTimestamp'] = '2025-05-02T10:20:00Z';
    expectHealth(gone, 'Progressing', 'ConfigMap web/cfg: being deleted');
    expectHealth(undefined, 'Missing', 'not found in the cluster');
  });
  it('never throws on odd status shapes', () => {
    const odd = live('apps/v1', 'Deployment', 'odd', {
      spec: 'nonsense' as never,
      status: { conditions: 'x', observedGeneration: 'one' },
    });
    assert.equal(healthOf(odd).status, 'Progressing');
  });
});

describe('aggregateHealth', () => {
  const ok = live('v1', 'ConfigMap', 'cfg');
  const api = live('apps/v1', 'Deployment', 'api');
  const lb = live('v1', 'Service', 'lb');
  const item = (obj: KubeObject, status: Health['status'], why: string) => ({
    ref: refOf(obj),
    health: {
      status,
      message: status === 'Missing' ? why : `${refOf(obj).kind} web/${obj.metadata.name}: ${why}`,
    },
  });

  it('is Healthy with no objects or all Healthy', () => {
    assert.deepEqual(aggregateHealth([]), { status: 'Healthy', message: 'no objects' });
    assert.deepEqual(aggregateHealth([item(ok, 'Healthy', 'exists')]), {
      status: 'Healthy',
      message: '1 object Healthy',
    });
  });
  it('takes the worst status and lists what is not Healthy, worst first', () => {
    assert.deepEqual(
      aggregateHealth([
        item(ok, 'Healthy', 'exists'),
        item(api, 'Progressing', '1 of 3 replicas available'),
        item(lb, 'Missing', 'not found in the cluster'),
      ]),
      {
        status: 'Missing',
        message:
          '2 of 3 objects not Healthy: Service web/lb Missing: not found in the cluster; Deployment web/api Progressing: 1 of 3 replicas available',
      },
    );
  });
  it('orders Degraded > Missing > Progressing > Unknown > Healthy', () => {
    const order: Health['status'][] = ['Healthy', 'Unknown', 'Progressing', 'Missing', 'Degraded'];
    for (let i = 1; i < order.length; i++) {
      const worse = order[i] ?? 'Healthy';
      const items = order
        .slice(0, i + 1)
        .map((s, j) => item(live('v1', 'ConfigMap', `c${j}`), s, s));
      assert.equal(aggregateHealth(items).status, worse);
    }
  });
  it('names at most three objects, so the message stays short', () => {
    const items = Array.from({ length: 13 }, (_, i) =>
      item(live('v1', 'ConfigMap', `c${i}`), 'Missing', 'not found in the cluster'),
    );
    const { message } = aggregateHealth(items);
    assert.match(message, /^13 of 13 objects not Healthy: ConfigMap web\/c0 Missing/);
    assert.match(message, /; and 10 more$/);
    assert.ok(message.length < 300, message);
  });
});

describe('health rules in CEL', () => {
  const widget = (status: object) =>
    live('example.com/v1', 'Widget', 'w', { status: { observedGeneration: 1, ...status } });
  const rules = [
    {
      group: 'example.com',
      kind: 'Widget',
      healthy: "object.status.phase == 'Ready' && object.status.replicas >= 2",
      degraded: "has(object.status.error) && object.status.error != ''",
    },
  ];
  it('decides Healthy, Progressing and Degraded for the kinds they name', () => {
    assert.equal(healthOf(widget({ phase: 'Ready', replicas: 2 }), rules).status, 'Healthy');
    assert.equal(healthOf(widget({ phase: 'Ready', replicas: 1 }), rules).status, 'Progressing');
    const bad = healthOf(widget({ phase: 'Ready', replicas: 3, error: 'quota' }), rules);
    assert.equal(bad.status, 'Degraded');
    assert.match(bad.message, /^Widget web\/w: degraded by the app's rule/);
  });
  it('is Unknown, with the reason, when an expression cannot be evaluated', () => {
    const h = healthOf(widget({ replicas: 2 }), rules);
    assert.equal(h.status, 'Unknown');
    assert.match(h.message, /healthy rule failed: .*phase/);
  });
  it('leaves other kinds to the built-in checks', () => {
    const other = live('example.com/v1', 'Gadget', 'g', {
      status: { conditions: [cond('Ready', 'True')] },
    });
    assert.equal(healthOf(other, rules).status, 'Healthy');
  });
  it('reports expressions that do not parse', () => {
    assert.equal(celProblem("object.status.phase == 'Ready'"), undefined);
    assert.match(celProblem('object.status ==') ?? '', /expecting/);
  });
});
