/**
 * Driftless the way the side-by-side benchmark runs it against Flux: a `driftless-hub` with the
 * Git webhook receiver on (so a push can be turned into a refresh hint, Driftless's best
 * trigger) and one `driftless-agent run` process for the cluster, enrolled with a token, polling
 * the fleet repository at the same interval as Flux. The hub runs outside the cluster and is not
 * counted in the agent's memory or CPU (Flux has no such part); its requests never reach the
 * cluster.
 */
import { randomBytes } from 'node:crypto';
import {
  createEnrollmentToken,
  hubApi,
  notifyPush,
  startAgent,
  startHub,
  type AgentProcess,
  type GitRepo,
  type Hub,
} from '@driftless/test';

/** A hub with its webhook receiver on, started before the agent (and before any clock). */
export function startBenchHub(): Promise<Hub> {
  return startHub({ webhookSecret: randomBytes(24).toString('hex'), logLevel: 'warn' });
}

/** What the agent gets. */
export interface DriftlessConfig {
  hub: Hub;
  repo: GitRepo;
  credentials: { username: string; password: string };
  /** The tool's own kubeconfig (its audited identity). */
  kubeconfigPath: string;
  /** `--poll-interval`, e.g. `10s`. */
  interval: string;
}

/**
 * The memory settings the agent runs with wherever it is shipped: the image's ENTRYPOINT and ENV
 * (deploy/images/Containerfile) and the checkout's `bin/driftless-agent` launcher both give
 * V8 1 MiB semi-spaces and glibc two malloc arenas. The harness starts the agent under plain
 * `node`, whose young generation grows to 128 MiB under a cold start's allocation rate.
 * BENCH_AGENT_ENV (`K=V …`; empty: plain `node`, as rounds before 2026-12-01 ran it) overrides.
 * The image's `--lite-mode` is not here: NODE_OPTIONS refuses it.
 */
export const AGENT_ENV: Record<string, string> = Object.fromEntries(
  (process.env['BENCH_AGENT_ENV'] ?? 'NODE_OPTIONS=--max-semi-space-size=1 MALLOC_ARENA_MAX=2')
    .split(/\s+(?=\w+=)/)
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

/** Creates the enrollment token; resolves with a function that starts the agent with it. */
export async function prepareAgent(config: DriftlessConfig): Promise<() => AgentProcess> {
  const token = await createEnrollmentToken(config.hub, 'bench');
  return () =>
    startAgent({
      cluster: { kubeconfigPath: config.kubeconfigPath },
      clusterName: 'bench',
      repoUrl: config.repo.url,
      gitCredentials: config.credentials,
      hub: config.hub,
      token,
      pollInterval: config.interval,
      logLevel: 'warn',
      env: AGENT_ENV,
    });
}

/** Driftless's best trigger: the Git host's push webhook to the hub, which hints the agent. */
export async function notifyDriftless(hub: Hub, repo: GitRepo, sha: string): Promise<void> {
  await notifyPush(hub, repo, sha);
}

/** The apps the hub shows Synced at `revision` and Healthy as of now. */
export async function driftlessReadyApps(hub: Hub, revision: string): Promise<string[]> {
  const { items } = await hubApi(hub).get<{
    items: { app: string; revision: string; syncStatus: string; health: string }[];
  }>('/api/v1/apps');
  return items
    .filter(
      (a) =>
        a.revision === revision &&
        a.syncStatus.toLowerCase() === 'synced' &&
        a.health.toLowerCase() === 'healthy',
    )
    .map((a) => a.app);
}
