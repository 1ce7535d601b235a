/**
 * Objects in a Namespace the sync creates, against a real API server. The server cannot
 * dry-run them (it refuses the missing Namespace before its validation proper), so the plan
 * checks what that validation would refuse: names, labels and annotations, required fields,
 * enums, types, the rules of common kinds (a selector that must select the pod template, port
 * ranges, requests within limits, ...), and custom resources against their CRD's schema,
 * including a CRD of the same sync. For each class of fault: the server refuses the object in a
 * Namespace that exists (so the check is not stricter than the server), the plan refuses it
 * naming the object, the field and the rule, and a sync writes nothing, not even the Namespace,
 * and says why in its status and a SyncFailed Event. A valid set still goes through with no
 * dry-run of its objects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  judgeCustomResource,
  judgeServedSchema,
  KubeApiError,
  KubeClient,
  planApp,
  servedCrd,
  type KubeObject,
} from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitServer,
} from '@driftless/test';
import { exampleCrd } from './crd-fixture.ts';
import { clusterYaml, makeAgent, type TestAgent } from './fleet.ts';

/** An existing Namespace, where the server's own verdict can be had. */
const EXISTS = 'exists';

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, ...extra });
const deployment = (
  name: string,
  podSpec: Record<string, unknown> = {},
  spec: Record<string, unknown> = {},
): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: meta(name),
  spec: {
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'main', image: 'registry.local/web:1.0' }], ...podSpec },
    },
    ...spec,
  },
});
const container = (name: string, extra: Record<string, unknown>) =>
  deployment(name, { containers: [{ name: 'main', image: 'a', ...extra }] });

/** What the Widget, Gadget and Cart kinds of these tests hold in `spec`. */
const SPEC_SCHEMA = {
  type: 'object',
  required: ['size'],
  properties: {
    size: { type: 'integer', minimum: 1, maximum: 10 },
    mode: { type: 'string', enum: ['fast', 'slow'] },
    owner: { type: 'string', pattern: '^[a-z]+$' },
    parts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string' }, count: { type: 'integer' } },
      },
    },
  },
};
const CRD = exampleCrd({ plural: 'widgets', kind: 'Widget', spec: SPEC_SCHEMA });
const widget = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  metadata: meta(name),
  spec,
});

/** Valid objects: the server takes them, the plan creates them without a dry-run. */
const good: KubeObject[] = [
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta('app.conf', { labels: { a: 'b' } }),
    data: { 'x.yaml': 'y' },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('web'),
    spec: {
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'dns', port: 53, protocol: 'UDP' },
      ],
    },
  },
  container('web', {
    ports: [{ name: 'http', containerPort: 8080 }],
    imagePullPolicy: 'IfNotPresent',
    env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'app.conf', key: 'x.yaml' } } }],
    resources: { requests: { cpu: '500m', memory: '64Mi' }, limits: { cpu: '1', memory: '64Mi' } },
    readinessProbe: { httpGet: { path: '/', port: 'http', httpHeaders: [{ name: 'X-Probe' }] } },
  }),
  {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta('once'),
    spec: {
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'a' }] } },
    },
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta('readers'),
    roleRef: { kind: 'ClusterRole', name: 'view' },
    subjects: [
      { kind: 'ServiceAccount', name: 'default' },
      { kind: 'User', name: 'ann' },
    ],
  },
  {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta('db'),
    spec: {
      serviceName: 'db',
      replicas: 1,
      selector: { matchLabels: { app: 'db' } },
      template: {
        metadata: { labels: { app: 'db', tier: 'data' } },
        spec: {
          initContainers: [{ name: 'init', image: 'a', command: ['true'] }],
          containers: [
            {
              name: 'db',
              image: 'a',
              ports: [{ name: 'sql', containerPort: 5432, protocol: 'TCP' }],
              volumeMounts: [
                { name: 'data', mountPath: '/var/lib/db' },
                { name: 'conf', mountPath: '/etc/db', readOnly: true },
              ],
              livenessProbe: { tcpSocket: { port: 5432 }, initialDelaySeconds: 5 },
              securityContext: { runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
            },
          ],
          volumes: [
            {
              name: 'conf',
              configMap: { name: 'app.conf', items: [{ key: 'x.yaml', path: 'x.yaml' }] },
            },
          ],
          tolerations: [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      ],
    },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta('agent'),
    spec: {
      selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['agent'] }] },
      template: {
        metadata: { labels: { app: 'agent' } },
        spec: {
          containers: [
            {
              name: 'a',
              image: 'a',
              env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
            },
          ],
        },
      },
    },
  },
  {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: meta('nightly'),
    spec: {
      schedule: '0 3 * * *',
      concurrencyPolicy: 'Forbid',
      jobTemplate: {
        spec: {
          backoffLimit: 1,
          template: {
            spec: { restartPolicy: 'OnFailure', containers: [{ name: 'm', image: 'a' }] },
          },
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta('cache'),
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta('web'),
    spec: {
      rules: [
        {
          host: 'shop.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'web', port: { name: 'http' } } },
              },
            ],
          },
        },
      ],
    },
  },
  {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta('web'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 3,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
        },
      ],
    },
  },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta('web'),
    spec: {
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 8080, protocol: 'TCP' }] }],
    },
  },
  {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta('web'),
    spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } },
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta('reader'),
    rules: [
      {
        apiGroups: ['', 'apps'],
        resources: ['configmaps', 'deployments'],
        verbs: ['get', 'list', 'watch'],
        resourceNames: ['x'],
      },
    ],
  },
  {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: meta('runner'),
    automountServiceAccountToken: false,
  },
  {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta('tls'),
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5' },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('rich', { annotations: { 'example.com/owner': 'team-a' } }),
    spec: {
      replicas: 3,
      revisionHistoryLimit: 2,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      selector: {
        matchLabels: { app: 'rich' },
        matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }],
      },
      template: {
        metadata: {
          labels: { app: 'rich', tier: 'web' },
          annotations: { 'example.com/scrape': 'true' },
        },
        spec: {
          serviceAccountName: 'runner',
          securityContext: {
            runAsUser: 1000,
            fsGroup: 2000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 50,
                  podAffinityTerm: {
                    topologyKey: 'kubernetes.io/hostname',
                    labelSelector: { matchLabels: { app: 'rich' } },
                  },
                },
              ],
            },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: { app: 'rich' } },
            },
          ],
          hostAliases: [{ ip: '10.0.0.1', hostnames: ['db.local'] }],
          dnsConfig: { options: [{ name: 'ndots', value: '2' }] },
          initContainers: [
            {
              name: 'migrate',
              image: 'a',
              args: ['migrate'],
              envFrom: [{ configMapRef: { name: 'app.conf' } }],
            },
          ],
          containers: [
            {
              name: 'app',
              image: 'a',
              imagePullPolicy: 'Always',
              ports: [
                { name: 'http', containerPort: 8080 },
                { name: 'metrics', containerPort: 9090 },
              ],
              env: [
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                {
                  name: 'CPU',
                  valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } },
                },
              ],
              resources: {
                requests: { cpu: '250m', memory: '256Mi', 'ephemeral-storage': '1Gi' },
                limits: { memory: '256Mi' },
              },
              startupProbe: { exec: { command: ['true'] }, failureThreshold: 30 },
              livenessProbe: { grpc: { port: 9090 } },
              lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'cfg', mountPath: '/etc/app', readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            {
              name: 'cfg',
              projected: {
                sources: [
                  { configMap: { name: 'app.conf' } },
                  {
                    downwardAPI: {
                      items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }],
                    },
                  },
                ],
              },
            },
          ],
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('np'),
    spec: {
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
      sessionAffinity: 'ClientIP',
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('headless'),
    spec: { clusterIP: 'None', selector: { app: 'db' } },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('ext'),
    spec: { type: 'ExternalName', externalName: 'db.example.com' },
  },
  {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta('basic'),
    type: 'kubernetes.io/basic-auth',
    stringData: { username: 'ann', password: 'x' },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: meta('rs'),
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'rs' } },
      template: {
        metadata: { labels: { app: 'rs' } },
        spec: { containers: [{ name: 'm', image: 'a' }] },
      },
    },
  },
];

/** One object per class of fault, with the field the refusal must name. */
const faults: [string, KubeObject, string][] = [
  [
    'a name that is not a DNS subdomain',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('My_Config') },
    'metadata.name',
  ],
  [
    'a Service name of 64 characters',
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('s'.repeat(64)),
      spec: { ports: [{ port: 80 }] },
    },
    'metadata.name',
  ],
  [
    'a label value with a space',
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('lbl', { labels: { tier: 'front end' } }),
    },
    'metadata.labels.tier',
  ],
  [
    'an annotation key with two slashes',
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('ann', { annotations: { 'a/b/c': 'x' } }),
    },
    'metadata.annotations',
  ],
  [
    'a Deployment without spec.selector',
    (() => {
      const d = deployment('nosel');
      delete (d['spec'] as Record<string, unknown>)['selector'];
      return d;
    })(),
    'spec.selector',
  ],
  [
    'a selector that does not select the pod template',
    deployment('mismatch', {}, { selector: { matchLabels: { app: 'other' } } }),
    'spec.template.metadata.labels',
  ],
  [
    'a container without a name',
    deployment('noname', { containers: [{ image: 'a' }] }),
    'spec.template.spec.containers[0].name',
  ],
  [
    'an env entry without a name (nested in an array)',
    container('noenv', { env: [{ value: 'x' }] }),
    'spec.template.spec.containers[0].env[0].name',
  ],
  [
    'a container port out of range',
    container('port', { ports: [{ containerPort: 70000 }] }),
    'spec.template.spec.containers[0].ports[0].containerPort',
  ],
  [
    'an enum value the kind does not have',
    container('pull', { imagePullPolicy: 'Sometimes' }),
    'spec.template.spec.containers[0].imagePullPolicy',
  ],
  [
    'a request above its limit',
    container('req', { resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }),
    'spec.template.spec.containers[0].resources.requests[cpu]',
  ],
  [
    'a quantity that does not parse',
    container('qty', { resources: { limits: { memory: 'lots' } } }),
    'spec.template.spec.containers[0].resources.limits[memory]',
  ],
  [
    'a mount of no volume',
    container('mount', { volumeMounts: [{ name: 'data', mountPath: '/data' }] }),
    'spec.template.spec.containers[0].volumeMounts[0].name',
  ],
  [
    'a boolean for an int-or-string port',
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('tp'),
      spec: { ports: [{ port: 80, targetPort: true }] },
    },
    'spec.ports[0].targetPort',
  ],
  ['a string for an integer', deployment('reps', {}, { replicas: 'two' }), 'spec.replicas'],
  [
    'an undeclared field',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('extra'), bogus: 1 },
    'bogus',
  ],
  [
    'two unnamed ports of a Service',
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('twoports'),
      spec: { ports: [{ port: 80 }, { port: 81 }] },
    },
    'spec.ports[0].name',
  ],
  [
    'a Job restarting its pods always',
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta('job'),
      spec: { template: { spec: { containers: [{ name: 'm', image: 'a' }] } } },
    },
    'spec.template.spec.restartPolicy',
  ],
  [
    'a ConfigMap key with a slash',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('keys'), data: { 'a/b': 'x' } },
    'data[a/b]',
  ],
  [
    'a RoleBinding to a kind that is no role',
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta('rb'),
      roleRef: { kind: 'Pod', name: 'x' },
    },
    'roleRef.kind',
  ],
  [
    'a claim without access modes',
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta('pvc'),
      spec: { resources: { requests: { storage: '1Gi' } } },
    },
    'spec.accessModes',
  ],
  [
    'a CronJob schedule of three fields',
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: meta('cron'),
      spec: {
        schedule: '0 * *',
        jobTemplate: {
          spec: {
            template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm', image: 'a' }] } },
          },
        },
      },
    },
    'spec.schedule',
  ],
  [
    'annotations of more than 256 KiB',
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('big', {
        annotations: { a: 'x'.repeat(128 * 1024), b: 'y'.repeat(128 * 1024) },
      }),
    },
    'metadata.annotations',
  ],
  [
    'a volume name that is not a DNS label',
    deployment('vol', { volumes: [{ name: 'Data', emptyDir: {} }] }),
    'spec.template.spec.volumes[0].name',
  ],
  [
    'two container ports of one name',
    container('pname', {
      ports: [
        { name: 'http', containerPort: 80 },
        { name: 'http', containerPort: 81 },
      ],
    }),
    'spec.template.spec.containers[0].ports[1].name',
  ],
  [
    'a Job name of 64 characters (its pods get it as a label value)',
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta('j'.repeat(64)),
      spec: {
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm', image: 'a' }] } },
      },
    },
    'metadata.name',
  ],
  [
    'a CronJob name of 53 characters',
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: meta('c'.repeat(53)),
      spec: {
        schedule: '@daily',
        jobTemplate: {
          spec: {
            template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm', image: 'a' }] } },
          },
        },
      },
    },
    'metadata.name',
  ],
  ['an empty selector', deployment('empty', {}, { selector: {} }), 'spec.selector'],
  [
    'a rolling update with neither surge nor unavailability',
    deployment('stuck', {}, { strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } } }),
    'spec.strategy.rollingUpdate.maxUnavailable',
  ],
  [
    'rolling-update settings on a Recreate strategy',
    deployment('recreate', {}, { strategy: { type: 'Recreate', rollingUpdate: { maxSurge: 1 } } }),
    'spec.strategy.rollingUpdate',
  ],
  [
    'a probe without a handler',
    container('probe', { readinessProbe: { periodSeconds: 5 } }),
    'spec.template.spec.containers[0].readinessProbe',
  ],
  [
    'a toleration without a key that is not Exists',
    deployment('tol', { tolerations: [{ operator: 'Equal', value: 'x' }] }),
    'spec.template.spec.tolerations[0].operator',
  ],
  [
    'a Service port name in capitals',
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('caps'),
      spec: { ports: [{ name: 'HTTP', port: 80 }] },
    },
    'spec.ports[0].name',
  ],
  [
    'a Role granting non-resource URLs',
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta('urls'),
      rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }],
    },
    'rules[0].nonResourceURLs',
  ],
  [
    'an Ingress path not starting with /',
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta('rel'),
      spec: {
        rules: [
          {
            http: {
              paths: [
                {
                  path: 'api',
                  pathType: 'Prefix',
                  backend: { service: { name: 'web', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    },
    'spec.rules[0].http.paths[0].path',
  ],
  [
    'a claim without a storage request',
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta('nosize'),
      spec: { accessModes: ['ReadWriteOnce'] },
    },
    'spec.resources.requests[storage]',
  ],
  [
    'a custom resource with an undeclared field',
    widget('w-extra', { size: 1, colour: 'red' }),
    'spec.colour',
  ],
  ['a custom resource without its required field', widget('w-req', { mode: 'fast' }), 'spec.size'],
  ['a custom resource value out of its bounds', widget('w-max', { size: 11 }), 'spec.size'],
  [
    'a custom resource value outside its enum',
    widget('w-enum', { size: 1, mode: 'odd' }),
    'spec.mode',
  ],
  [
    'a custom resource value not matching its pattern',
    widget('w-pat', { size: 1, owner: 'Ann' }),
    'spec.owner',
  ],
  [
    'a custom resource list entry without its required field',
    widget('w-part', { size: 1, parts: [{ count: 1 }] }),
    'spec.parts[0].name',
  ],
];

/**
 * Every object one step from `obj`: each field (but the identity) removed, each string made
 * empty, each number made 0, each list emptied; with what was done, as `remove spec.replicas`.
 */
function mutations(obj: KubeObject): [string, KubeObject][] {
  const out: [string, KubeObject][] = [];
  const walk = (value: unknown, path: (string | number)[]) => {
    if (typeof value !== 'object' || value === null) return;
    const entries: [string | number, unknown][] = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.entries(value);
    for (const [k, v] of entries) {
      const at = [...path, k];
      const identity = [
        'apiVersion',
        'kind',
        'metadata',
        'metadata.name',
        'metadata.namespace',
      ].includes(at.join('.'));
      if (identity) continue;
      const set = (what: string, next: unknown) => {
        const copy = structuredClone(obj) as unknown as Record<string | number, unknown>;
        let parent = copy;
        for (const p of path) parent = parent[p] as Record<string | number, unknown>;
        if (next === undefined) {
          if (Array.isArray(parent)) parent.splice(k as number, 1);
          else delete parent[k];
        } else parent[k] = next;
        out.push([`${what} ${at.join('.')}`, copy as unknown as KubeObject]);
      };
      set('remove', undefined);
      if (typeof v === 'string' && v !== '') set('empty', '');
      if (typeof v === 'number' && v !== 0) set('zero', 0);
      if (Array.isArray(v) && v.length > 0) set('empty', []);
      walk(v, at);
    }
  };
  walk(obj, []);
  return out;
}

const inNamespace = (obj: KubeObject, namespace: string): KubeObject => ({
  ...obj,
  metadata: { ...obj.metadata, namespace },
});

describe('objects in a Namespace the sync creates are validated before anything is written', () => {
  let cluster: Cluster;
  let git: GitServer;
  let client: KubeClient;
  const agents: TestAgent[] = [];

  before(async () => {
    // Workloads: the fixed sync waits for its Deployment to be Healthy.
    [cluster, git] = await Promise.all([startCluster({ workloads: true }), startGitServer()]);
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    await client.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: EXISTS } },
      { fieldManager: 'test' },
    );
    await client.apply(CRD, { fieldManager: 'test' });
    await waitFor(
      'the Widget CRD to be served',
      async () => Boolean(await client.resource('example.com/v1', 'Widget')),
      {
        timeoutMs: 30_000,
        everyMs: 100,
      },
    );
  });
  after(async () => {
    for (const a of agents) await a.close();
    client?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  /** The server's verdict on `obj` in a Namespace that exists: 200, or the status it refuses with. */
  const server = async (obj: KubeObject): Promise<number> => {
    try {
      await client.apply(inNamespace(obj, EXISTS), { fieldManager: 'test', dryRun: true });
      return 200;
    } catch (err) {
      assert.ok(err instanceof KubeApiError, String(err));
      return err.statusCode;
    }
  };

  /** Records the dry-run requests `c` sends from now on. */
  const dryRuns = (c: KubeClient): string[] => {
    const paths: string[] = [];
    const request = c.request.bind(c);
    c.request = (method, path, options) => {
      if (options?.query?.['dryRun']) paths.push(path);
      return request(method, path, options);
    };
    return paths;
  };

  const plan = (c: KubeClient, namespace: string, objects: KubeObject[]) =>
    planApp({
      client: c,
      app: namespace,
      revision: 'r',
      desired: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
        ...objects.map((o) => inNamespace(o, namespace)),
      ],
      inventory: [],
      prune: false,
    });

  it('the server refuses each fault in a Namespace that exists (the check is never stricter than the server), and takes the valid set', async () => {
    const verdicts: Record<string, number> = {};
    for (const [what, obj] of faults) verdicts[what] = await server(obj);
    assert.deepEqual(
      Object.entries(verdicts).filter(([, code]) => code < 400),
      [],
      'every fault refused by the server',
    );
    for (const obj of good)
      assert.equal(await server(obj), 200, `${obj.kind} ${obj.metadata.name}`);
  });

  it('refuses no object one step from a valid one that the server takes (every field removed, emptied or zeroed)', async () => {
    const crd = await servedCrd(client, 'example.com', 'widgets');
    assert.ok(crd);
    const valid = [
      ...good,
      widget('w', { size: 2, mode: 'slow', owner: 'ann', parts: [{ name: 'a', count: 1 }] }),
    ];
    const stricter: string[] = [];
    let refused = 0;
    let tried = 0;
    for (const obj of valid)
      for (const [what, mutated] of mutations(inNamespace(obj, EXISTS))) {
        tried++;
        const verdict =
          mutated.kind === 'Widget'
            ? judgeCustomResource(mutated, crd)
            : await judgeServedSchema(client, mutated);
        if (verdict.verdict !== 'refused') continue;
        refused++;
        const code = await server(mutated);
        if (code < 400)
          stricter.push(
            `${obj.kind} ${obj.metadata.name}: ${what}: refused (${verdict.refusal.path}: ${verdict.refusal.rule}), the server takes it`,
          );
      }
    assert.deepEqual(stricter, []);
    // The check must have had something to say, or this proves nothing.
    assert.ok(refused >= 10 && tried > refused, `${refused} of ${tried} refused`);
    console.log(
      `# ${tried} objects one step from a valid one: ${refused} refused by the check, each by the server too`,
    );
  });

  it('refuses each fault in a new Namespace naming the object, the field and the rule, without dry-running it', async () => {
    const fresh = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    try {
      const sent = dryRuns(fresh);
      const misses: string[] = [];
      for (const [i, [what, obj, field]] of faults.entries()) {
        const ns = `fault-${i}`;
        const error = await plan(fresh, ns, [obj]).then(
          () => undefined,
          (err: unknown) => err as Error,
        );
        const expected = `plan ${obj.kind} ${ns}/${obj.metadata.name}: ${field}: `;
        if (!error?.message.startsWith(expected))
          misses.push(
            `${what}: expected "${expected}…", got ${error ? `"${error.message}"` : 'a plan'}`,
          );
        else assert.equal(error.name, 'ObjectError');
      }
      assert.deepEqual(misses, []);
      assert.deepEqual(
        sent.filter(
          (p) =>
            p.includes('/namespaces/fault-') &&
            !/\/namespaces\/fault-\d+$/.test(p) &&
            !p.includes('example.com'),
        ),
        [],
        'no built-in object was dry-run: each was refused before',
      );
      for (const i of faults.keys())
        assert.equal(
          await client.get({
            apiVersion: 'v1',
            kind: 'Namespace',
            namespace: '',
            name: `fault-${i}`,
          }),
          undefined,
        );
    } finally {
      fresh.close();
    }
  });

  it('plans the valid set in a new Namespace with no dry-run but the Namespace', async () => {
    const fresh = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    try {
      const sent = dryRuns(fresh);
      const planned = await plan(fresh, 'valid', good);
      assert.equal(planned.counts.create, good.length + 1);
      assert.deepEqual(sent, ['/api/v1/namespaces/valid'], 'only the Namespace is dry-run');
    } finally {
      fresh.close();
    }
  });

  it('checks a custom resource against the CRD of the same sync, before the CRD is written', async () => {
    const crd = exampleCrd({ plural: 'gadgets', kind: 'Gadget', spec: SPEC_SCHEMA });
    const gadget = (spec: Record<string, unknown>): KubeObject => ({
      apiVersion: 'example.com/v1',
      kind: 'Gadget',
      metadata: { name: 'g', namespace: 'gadgets' },
      spec,
    });
    const desired = (spec: Record<string, unknown>): KubeObject[] => [
      crd,
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gadgets' } },
      gadget(spec),
    ];
    const run = (spec: Record<string, unknown>) =>
      planApp({
        client,
        app: 'gadgets',
        revision: 'r',
        desired: desired(spec),
        inventory: [],
        prune: false,
      });
    await assert.rejects(run({ size: 0 }), {
      message: 'plan Gadget gadgets/g: spec.size: 0 must be at least 1',
    });
    await assert.rejects(run({ size: 2, parts: [{}] }), {
      message: 'plan Gadget gadgets/g: spec.parts[0].name: required',
    });
    const ok = await run({ size: 2, parts: [{ name: 'a' }] });
    assert.equal(ok.objects.find((o) => o.ref.kind === 'Gadget')?.action, 'create');
    // An existing Namespace too: the server does not serve the kind yet, so it cannot judge it.
    await assert.rejects(
      planApp({
        client,
        app: 'gadgets',
        revision: 'r',
        desired: [crd, { ...gadget({ size: 99 }), metadata: { name: 'g', namespace: EXISTS } }],
        inventory: [],
        prune: false,
      }),
      { message: `plan Gadget ${EXISTS}/g: spec.size: 99 must be at most 10` },
    );
  });

  it('each fault, synced by the agent into a new Namespace, fails the sync, writes nothing and is named in the status and a SyncFailed Event', async () => {
    const repo = await git.createRepo('faults');
    const t = await makeAgent({
      kubeConfig: cluster.kubeConfig,
      git,
      repo,
      stateNamespace: 'state-faults',
    });
    agents.push(t);
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'faulty' } };
    const valid = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'before' },
      data: { a: 'b' },
    };
    const failedEvents = async () =>
      (await client.list('events.k8s.io/v1', 'Event', { namespace: 'state-faults' })).items
        .filter((e: KubeObject) => e['reason'] === 'SyncFailed')
        .map((e: KubeObject) => String(e['note']));
    const misses: string[] = [];
    for (const [what, obj, field] of faults) {
      const rev = await repo.commit(
        {
          'clusters/test/driftless.yaml': clusterYaml(
            '    - name: faulty\n      path: apps/faulty\n      namespace: faulty\n',
          ),
          'apps/faulty/all.yaml': [namespace, valid, obj]
            .map((o) => JSON.stringify(o))
            .join('\n---\n'),
        },
        what,
      );
      await t.agent.reconcileOnce();
      const message = t.agent.statuses().find((s) => s.app === 'faulty')?.message ?? '';
      const ref = `${obj.kind} faulty/${obj.metadata.name}`;
      // Names, labels and annotations are refused earlier still, by the guard, in its own words.
      const named =
        message.includes(`${ref}: ${field}: `) ||
        (message.includes(`${obj.kind} ${obj.metadata.name}`) &&
          /name|label|annotation/.test(message));
      if (t.recorder.lastSync('faulty')?.outcome !== 'failed' || !named)
        misses.push(`${what}: ${t.recorder.lastSync('faulty')?.outcome}: ${message}`);
      await waitFor(
        `a SyncFailed Event at ${rev.slice(0, 7)}`,
        async () =>
          (await failedEvents()).some(
            (n) => n.includes(rev.slice(0, 7)) && n.includes(obj.metadata.name),
          ),
        { timeoutMs: 30_000, everyMs: 100 },
      );
    }
    assert.deepEqual(misses, []);
    assert.equal(
      await client.get({ apiVersion: 'v1', kind: 'Namespace', namespace: '', name: 'faulty' }),
      undefined,
      'no Namespace, so nothing in it',
    );
  });

  it('a sync with a bad object in a new Namespace writes nothing, and its status and a SyncFailed Event say why; fixed, it syncs with no dry-run of the objects', async () => {
    const repo = await git.createRepo('shop');
    const files = (deploymentSpec: Record<string, unknown>) => ({
      'clusters/test/driftless.yaml': clusterYaml(
        '    - name: shop\n      path: apps/shop\n      namespace: shop\n',
      ),
      'apps/shop/namespace.yaml': JSON.stringify({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'shop' },
      }),
      'apps/shop/crd.yaml': JSON.stringify(
        exampleCrd({ plural: 'carts', kind: 'Cart', spec: SPEC_SCHEMA }),
      ),
      'apps/shop/cart.yaml': JSON.stringify({
        apiVersion: 'example.com/v1',
        kind: 'Cart',
        metadata: { name: 'main' },
        spec: { size: 1 },
      }),
      'apps/shop/config.yaml': JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings' },
        data: { a: 'b' },
      }),
      'apps/shop/web.yaml': JSON.stringify({ ...deployment('web'), spec: deploymentSpec }),
    });
    const good = deployment('web')['spec'] as Record<string, unknown>;
    const { selector: _selector, ...bad } = good;
    await repo.commit(files(bad), 'a Deployment without its selector');
    const t = await makeAgent({
      kubeConfig: cluster.kubeConfig,
      git,
      repo,
      stateNamespace: 'state-shop',
    });
    agents.push(t);
    const events = async (reason: string) =>
      (await client.list('events.k8s.io/v1', 'Event', { namespace: 'state-shop' })).items.filter(
        (e: KubeObject) => e['reason'] === reason && String(e['note']).startsWith('app shop '),
      );

    await t.agent.reconcileOnce();
    const status = t.agent.statuses().find((s) => s.app === 'shop');
    assert.match(status?.message ?? '', /plan Deployment shop\/web: spec\.selector: required/);
    assert.equal(t.recorder.lastSync('shop')?.outcome, 'failed');
    await waitFor('a SyncFailed Event', async () => (await events('SyncFailed')).length > 0, {
      timeoutMs: 30_000,
      everyMs: 100,
    });
    const [event] = await events('SyncFailed');
    assert.match(String(event?.['note']), /Deployment shop\/web: spec\.selector: required/);
    assert.equal(
      await client.get({ apiVersion: 'v1', kind: 'Namespace', namespace: '', name: 'shop' }),
      undefined,
      'no Namespace',
    );
    assert.equal(
      await client.get({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        namespace: '',
        name: 'carts.example.com',
      }),
      undefined,
      'no CRD',
    );

    await repo.commit(files(good), 'the selector back');
    // Every request in order: the plan's come before the first write of the app's objects
    // (the drift watch may dry-run the Deployment later, to compare what its controller wrote).
    const sent: string[] = [];
    const request = t.client.request.bind(t.client);
    t.client.request = (method, path, options) => {
      const write = method !== 'GET' && !options?.query?.['dryRun'];
      sent.push(`${write ? 'write' : options?.query?.['dryRun'] ? 'dry-run' : method} ${path}`);
      return request(method, path, options);
    };
    await t.agent.reconcileOnce();
    assert.equal(
      t.recorder.lastSync('shop')?.outcome,
      'succeeded',
      t.agent.statuses().find((s) => s.app === 'shop')?.message,
    );
    // The first write of the app's objects (the agent writes its own state and Events too).
    const applied = sent.findIndex(
      (r) => r.startsWith('write ') && /namespaces\/shop|customresourcedefinitions/.test(r),
    );
    assert.ok(applied > 0, sent.join('\n'));
    const planned = sent.slice(0, applied);
    assert.ok(
      planned.some((r) => r === 'dry-run /api/v1/namespaces/shop'),
      'the Namespace dry-run',
    );
    assert.deepEqual(
      planned.filter(
        (r) =>
          r.startsWith('dry-run ') && r.includes('/namespaces/shop/') && !r.includes('/carts/'),
      ),
      [],
      'no built-in object of the new Namespace was dry-run by the plan',
    );
    assert.ok(
      await client.get({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
      }),
    );
  });
});
