/**
 * A small real fleet for the CLI tests: one kube-apiserver (no workloads: the apps are
 * ConfigMaps, healthy once they exist), a Git server, the real `driftless-hub`, and three real
 * `driftless-agent run` processes (each with its own state namespace) enrolled as clusters stg-a and stg-b (env=staging, app `web`
 * syncs automatically) and prod (env=prod, app `web` is `sync: manual`). The agents poll Git
 * only once an hour, so a test that commits says when they should look: `driftless refresh`.
 * And `cli()` runs `hub/bin/driftless.ts` as a person would, with pipes (no terminal).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { KubeClient } from '@driftless/agent';
import {
  createEnrollmentToken,
  hubApi,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  waitFor,
  type AgentProcess,
  type Cluster,
  type GitRepo,
  type GitServer,
  type Hub,
  type HubApi,
} from '@driftless/test';

/** The CLI's entry point in this checkout. */
export const CLI = resolve(import.meta.dirname, '../../../hub/bin/driftless.ts');
const run = promisify(execFile);

/** The clusters of the fleet, with their labels and how `web` syncs. */
export const CLUSTERS = {
  'stg-a': { labels: { env: 'staging' }, sync: 'auto' },
  'stg-b': { labels: { env: 'staging' }, sync: 'auto' },
  prod: { labels: { env: 'prod' }, sync: 'manual' },
} as const;
/** A cluster of {@link CLUSTERS}. */
export type FleetCluster = keyof typeof CLUSTERS;
const NAMES = Object.keys(CLUSTERS) as FleetCluster[];

/** `apps/web/cm.yaml`: one ConfigMap `web` with `value`. */
export const webConfigMap = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  value: "${value}"\n`;

const driftlessYaml = (cluster: FleetCluster) =>
  `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n    - name: web\n      path: apps/web\n      namespace: ${cluster}\n      sync: ${CLUSTERS[cluster].sync}\n`;

/** What `cli()` answers. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The running fleet. */
export interface CliFleet {
  hub: Hub;
  api: HubApi;
  git: GitServer;
  repo: GitRepo;
  kube: KubeClient;
  agents: Record<FleetCluster, AgentProcess>;
  /** The first commit (every app's first revision). */
  first: string;
  /** Runs `driftless ARGS` against the hub with the admin token; never throws. */
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  /**
   * Runs `driftless ARGS` on a terminal (a pseudo-terminal from util-linux `script`), typing
   * `input`; resolves with the exit code and what the terminal showed (stdout and stderr).
   */
  cliOnTerminal(args: string[], input: string): Promise<{ code: number; screen: string }>;
  /** Starts `driftless ARGS` and returns the child, for commands that follow (events, wait). */
  spawnCli(args: string[]): ChildProcess;
  /** An app as `GET /api/v1/apps` lists it. */
  app(cluster: FleetCluster, app?: string): Promise<Record<string, unknown> | undefined>;
  stop(): Promise<void>;
}

/** Starts the fleet and waits until each cluster's `web` reported its first revision. */
export async function startCliFleet(): Promise<CliFleet> {
  const [cluster, git, hub]: [Cluster, GitServer, Hub] = await Promise.all([
    startCluster(),
    startGitServer(),
    startHub(),
  ]);
  const kube = await KubeClient.fromKubeConfig(cluster.kubeConfig);
  const agents = {} as Record<FleetCluster, AgentProcess>;
  const stop = async () => {
    await Promise.all(Object.values(agents).map((a) => a.stop()));
    kube.close();
    await Promise.all([hub.stop(), cluster.stop(), git.stop()]);
  };
  try {
    for (const name of NAMES)
      await kube.apply(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
        { fieldManager: 'test' },
      );
    const repo = await git.createRepo('fleet');
    const first = await repo.commit(
      {
        ...Object.fromEntries(NAMES.map((c) => [`clusters/${c}/driftless.yaml`, driftlessYaml(c)])),
        'apps/web/cm.yaml': webConfigMap('v1'),
      },
      'fleet: web in stg-a, stg-b and prod',
    );
    for (const name of NAMES)
      agents[name] = startAgent({
        cluster,
        clusterName: name,
        repoUrl: repo.url,
        gitCredentials: git.credentials,
        hub,
        token: await createEnrollmentToken(hub, name, CLUSTERS[name].labels),
        labels: CLUSTERS[name].labels,
        pollInterval: '1h',
        // Three agents share one apiserver: each keeps its identity and inventories apart,
        // as in a cluster of its own.
        env: { DRIFTLESS_STATE_NAMESPACE: `driftless-${name}` },
      });
    const api = hubApi(hub);
    const env = { ...process.env, DRIFTLESS_HUB: hub.httpUrl, DRIFTLESS_TOKEN: hub.adminToken };
    const app = async (c: FleetCluster, name = 'web') =>
      (await api.get<{ items: Record<string, unknown>[] }>(`/api/v1/apps?cluster=${c}`)).items.find(
        (a) => a['app'] === name,
      );
    await waitFor(
      'every cluster to report web at the first commit',
      async () => {
        for (const c of NAMES) if ((await app(c))?.['revision'] !== first) return false;
        return true;
      },
      { timeoutMs: 180_000 },
    ).catch(async (err: unknown) => {
      // Say what the hub and the agents saw instead.
      const apps = await api.get('/api/v1/apps').catch(() => 'no answer');
      const logs = NAMES.map(
        (c) =>
          `${c}: ${agents[c]
            .logs()
            .slice(-5)
            .map((l) => JSON.stringify(l))
            .join('\n')}`,
      );
      throw new Error(
        `${(err as Error).message}\napps: ${JSON.stringify(apps)}\n${logs.join('\n')}`,
        {
          cause: err,
        },
      );
    });
    return {
      hub,
      api,
      git,
      repo,
      kube,
      agents,
      first,
      app,
      async cli(args, extra = {}) {
        try {
          const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
            env: { ...env, ...extra },
          });
          return { code: 0, stdout, stderr };
        } catch (err) {
          const e = err as { code: number; stdout: string; stderr: string };
          return { code: e.code, stdout: e.stdout, stderr: e.stderr };
        }
      },
      async cliOnTerminal(args, input) {
        const command = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
        const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: 'pipe' });
        let screen = '';
        child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
        child.stderr.on('data', (d: Buffer) => (screen += d.toString()));
        child.stdin.end(input);
        const [code] = (await once(child, 'exit')) as [number];
        return { code, screen };
      },
      spawnCli: (args) => spawn(process.execPath, [CLI, ...args], { env, stdio: 'pipe' }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
