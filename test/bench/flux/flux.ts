/**
 * Flux in a harness cluster, the way the side-by-side benchmark runs it: the CRDs from the
 * controllers' own `config/crd/bases` (copied next to the binaries by build.sh), then
 * source-controller and kustomize-controller as processes on this machine with a kubeconfig
 * (no leader election; the artifact server, metrics and health on free loopback ports), one
 * GitRepository for the fleet repository (basic auth from a Secret) and one Kustomization per app
 * (`wait: true`, so its Healthy condition means every object is healthy, as Driftless's Healthy does).
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { binaryCacheDir, freePort, waitFor, type GitRepo } from '@driftless/test';
import { createTempDir, startProcess, type ServerProcess } from '../../harness/process.ts';
import type { BenchKube, KubeJson } from '../lib/kube.ts';
import { appName } from './workload.ts';

/** The Flux release build.sh builds (FLUX_VERSION there). */
export const FLUX_VERSION = process.env['BENCH_FLUX_VERSION'] ?? '1.9.6';
const NAMESPACE = 'flux-system';
const SOURCE = '/apis/source.toolkit.fluxcd.io/v1';
const KUSTOMIZE = '/apis/kustomize.toolkit.fluxcd.io/v1';

/**
 * kustomize-controller's concurrency set to Driftless's where the two have a counterpart (its
 * defaults are 4, 4, 50/s and 300): Kustomizations reconciled at once, 16 (the agent syncs every
 * due app at once over 16 connections); server-side applies at once within one, 8 (the agent's
 * `--apply-concurrency`); no client-side rate limit in effect (the agent has none; Flux's default
 * of 50 requests/s would cap its cold start). `BENCH_FLUX_ARGS` (space-separated) replaces them,
 * e.g. with `--concurrent=4` to run Flux at its defaults.
 */
export const FLUX_KUSTOMIZE_ARGS: readonly string[] = (
  process.env['BENCH_FLUX_ARGS'] ??
  '--concurrent=16 --concurrent-ssa=8 --kube-api-qps=10000 --kube-api-burst=10000'
)
  .split(' ')
  .filter(Boolean);

/** The binary of one controller in the cache (…/bin/flux-<name>-<version>/<name>). */
function binary(name: 'source-controller' | 'kustomize-controller'): string {
  return join(dirname(binaryCacheDir()), `flux-${name}-${FLUX_VERSION}`, name);
}

/** Applies every CRD of both controllers and waits until each is Established. */
export async function installFluxCrds(kube: BenchKube): Promise<void> {
  const names: string[] = [];
  for (const controller of ['source-controller', 'kustomize-controller'] as const) {
    const dir = join(dirname(binary(controller)), 'crd');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
        const crd = doc.toJS() as KubeJson | null;
        if (!crd?.metadata?.name) continue;
        names.push(crd.metadata.name);
        await kube.apply(
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
          crd,
          'bench',
        );
      }
    }
  }
  await waitFor(
    'the Flux CRDs Established',
    async () => {
      for (const name of names) {
        const crd = await kube.request(
          'GET',
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
        );
        const conditions = (crd?.['status'] as { conditions?: { type: string; status: string }[] })
          ?.conditions;
        if (!conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return false;
      }
      return true;
    },
    { timeoutMs: 60_000, everyMs: 200 },
  );
}

/** What the benchmark configures Flux with. */
export interface FluxConfig {
  repo: GitRepo;
  credentials: { username: string; password: string };
  apps: number;
  /** GitRepository and Kustomization `spec.interval`, e.g. `10s`. */
  interval: string;
}

/** Creates the namespace, the Git Secret, the GitRepository and one Kustomization per app. */
export async function createFluxObjects(kube: BenchKube, config: FluxConfig): Promise<void> {
  await kube.apply(
    `/api/v1/namespaces/${NAMESPACE}`,
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
    'bench',
  );
  await kube.apply(
    `/api/v1/namespaces/${NAMESPACE}/secrets/git-auth`,
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'git-auth', namespace: NAMESPACE },
      stringData: config.credentials,
    },
    'bench',
  );
  await kube.apply(
    `${SOURCE}/namespaces/${NAMESPACE}/gitrepositories/fleet`,
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'fleet', namespace: NAMESPACE },
      spec: {
        interval: config.interval,
        url: config.repo.url,
        ref: { branch: config.repo.branch },
        secretRef: { name: 'git-auth' },
      },
    },
    'bench',
  );
  for (let i = 0; i < config.apps; i++)
    await kube.apply(
      `${KUSTOMIZE}/namespaces/${NAMESPACE}/kustomizations/${appName(i)}`,
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: appName(i), namespace: NAMESPACE },
        spec: {
          interval: config.interval,
          path: `./apps/${appName(i)}`,
          prune: true,
          wait: true,
          timeout: '5m',
          targetNamespace: appName(i),
          sourceRef: { kind: 'GitRepository', name: 'fleet' },
        },
      },
      'bench',
    );
}

/** Flux's best trigger: `reconcile.fluxcd.io/requestedAt` on the GitRepository, as `flux reconcile source git` sets it. */
export async function requestFluxReconcile(kube: BenchKube): Promise<void> {
  await kube.request(
    'PATCH',
    `${SOURCE}/namespaces/${NAMESPACE}/gitrepositories/fleet`,
    { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': new Date().toISOString() } } },
    'application/merge-patch+json',
  );
}

/**
 * The apps whose Kustomization applied `revision` (a commit sha) and passed its health checks
 * (condition Healthy True) as of now. Every reconciliation, also one with nothing to change,
 * sets Healthy to Unknown while its health checks run, so at a short interval some are always
 * Unknown: callers latch each app the first time it is seen (phase.ts).
 */
export async function fluxReadyApps(kube: BenchKube, revision: string): Promise<string[]> {
  const items = await kube.list(`${KUSTOMIZE}/namespaces/${NAMESPACE}/kustomizations`);
  return items
    .filter((k) => {
      const status = k['status'] as
        | { lastAppliedRevision?: string; conditions?: { type: string; status: string }[] }
        | undefined;
      return (
        status?.lastAppliedRevision?.endsWith(revision) === true &&
        status.conditions?.some((c) => c.type === 'Healthy' && c.status === 'True') === true
      );
    })
    .map((k) => k.metadata?.name ?? '');
}

/** The two controllers, running. */
export interface FluxControllers {
  /** Pids of source-controller and kustomize-controller. */
  pids(): number[];
  processes: readonly ServerProcess[];
  stop(): Promise<void>;
}

/**
 * Starts source-controller and kustomize-controller with `kubeconfigPath`; resolves once both
 * answer on their health port (`/readyz`).
 */
export async function startFluxControllers(kubeconfigPath: string): Promise<FluxControllers> {
  const dir = createTempDir('flux');
  const [storage, sourceMetrics, sourceHealth, kustomizeMetrics, kustomizeHealth] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  // source-controller refuses a storage path that does not exist.
  const artifacts = join(dir.path, 'artifacts');
  mkdirSync(artifacts);
  const env = { ...process.env, KUBECONFIG: kubeconfigPath, RUNTIME_NAMESPACE: NAMESPACE };
  const common = [
    '--enable-leader-election=false',
    '--log-level=error',
    '--watch-all-namespaces=true',
  ];
  const processes = [
    startProcess({
      name: 'source-controller',
      command: binary('source-controller'),
      args: [
        ...common,
        `--storage-path=${artifacts}`,
        `--storage-addr=127.0.0.1:${storage}`,
        `--storage-adv-addr=127.0.0.1:${storage}`,
        `--metrics-addr=127.0.0.1:${sourceMetrics}`,
        `--health-addr=127.0.0.1:${sourceHealth}`,
      ],
      dir,
      env,
    }),
    startProcess({
      name: 'kustomize-controller',
      command: binary('kustomize-controller'),
      args: [
        ...common,
        `--metrics-addr=127.0.0.1:${kustomizeMetrics}`,
        `--health-addr=127.0.0.1:${kustomizeHealth}`,
        ...FLUX_KUSTOMIZE_ARGS,
      ],
      dir,
      env,
    }),
  ];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    dir.remove();
  };
  try {
    for (const [p, port] of [
      [processes[0]!, sourceHealth],
      [processes[1]!, kustomizeHealth],
    ] as const)
      await waitFor(
        `${p.name} ready`,
        async () => {
          if (!p.running) throw new Error(`${p.name} exited: ${p.logTail()}`);
          return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
        },
        { timeoutMs: 60_000, everyMs: 100 },
      );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    processes,
    pids: () => processes.map((p) => p.serverPid() ?? p.pid),
    stop,
  };
}
