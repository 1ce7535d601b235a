/**
 * More objects the server's server-side apply dry-run refuses in a Namespace that does not
 * exist yet: the client-side schema check (kube/schema-check.ts) must not pass any of them,
 * or the plan creates the Namespace and then fails on the object (half-applied).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  conformsToServedSchema,
  KubeApiError,
  KubeClient,
  type KubeObject,
} from '@driftless/agent';
import { startCluster, type Cluster } from '@driftless/test';

const NS = 'not-created-yet';
const pod = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: NS },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec },
  },
});
const candidates: [string, KubeObject][] = [
  [
    'two env entries of one name (a patch-merge-key list)',
    pod('env', {
      containers: [
        {
          name: 'main',
          image: 'a',
          env: [
            { name: 'A', value: '1' },
            { name: 'A', value: '2' },
          ],
        },
      ],
    }),
  ],
  [
    'two volume mounts of one path',
    pod('mounts', {
      containers: [
        {
          name: 'main',
          image: 'a',
          volumeMounts: [
            { name: 'v', mountPath: '/x' },
            { name: 'w', mountPath: '/x' },
          ],
        },
      ],
      volumes: [
        { name: 'v', emptyDir: {} },
        { name: 'w', emptyDir: {} },
      ],
    }),
  ],
  [
    'two volumes of one name',
    pod('volumes', {
      containers: [{ name: 'main', image: 'a' }],
      volumes: [
        { name: 'v', emptyDir: {} },
        { name: 'v', emptyDir: {} },
      ],
    }),
  ],
  [
    'two image pull secrets of one name',
    pod('pulls', {
      containers: [{ name: 'main', image: 'a' }],
      imagePullSecrets: [{ name: 's' }, { name: 's' }],
    }),
  ],
  [
    'a name that is not a DNS subdomain',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Not_Valid', namespace: NS } },
  ],
  [
    'a name too long',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a'.repeat(300), namespace: NS } },
  ],
  [
    'a Deployment without its required selector',
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'nosel', namespace: NS },
      spec: { template: { spec: { containers: [{ name: 'main', image: 'a' }] } } },
    },
  ],
];

describe('client-side schema check: what else the server refuses before the missing Namespace', () => {
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

  it('passes nothing the server refuses before it finds the Namespace missing', async () => {
    const verdicts = [];
    for (const [what, obj] of candidates) {
      let server = 200;
      let message = '';
      try {
        await client.apply(obj, { fieldManager: 'test', dryRun: true });
      } catch (err) {
        assert.ok(err instanceof KubeApiError, String(err));
        server = err.statusCode;
        message = err.message.slice(0, 160);
      }
      verdicts.push({ what, server, message, check: await conformsToServedSchema(client, obj) });
    }
    assert.deepEqual(
      verdicts.filter((v) => v.server !== 404 && v.check),
      [],
      'the check passed an object the server refuses',
    );
  });
});
