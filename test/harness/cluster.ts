import { request } from 'node:https';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { findBinary } from './binaries.ts';
import { HarnessError } from './errors.ts';
import { freePort, retryOnPortClash } from './net.ts';
import { createClusterPki, type ClusterPki } from './pki.ts';
import {
  createTempDir,
  startProcess,
  waitForReady,
  type ServerProcess,
  type TempDir,
} from './process.ts';

/** Options of {@link startCluster}. */
export interface StartClusterOptions {
  /**
   * Also run kube-controller-manager, kube-scheduler and kwok with one fake
   * node, so Deployments get pods that become Running and Available. Without
   * it the cluster is an API server only: objects are stored, nothing acts on
   * them. Default: false.
   */
  workloads?: boolean;
  /** Name of the cluster, also its kubeconfig context. Default: `driftless-<n>`, unique in this process. */
  name?: string;
  /** Give up when the cluster is not ready after this long. Default: 60000 ms. */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags, after the harness's own (a later flag wins). Default: none. */
  apiServerArgs?: readonly string[];
}

/** How long a cluster took to start, measured from the call to {@link startCluster}. */
export interface ClusterTimings {
  /** Until kube-apiserver's `/readyz` answered 200. */
  apiServerReadyMs: number;
  /** Until the fake node was Ready and the default ServiceAccount existed (`workloads` only). */
  workloadsReadyMs?: number;
}

/** A running test cluster. */
export interface Cluster {
  /** The cluster's name and kubeconfig context. */
  readonly name: string;
  /** API server URL, `https://127.0.0.1:PORT`. */
  readonly server: string;
  /** Kubeconfig file with the admin (system:masters) credentials. */
  readonly kubeconfigPath: string;
  /** The same kubeconfig, loaded. */
  readonly kubeConfig: KubeConfig;
  /** Name of the fake node in a `workloads` cluster, undefined otherwise. */
  readonly nodeName: string | undefined;
  /** Temp folder with the server's data and logs, removed by `stop()`. */
  readonly dir: string;
  /** The processes of the cluster (etcd, kube-apiserver, ...), for logs and measurements. */
  readonly processes: readonly ServerProcess[];
  /** How long start-up took. */
  readonly timings: Readonly<ClusterTimings>;
  /** Stops every process of the cluster and removes its files. Idempotent. */
  stop(): Promise<void>;
}

let clusterCount = 0;

// Cluster state is thrown away: a graceful shutdown that hangs (etcd waits for
// its clients' watches to close) is not worth waiting for.
const STOP_TIMEOUT_MS = 1000;

const KWOK_CONFIG = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options: {}
`;

/** The fake node kwok runs pods on: no taint, so every pod schedules on it. */
function fakeNode(name: string): V1Node {
  const resources = { cpu: '32', memory: '256Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        type: 'kwok',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/os': 'linux',
        'kubernetes.io/hostname': name,
        'kubernetes.io/role': 'agent',
        'node-role.kubernetes.io/agent': '',
      },
    },
    status: { allocatable: resources, capacity: resources },
  };
}

function kubeconfigYaml(name: string, server: string, pki: ClusterPki): string {
  const base64 = (pem: string): string => Buffer.from(pem).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': base64(pki.caCert) } }],
    users: [
      {
        name: `${name}-admin`,
        user: {
          'client-certificate-data': base64(pki.adminCert),
          'client-key-data': base64(pki.adminKey),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin` } }],
    'current-context': name,
  });
}

/** GET `path` on the API server with the admin certificate; resolves with the status code. */
function getStatus(server: string, path: string, pki: ClusterPki): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, server),
      { ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function startEtcd(dir: TempDir, clientPort: number, peerPort: number): ServerProcess {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return startProcess({
    name: 'etcd',
    command: findBinary('etcd'),
    args: [
      '--name=default',
      `--data-dir=${join(dir.path, 'etcd')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      // Test data is thrown away: durability costs start-up time and I/O.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    dir,
    stopTimeoutMs: STOP_TIMEOUT_MS,
  });
}

function apiServerArgs(etcdPort: number, port: number, pki: ClusterPki, dir: TempDir): string[] {
  const { files } = pki;
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${join(dir.path, 'apiserver')}`,
    `--tls-cert-file=${files.servingCert}`,
    `--tls-private-key-file=${files.servingKey}`,
    `--client-ca-file=${files.caCert}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${files.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${files.serviceAccountKey}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--authorization-mode=RBAC',
    '--allow-privileged=true',
    // Request fairness needs its own bootstrap objects and controllers; a test
    // cluster with one client gains nothing from it and starts faster without.
    '--enable-priority-and-fairness=false',
    '--profiling=false',
  ];
}

async function waitForWorkloads(
  kubeConfig: KubeConfig,
  nodeName: string,
  servers: ServerProcess[],
  timeoutMs: number,
): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNode({ body: fakeNode(nodeName) });
  // Ready when kwok has marked the node Ready and kube-controller-manager has
  // made the default ServiceAccount, without which no pod is admitted.
  await waitForReady(
    servers,
    async () => {
      const node = await core.readNode({ name: nodeName });
      const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (!ready) return false;
      await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return true;
    },
    { what: `node ${nodeName} and the default ServiceAccount`, timeoutMs, intervalMs: 100 },
  );
}

/**
 * Starts a Kubernetes control plane on free 127.0.0.1 ports: etcd (own data
 * folder, no fsync) and kube-apiserver with their own PKI, and with
 * `workloads` also kube-controller-manager, kube-scheduler and kwok with one
 * fake node. Resolves once `/readyz` answers (and, with `workloads`, the node is
 * Ready). Each cluster has its own temp folder, so several run side by side.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const name = options.name ?? `driftless-${++clusterCount}`;
  return retryOnPortClash(() => startClusterOnce(options, name));
}

async function startClusterOnce(options: StartClusterOptions, name: string): Promise<Cluster> {
  const { workloads = false, startTimeoutMs = 60_000 } = options;
  const startedAt = Date.now();
  const deadline = startedAt + startTimeoutMs;
  const remaining = (): number => Math.max(deadline - Date.now(), 1);
  const dir = createTempDir(`cluster-${name.replace(/[^\w.-]/g, '_')}`);
  const processes: ServerProcess[] = [];

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Clients first, then the API server, then its storage.
      const [etcd, apiServer, ...clients] = processes;
      await Promise.all(clients.map((p) => p.stop()));
      await apiServer?.stop();
      await etcd?.stop();
      dir.remove();
    })();
    return stopping;
  };

  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcd = startEtcd(dir, etcdPort, peerPort);
    processes.push(etcd);
    const pki = await createClusterPki(join(dir.path, 'pki'));
    // No wait for etcd: kube-apiserver waits for its storage itself, and an
    // etcd that fails is caught below with its log.

    const apiServer = startProcess({
      name: 'kube-apiserver',
      command: findBinary('kube-apiserver'),
      args: [...apiServerArgs(etcdPort, apiPort, pki, dir), ...(options.apiServerArgs ?? [])],
      dir,
      // Its graceful shutdown takes over a second (a controller waits out a
      // period) and saves nothing here: the cluster's data goes with it.
      stopSignal: 'SIGKILL',
      stopTimeoutMs: STOP_TIMEOUT_MS,
    });
    processes.push(apiServer);
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigPath = join(dir.path, 'kubeconfig');
    const kubeconfig = kubeconfigYaml(name, server, pki);
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
    await waitForReady(
      [etcd, apiServer],
      async () => (await getStatus(server, '/readyz', pki)) === 200,
      { what: 'kube-apiserver /readyz', timeoutMs: remaining() },
    );
    const timings: ClusterTimings = { apiServerReadyMs: Date.now() - startedAt };
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kubeconfig);

    let nodeName: string | undefined;
    if (workloads) {
      nodeName = 'kwok-node-0';
      // An explicit (empty) configuration keeps ~/.kwok out; kwok then uses its default stages.
      const kwokConfig = join(dir.path, 'kwok.yaml');
      await writeFile(kwokConfig, KWOK_CONFIG);
      const common = [`--kubeconfig=${kubeconfigPath}`];
      const controllers = [
        startProcess({
          name: 'kube-controller-manager',
          command: findBinary('kube-controller-manager'),
          args: [
            ...common,
            '--leader-elect=false',
            '--bind-address=127.0.0.1',
            '--secure-port=0',
            `--service-account-private-key-file=${pki.files.serviceAccountKey}`,
            `--root-ca-file=${pki.files.caCert}`,
          ],
          dir,
          stopTimeoutMs: STOP_TIMEOUT_MS,
        }),
        startProcess({
          name: 'kube-scheduler',
          command: findBinary('kube-scheduler'),
          args: [...common, '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0'],
          dir,
          stopTimeoutMs: STOP_TIMEOUT_MS,
        }),
        startProcess({
          name: 'kwok',
          command: findBinary('kwok'),
          args: [
            ...common,
            `--config=${kwokConfig}`,
            '--manage-all-nodes=true',
            '--cidr=10.244.0.1/24',
            // Renew the fake node's Lease well within kube-controller-manager's
            // grace period (40 s); without a lease it heartbeats only every ~55 s,
            // the node flaps NotReady after a minute and Deployments lose Available.
            '--node-lease-duration-seconds=40',
          ],
          dir,
          stopTimeoutMs: STOP_TIMEOUT_MS,
        }),
      ];
      processes.push(...controllers);
      await waitForWorkloads(kubeConfig, nodeName, [etcd, apiServer, ...controllers], remaining());
      timings.workloadsReadyMs = Date.now() - startedAt;
    }

    return {
      name,
      server,
      kubeconfigPath,
      kubeConfig,
      nodeName,
      processes,
      dir: dir.path,
      timings,
      stop,
    };
  } catch (error) {
    await stop();
    if (error instanceof HarnessError)
      throw new HarnessError(`start cluster ${name}: ${error.message}`, { cause: error });
    throw new HarnessError(`start cluster ${name}: ${String(error)}`, { cause: error });
  }
}
