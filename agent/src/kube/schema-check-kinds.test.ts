import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../model.ts';
import { builtInRefusal, compare, parseQuantity } from './schema-check-kinds.ts';
import { metadataRefusal } from './schema-check-meta.ts';

const deployment = (spec: Record<string, unknown> = {}, template: Record<string, unknown> = {}) =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'ns' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'main', image: 'a' }], ...template },
      },
      ...spec,
    },
  }) as KubeObject;

const why = (obj: KubeObject) => {
  const group = obj.apiVersion.includes('/') ? (obj.apiVersion.split('/')[0] ?? '') : '';
  const r = metadataRefusal(obj, group, false) ?? builtInRefusal(obj, group);
  return r && `${r.path}: ${r.rule}`;
};
const container = (c: Record<string, unknown>) =>
  deployment({}, { containers: [{ name: 'main', image: 'a', ...c }] });

describe('client-side validation of common built-in kinds', () => {
  it('passes a valid Deployment', () => {
    assert.equal(why(deployment()), undefined);
    assert.equal(
      why(
        container({
          ports: [{ containerPort: 8080, name: 'http' }],
          resources: {
            requests: { cpu: '500m', memory: '1Gi' },
            limits: { cpu: '0.5', memory: '1024Mi' },
          },
          readinessProbe: { httpGet: { port: 'http' } },
        }),
      ),
      undefined,
    );
  });

  it('refuses names by the rule of their kind', () => {
    const cm = (name: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name },
    });
    assert.match(
      why(cm('My_Config')) ?? '',
      /^metadata\.name: "My_Config" must be a DNS-1123 subdomain/,
    );
    assert.match(why(cm('a'.repeat(254))) ?? '', /^metadata\.name: /);
    assert.equal(why(cm('a.b-c')), undefined);
    const svc = (name: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { ports: [{ port: 80 }] },
    });
    assert.match(why(svc('s'.repeat(64))) ?? '', /DNS-1035 label/);
    assert.match(why(svc('1st')) ?? '', /DNS-1035 label/);
    assert.equal(why(svc('web')), undefined);
    const role: KubeObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:view' },
      rules: [],
    };
    assert.equal(why(role), undefined);
    const job: KubeObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j'.repeat(64) },
    };
    assert.match(why(job) ?? '', /at most 63 characters/);
  });

  it('refuses bad labels, annotation keys and too many annotation bytes', () => {
    const cm = (metadata: Record<string, unknown>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', ...metadata },
    });
    assert.match(
      why(cm({ labels: { 'bad key!': 'x' } })) ?? '',
      /^metadata\.labels: key "bad key!"/,
    );
    assert.match(
      why(cm({ labels: { app: 'not valid!' } })) ?? '',
      /^metadata\.labels\.app: "not valid!" must be a label value/,
    );
    assert.match(why(cm({ annotations: { '-x': 'y' } })) ?? '', /^metadata\.annotations: key "-x"/);
    assert.match(
      why(cm({ annotations: { a: 'x'.repeat(256 * 1024) } })) ?? '',
      /^metadata\.annotations: 262145 bytes/,
    );
    assert.equal(why(cm({ annotations: { 'Example.com/Some_Key': 'x'.repeat(1000) } })), undefined);
  });

  it('refuses a workload whose selector does not select its pod template', () => {
    assert.match(
      why(deployment({ selector: { matchLabels: { app: 'other' } } })) ?? '',
      /^spec\.template\.metadata\.labels: /,
    );
    assert.match(why(deployment({ selector: {} })) ?? '', /^spec\.selector: empty selector/);
    assert.equal(
      why(
        deployment({
          selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'x'] }] },
        }),
      ),
      undefined,
    );
    assert.match(
      why(
        deployment({ selector: { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] } }),
      ) ?? '',
      /does not select/,
    );
  });

  it('refuses containers the pod validation refuses', () => {
    assert.match(
      why(deployment({}, { containers: [{ name: 'Main' }] })) ?? '',
      /containers\[0\]\.name: "Main" must be a DNS-1123 label/,
    );
    assert.match(
      why(deployment({}, { initContainers: [{ name: 'a' }], containers: [{ name: 'a' }] })) ?? '',
      /containers\[0\]\.name: "a" is used by another container/,
    );
    assert.match(
      why(container({ ports: [{ containerPort: 70000 }] })) ?? '',
      /ports\[0\]\.containerPort: 70000 must be between 1 and 65535/,
    );
    assert.match(
      why(container({ ports: [{ containerPort: 80, name: 'way-too-long-port-name' }] })) ?? '',
      /IANA service name/,
    );
    assert.match(
      why(container({ resources: { requests: { cpu: '2' }, limits: { cpu: '1500m' } } })) ?? '',
      /requests\[cpu\]: "2" must be less than or equal to the cpu limit/,
    );
    assert.match(
      why(container({ resources: { limits: { memory: '-1Gi' } } })) ?? '',
      /greater than or equal to 0/,
    );
    assert.match(
      why(container({ volumeMounts: [{ name: 'v', mountPath: '/x' }] })) ?? '',
      /volumeMounts\[0\]\.name: "v" names no volume/,
    );
    assert.match(
      why(
        deployment(
          {},
          {
            volumes: [{ name: 'v', emptyDir: {} }],
            containers: [
              {
                name: 'm',
                volumeMounts: [
                  { name: 'v', mountPath: '/x' },
                  { name: 'v', mountPath: '/x' },
                ],
              },
            ],
          },
        ),
      ) ?? '',
      /mountPath: "\/x" is mounted twice/,
    );
    assert.match(
      why(container({ readinessProbe: { tcpSocket: { port: 0 } } })) ?? '',
      /readinessProbe\.tcpSocket\.port: 0 must be between/,
    );
    assert.match(
      why(deployment({}, { restartPolicy: 'Never' })) ?? '',
      /restartPolicy: "Never" is not taken here/,
    );
  });

  it('refuses a Job that would restart its pods always, and a CronJob schedule without five fields', () => {
    const job: KubeObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j' },
      spec: { template: { spec: { containers: [{ name: 'm', image: 'a' }] } } },
    };
    assert.match(
      why(job) ?? '',
      /spec\.template\.spec\.restartPolicy: "Always" \(the default\) is not taken here/,
    );
    const cron = (schedule: string): KubeObject => ({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'c' },
      spec: {
        schedule,
        jobTemplate: {
          spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm' }] } } },
        },
      },
    });
    assert.equal(why(cron('*/5 * * * *')), undefined);
    assert.equal(why(cron('@hourly')), undefined);
    assert.match(why(cron('every day')) ?? '', /^spec\.schedule: /);
    assert.match(why(cron('TZ=UTC 0 * * * *')) ?? '', /spec\.timeZone/);
  });

  it('refuses Services the service validation refuses', () => {
    const svc = (spec: Record<string, unknown>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec,
    });
    assert.match(why(svc({})) ?? '', /^spec\.ports: required/);
    assert.equal(why(svc({ clusterIP: 'None' })), undefined);
    assert.equal(why(svc({ type: 'ExternalName', externalName: 'example.com' })), undefined);
    assert.match(
      why(svc({ ports: [{ port: 80 }, { port: 81 }] })) ?? '',
      /^spec\.ports\[0\]\.name: required when/,
    );
    assert.match(
      why(
        svc({
          ports: [
            { port: 80, name: 'a' },
            { port: 81, name: 'a' },
          ],
        }),
      ) ?? '',
      /names another port/,
    );
    assert.match(why(svc({ ports: [{ port: 80, targetPort: 70000 }] })) ?? '', /targetPort: 70000/);
    assert.equal(why(svc({ ports: [{ port: 80, targetPort: 'http' }] })), undefined);
  });

  it('refuses ConfigMap and Secret keys the server refuses', () => {
    const cm = (o: Record<string, unknown>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c' },
      ...o,
    });
    assert.match(why(cm({ data: { 'a/b': 'x' } })) ?? '', /^data\[a\/b\]: key "a\/b"/);
    assert.match(why(cm({ data: { a: 'x' }, binaryData: { a: 'eA==' } })) ?? '', /also in data/);
    assert.equal(why(cm({ data: { 'app.conf': 'x', _a: '' } })), undefined);
    const tls: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': 'x' },
    };
    assert.match(
      why(tls) ?? '',
      /^data\[tls\.key\]: required in a Secret of type kubernetes\.io\/tls/,
    );
  });

  it('refuses RBAC rules and bindings the server refuses', () => {
    const role = (rules: unknown[]): KubeObject => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'r' },
      rules,
    });
    assert.match(
      why(role([{ verbs: ['get'], resources: ['pods'] }])) ?? '',
      /rules\[0\]\.apiGroups: required/,
    );
    assert.match(
      why(role([{ verbs: ['get'], nonResourceURLs: ['/x'] }])) ?? '',
      /may not grant non-resource URLs/,
    );
    const binding = (roleRef: unknown, subjects: unknown[] = []): KubeObject => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'b' },
      roleRef,
      subjects,
    });
    assert.match(
      why(binding({ kind: 'Role', name: 'r' })) ?? '',
      /roleRef\.kind: "Role" must be one of "ClusterRole"/,
    );
    assert.match(
      why(binding({ kind: 'ClusterRole', name: 'r' }, [{ kind: 'ServiceAccount', name: 'x' }])) ??
        '',
      /subjects\[0\]\.namespace: required/,
    );
    assert.equal(
      why(binding({ kind: 'ClusterRole', name: 'r' }, [{ kind: 'User', name: 'x' }])),
      undefined,
    );
  });

  it('compares quantities exactly', () => {
    const q = (s: string) => parseQuantity(s) ?? assert.fail(s);
    assert.equal(compare(q('1'), q('1000m')), 0);
    assert.equal(compare(q('1Gi'), q('1024Mi')), 0);
    assert.equal(compare(q('1G'), q('1Gi')), -1);
    assert.equal(compare(q('0.1'), q('100m')), 0);
    assert.equal(compare(q('1e3'), q('1k')), 0);
    assert.equal(parseQuantity('lots'), undefined);
  });
});
