/**
 * `driftless-agent` as a user runs it: a child process with a kubeconfig,
 * against real kube-apiservers. render of a plain folder and a Kustomize
 * overlay; diff showing creates, a field-level update (exit 3) and no
 * change (exit 0); export of a namespace populated with plain creates, whose
 * output, applied to a second fresh cluster, reproduces the objects.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { KubeClient, type KubeObject } from '@driftless/agent';
import { startCluster, waitFor, type Cluster } from '@driftless/test';

const BIN = fileURLToPath(new URL('../../../agent/bin/driftless-agent.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in `cwd` with `KUBECONFIG` set, as a user would. */
function cli(args: string[], options: { cwd: string; kubeconfig?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: options.cwd };
    delete env['KUBECONFIG'];
    if (options.kubeconfig) env['KUBECONFIG'] = options.kubeconfig;
    for (const k of Object.keys(env)) if (k.startsWith('DRIFTLESS_')) delete env[k];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The YAML documents of a command's output. */
function docs(text: string): KubeObject[] {
  return parseAllDocuments(text).map((d) => d.toJSON() as KubeObject);
}

const configMap = (color: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: ${color}
`;

const deploymentYaml = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0
          ports:
            - containerPort: 8080
`;

/** Objects created with plain POSTs (not server-side apply), as `kubectl create` would. */
const legacyObjects: KubeObject[] = [
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'shop', labels: { app: 'shop' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'shop' } },
      template: {
        metadata: { labels: { app: 'shop' } },
        spec: {
          containers: [
            {
              name: 'shop',
              image: 'registry.example/shop:2.1',
              args: ['--port=8080'],
              ports: [{ containerPort: 8080, name: 'http' }],
              env: [{ name: 'MODE', value: 'prod' }],
            },
          ],
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'shop', annotations: { team: 'payments' } },
    spec: { selector: { app: 'shop' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  },
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'shop-settings' },
    data: { currency: 'EUR', 'feature.flags': 'a,b' },
  },
];

async function create(client: KubeClient, namespace: string, obj: KubeObject): Promise<void> {
  const base = obj.apiVersion === 'v1' ? '/api/v1' : `/apis/${obj.apiVersion}`;
  const plural = `${obj.kind.toLowerCase()}s`;
  await client.request('POST', `${base}/namespaces/${namespace}/${plural}`, { body: obj });
}

async function createNamespace(client: KubeClient, name: string): Promise<void> {
  await client.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
}

describe('driftless-agent CLI', () => {
  let source: Cluster;
  let target: Cluster;
  let sourceClient: KubeClient;
  let targetClient: KubeClient;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-cli-'));
    // The source cluster runs controllers, so export must leave out the
    // ReplicaSets and Pods they create; the target is just an API server.
    [source, target] = await Promise.all([startCluster({ workloads: true }), startCluster()]);
    [sourceClient, targetClient] = await Promise.all([
      KubeClient.fromKubeConfig(source.kubeConfig),
      KubeClient.fromKubeConfig(target.kubeConfig),
    ]);
    await mkdir(path.join(dir, 'plain'), { recursive: true });
    await writeFile(path.join(dir, 'plain', 'settings.yaml'), configMap('blue'));
    await writeFile(path.join(dir, 'plain', 'web.yaml'), deploymentYaml);
    await mkdir(path.join(dir, 'kustomize', 'base'), { recursive: true });
    await mkdir(path.join(dir, 'kustomize', 'overlays', 'prod'), { recursive: true });
    await writeFile(path.join(dir, 'kustomize', 'base', 'web.yaml'), deploymentYaml);
    await writeFile(
      path.join(dir, 'kustomize', 'base', 'kustomization.yaml'),
      'resources: [web.yaml]\n',
    );
    await writeFile(
      path.join(dir, 'kustomize', 'overlays', 'prod', 'kustomization.yaml'),
      `namespace: web-prod
namePrefix: prod-
resources: [../../base]
patches:
  - target: {kind: Deployment, name: web}
    patch: |
      - {op: replace, path: /spec/replicas, value: 3}
`,
    );
  });

  after(async () => {
    sourceClient?.close();
    targetClient?.close();
    await Promise.all([source?.stop(), target?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints help for every command and refuses unknown commands and flags with exit 2', async () => {
    const runs = await Promise.all([
      cli(['--help'], { cwd: dir }),
      ...['render', 'diff', 'export', 'run'].map((c) => cli([c, '--help'], { cwd: dir })),
      cli(['deploy'], { cwd: dir }),
      cli(['render', 'plain', '--no-such-flag'], { cwd: dir }),
    ]);
    const [top, render, diff, exp, run, unknown, badFlag] = runs as [
      Run,
      Run,
      Run,
      Run,
      Run,
      Run,
      Run,
    ];
    assert.equal(top.code, 0);
    assert.match(top.stdout, /render PATH[\s\S]*diff PATH[\s\S]*export --namespace NS/);
    for (const [r, name] of [
      [render, 'render'],
      [diff, 'diff'],
      [exp, 'export'],
      [run, 'run'],
    ] as const) {
      assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: driftless-agent ${name}`));
      assert.match(r.stdout, /env DRIFTLESS_/);
    }
    assert.match(diff.stdout, /--kubeconfig string[\s\S]*env KUBECONFIG/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "deploy"/);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /unknown flag --no-such-flag/);
    assert.doesNotMatch(badFlag.stderr, /\n\s+at /);
  });

  it('renders a plain folder and a Kustomize overlay', async () => {
    const plain = await cli(['render', 'plain', '--namespace', 'demo', '--offline'], { cwd: dir });
    assert.equal(plain.code, 0, plain.stderr);
    const objects = docs(plain.stdout);
    assert.deepEqual(
      objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`).sort(),
      ['ConfigMap demo/settings', 'Deployment demo/web'],
    );
    for (const o of objects) {
      assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'driftless');
      assert.equal(o.metadata.labels?.['driftless.dev/app'], 'plain');
    }

    const overlay = await cli(['render', 'kustomize/overlays/prod', '-o', 'json', '--app', 'web'], {
      cwd: dir,
      kubeconfig: source.kubeconfigPath,
    });
    assert.equal(overlay.code, 0, overlay.stderr);
    const list = JSON.parse(overlay.stdout) as { kind: string; items: KubeObject[] };
    assert.equal(list.kind, 'List');
    const [web] = list.items;
    assert.equal(list.items.length, 1);
    assert.equal(web?.metadata.name, 'prod-web');
    assert.equal(web?.metadata.namespace, 'web-prod');
    assert.equal((web?.['spec'] as { replicas: number }).replicas, 3);

    const refused = await cli(
      ['render', 'plain', '--namespace', 'demo', '--allowed-namespaces', 'other', '--offline'],
      {
        cwd: dir,
      },
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /guard refused[\s\S]*namespace demo is not allowed/);
  });

  it('diffs a folder against the cluster: creates, then a field update (exit 3), then no change (exit 0)', async () => {
    await createNamespace(sourceClient, 'demo');
    const args = ['diff', 'plain', '--namespace', 'demo'];
    const kube = { cwd: dir, kubeconfig: source.kubeconfigPath };

    const creates = await cli(args, kube);
    assert.equal(creates.code, 3, creates.stderr);
    assert.match(creates.stdout, /^\+ create ConfigMap demo\/settings$/m);
    assert.match(creates.stdout, /^\+ create Deployment demo\/web$/m);
    assert.match(
      creates.stdout,
      /Plan: 2 to create, 0 to update, 0 unchanged\. Digest [0-9a-f]{64}/,
    );

    // Apply what render prints, with server-side apply, as the agent would.
    const rendered = await cli(['render', 'plain', '--namespace', 'demo'], kube);
    assert.equal(rendered.code, 0, rendered.stderr);
    for (const obj of docs(rendered.stdout))
      await sourceClient.apply(obj, { fieldManager: 'driftless' });

    const same = await cli(args, kube);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    assert.match(same.stdout, /^No changes: 2 objects unchanged\./m);
    const verbose = await cli([...args, '-v'], kube);
    assert.match(verbose.stdout, /^= unchanged ConfigMap demo\/settings$/m);

    await writeFile(path.join(dir, 'plain', 'settings.yaml'), configMap('green'));
    const update = await cli(args, kube);
    assert.equal(update.code, 3, update.stderr);
    assert.match(
      update.stdout,
      /^~ update ConfigMap demo\/settings\n {4}\.data\.color: "blue" → "green"$/m,
    );
    assert.doesNotMatch(update.stdout, /Deployment/);
    assert.match(update.stdout, /Plan: 0 to create, 1 to update, 1 unchanged\./);

    const json = await cli([...args, '-o', 'json'], kube);
    assert.equal(json.code, 3);
    const plan = JSON.parse(json.stdout) as { counts: { update: number }; digest: string };
    assert.equal(plan.counts.update, 1);
    assert.match(plan.digest, /^[0-9a-f]{64}$/);

    const noCluster = await cli(args, { cwd: dir });
    assert.equal(noCluster.code, 1);
    assert.match(noCluster.stderr, /^error: diff needs a cluster/);
  });

  it('exports a namespace as clean manifests that reproduce the objects in another cluster', async () => {
    await createNamespace(sourceClient, 'legacy');
    for (const obj of legacyObjects) await create(sourceClient, 'legacy', obj);
    // Let the controllers add what export must leave out: the Deployment's
    // ReplicaSet and Pods, the default ServiceAccount, kube-root-ca.crt.
    await waitFor('controllers to act in namespace legacy', async () => {
      const counts = await Promise.all(
        [
          ['apps/v1', 'ReplicaSet'],
          ['v1', 'Pod'],
          ['v1', 'ServiceAccount'],
          ['v1', 'ConfigMap'],
        ].map(
          async ([apiVersion, kind]) =>
            (await sourceClient.list(apiVersion ?? '', kind ?? '', { namespace: 'legacy' })).items
              .length,
        ),
      );
      // ConfigMaps: shop-settings and kube-root-ca.crt.
      return counts[0] === 1 && counts[1] === 2 && counts[2] === 1 && counts[3] === 2;
    });

    const exported = await cli(['export', '--namespace', 'legacy'], {
      cwd: dir,
      kubeconfig: source.kubeconfigPath,
    });
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, /Secrets in legacy are not exported: pass --include-secrets/);
    const objects = docs(exported.stdout);
    // No ReplicaSet or Pods (controller-owned), default ServiceAccount or kube-root-ca.crt.
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      ['ConfigMap/shop-settings', 'Deployment/shop', 'Service/shop'],
    );
    for (const o of objects) {
      assert.equal(o['status'], undefined, `${o.kind} status`);
      for (const field of [
        'managedFields',
        'uid',
        'resourceVersion',
        'creationTimestamp',
        'generation',
      ]) {
        assert.equal(o.metadata[field], undefined, `${o.kind} metadata.${field}`);
      }
      assert.equal(o.metadata.namespace, 'legacy');
    }
    const [cm, deploy, svc] = objects as [KubeObject, KubeObject, KubeObject];
    assert.deepEqual(cm['data'], { currency: 'EUR', 'feature.flags': 'a,b' });
    // Server defaults and controller bookkeeping are gone; what was declared stays.
    assert.deepEqual(deploy, {
      ...legacyObjects[0],
      metadata: { ...legacyObjects[0]?.metadata, namespace: 'legacy' },
    });
    assert.deepEqual(svc, {
      ...legacyObjects[1],
      metadata: { ...legacyObjects[1]?.metadata, namespace: 'legacy' },
    });
    assert.equal((deploy['spec'] as Record<string, unknown>)['progressDeadlineSeconds'], undefined);
    assert.equal((svc['spec'] as Record<string, unknown>)['clusterIP'], undefined);

    // Apply the output to a fresh cluster: the objects come out the same.
    const file = path.join(dir, 'legacy.yaml');
    await writeFile(file, exported.stdout);
    await createNamespace(targetClient, 'legacy');
    for (const obj of docs(await readFile(file, 'utf8'))) {
      await targetClient.apply(obj, { fieldManager: 'kubectl' });
    }
    for (const obj of legacyObjects) {
      const ref = {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        namespace: 'legacy',
        name: obj.metadata.name,
      };
      const [before, after] = await Promise.all([sourceClient.get(ref), targetClient.get(ref)]);
      const declared = (o: KubeObject | undefined) => {
        const { status: _s, metadata, ...rest } = o ?? ({} as KubeObject);
        const spec = rest['spec'] as Record<string, unknown> | undefined;
        // Allocated per cluster, so they differ by design.
        if (spec) for (const f of ['clusterIP', 'clusterIPs']) delete spec[f];
        return {
          ...rest,
          labels: metadata?.labels,
          annotations: { ...metadata?.annotations, 'deployment.kubernetes.io/revision': undefined },
        };
      };
      assert.deepEqual(declared(after), declared(before), `${obj.kind} ${obj.metadata.name}`);
    }

    // And the target exports to the same manifests.
    const again = await cli(['export', '-n', 'legacy'], {
      cwd: dir,
      kubeconfig: target.kubeconfigPath,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, exported.stdout);
  });
});
