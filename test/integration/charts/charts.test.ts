/**
 * The Helm charts: they lint, render with the real `helm`, every environment
 * variable they set is a flag of the program they run (values map one to one
 * to flags), the pods run non-root on a read-only root filesystem, and the
 * rendered objects pass a server-side dry-run on a real API server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { startCluster, type Cluster } from '@driftless/test';
import type { FlagSpec } from '@driftless/common';
import { AGENT_ENV_PREFIX, agentFlags, KubeClient, type KubeObject } from '@driftless/agent';
import { HUB_ENV_PREFIX, HUB_FLAGS } from '@driftless/hub';

const run = promisify(execFile);
const CHARTS = path.resolve(import.meta.dirname, '../../../charts');
const KUBE_VERSION = 'v1.34.4';

/** Environment variable names of a flag spec, as common's parseFlags derives them. */
function envNames(spec: FlagSpec, prefix: string): Set<string> {
  return new Set(
    Object.entries(spec).map(
      ([name, flag]) =>
        flag.env ?? `${prefix}_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`,
    ),
  );
}

async function template(chart: string, namespace: string, set: string[]): Promise<KubeObject[]> {
  const { stdout } = await run('helm', [
    'template',
    'demo',
    path.join(CHARTS, chart),
    '--kube-version',
    KUBE_VERSION,
    '-n',
    namespace,
    ...set.flatMap((s) => ['--set', s]),
  ]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean };
  containers: {
    env?: { name: string }[];
    securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  }[];
}
const podSpec = (objects: KubeObject[], kind: string): PodSpec => {
  const workload = objects.find((o) => o.kind === kind);
  assert.ok(workload, `a ${kind}`);
  return (workload['spec'] as { template: { spec: PodSpec } }).template.spec;
};

const AGENT_VALUES = [
  'repoUrl=https://git.example/fleet.git',
  'clusterName=dev',
  'gitCredentials.existingSecret=git',
  'enrollmentToken.existingSecret=enroll',
  'hubAddress=hub.driftless.svc:7443',
  'hubCa.existingSecret=hub-ca',
  'workDir.persistence=true',
  'transport=nats',
  'natsUrl=nats://nats.driftless.svc:4222',
];
const HUB_VALUES = [
  'webhookSecret.existingSecret=webhook',
  'ca.existingSecret=hub-ca',
  'traceUrlTemplate=http://jaeger/trace/{traceId}',
];

describe('helm charts', () => {
  let cluster: Cluster;
  let client: KubeClient;
  before(async () => {
    cluster = await startCluster();
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
  });

  for (const chart of ['agent', 'hub']) {
    it(`${chart}: helm lint passes`, async () => {
      const set = (chart === 'agent' ? AGENT_VALUES : HUB_VALUES).flatMap((s) => ['--set', s]);
      const { stdout } = await run('helm', ['lint', path.join(CHARTS, chart), ...set]);
      assert.match(stdout, /0 chart\(s\) failed/);
    });
  }

  it('agent: every variable it sets is an agent flag, and the pod is locked down', async () => {
    const objects = await template('agent', 'driftless-system', AGENT_VALUES);
    const spec = podSpec(objects, 'Deployment');
    const known = envNames(agentFlags, AGENT_ENV_PREFIX);
    const set = (spec.containers[0]?.env ?? []).map((e) => e.name);
    assert.deepEqual(
      set.filter((n) => n.startsWith('DRIFTLESS_') && !known.has(n)),
      [],
    );
    for (const flag of [
      'DRIFTLESS_REPO_URL',
      'DRIFTLESS_CLUSTER_NAME',
      'DRIFTLESS_GIT_PASSWORD',
      'DRIFTLESS_ENROLLMENT_TOKEN',
      'DRIFTLESS_HUB_ADDRESS',
      'DRIFTLESS_STATE_NAMESPACE',
    ]) {
      assert.ok(set.includes(flag), flag);
    }
    assert.equal(spec.securityContext?.runAsNonRoot, true);
    assert.equal(spec.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(spec.containers[0]?.securityContext?.allowPrivilegeEscalation, false);
  });

  it('hub: every variable it sets is a hub flag; it gets no Kubernetes credentials', async () => {
    const objects = await template('hub', 'driftless', HUB_VALUES);
    const spec = podSpec(objects, 'StatefulSet') as PodSpec & {
      automountServiceAccountToken?: boolean;
    };
    const known = envNames(HUB_FLAGS, HUB_ENV_PREFIX);
    const set = (spec.containers[0]?.env ?? []).map((e) => e.name);
    assert.deepEqual(
      set.filter((n) => n.startsWith('DRIFTLESS_') && !known.has(n)),
      [],
    );
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(spec.securityContext?.runAsNonRoot, true);
    assert.equal(spec.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(objects.filter((o) => /Role/.test(o.kind)).length, 0, 'no RBAC for the hub');
  });

  it('refuses values that cannot work, with a clear message', async () => {
    await assert.rejects(
      template('agent', 'x', ['repoUrl=https://git.example/fleet.git']),
      /clusterName is required/,
    );
    await assert.rejects(template('hub', 'x', ['replicas=2']), /store sqlite supports one replica/);
  });

  it('the rendered objects pass a server-side dry-run on a real API server', async () => {
    for (const [chart, namespace, values] of [
      ['agent', 'driftless-system', AGENT_VALUES],
      ['hub', 'driftless', HUB_VALUES],
    ] as const) {
      await client.apply(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
        { fieldManager: 'chart-test' },
      );
      for (const obj of await template(chart, namespace, [...values])) {
        await client.apply(obj, { fieldManager: 'chart-test', dryRun: true });
      }
    }
  });
});
