/**
 * Starts the whole product locally, as `make demo` shows it and the end-to-end suite and
 * benchmark test it: two clusters with workloads (dev, prod), a Git server holding the example
 * fleet (fleet.ts), the hub on SQLite with a webhook secret, and one agent per cluster enrolled
 * with a token created through the hub's API. With `transport: 'nats'` a nats-server with
 * JetStream trusting the hub's operator runs too, and the agents report over it. Everything
 * runs under the harness's watchdog.
 */
import { randomBytes } from 'node:crypto';
import {
  LOOPBACK_DESTINATIONS,
  createEnrollmentToken,
  createHubDataDir,
  hubApi,
  hubNatsConfig,
  installPushHook,
  notifyPush,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  startJaeger,
  startNats,
  type AgentProcess,
  type Cluster,
  type GitRepo,
  type GitServer,
  type Hub,
  type HubApi,
  type Jaeger,
  type NatsServer,
} from '@driftless/test';
import { FLEET_CLUSTERS, fleetFiles, type FleetCluster } from './fleet.ts';

/** Options of {@link startEnvironment}. */
export interface EnvironmentOptions {
  /** The agents' `--poll-interval`. Default: `1m` (webhook hints bring commits sooner). */
  pollInterval?: string;
  /** Whether the hub gets a webhook secret and the repository a push hook. Default: true. */
  webhook?: boolean;
  /** Progress lines (e.g. to stdout for the demo). Default: silent. */
  log?: (line: string) => void;
  /**
   * How the agents report to the hub. `grpc` (default): the gRPC+mTLS stream. `nats`: a
   * nats-server with JetStream is started from the hub's `nats-config` output, the hub gets
   * `--nats-url` and the agents `--transport nats --nats-url` (they still enroll over gRPC).
   */
  transport?: EnvironmentTransport;
  /**
   * Start Jaeger and have the hub and the agents export their spans to it over OTLP; the
   * dashboard's trace links open the trace in Jaeger's query API. Default: false.
   */
  tracing?: boolean;
  /** The agents' `DRIFTLESS_LOG_LEVEL` (e.g. `debug` for timings). Default: `info`. */
  agentLogLevel?: string;
  /** The agents' entry script (another tree's, to compare builds). Default: this tree's. */
  agentBin?: string;
}

/** The link between agents and hub in an {@link Environment}. */
export type EnvironmentTransport = 'grpc' | 'nats';

/** A hub's app as `GET /api/v1/apps` lists it (the fields the demo and tests read). */
export interface HubApp {
  cluster: string;
  app: string;
  revision: string;
  syncStatus: string;
  syncMode: string;
  health: string;
  driftCount: number;
  planDigest: string;
  message: string;
}

/** The running product. */
export interface Environment {
  clusters: Record<FleetCluster, Cluster>;
  git: GitServer;
  repo: GitRepo;
  hub: Hub;
  /** The admin API client. */
  api: HubApi;
  /** The current agent process of each cluster (replaced by {@link Environment.restartAgent}). */
  agents: Record<FleetCluster, AgentProcess>;
  /** Every agent process started so far, including stopped ones, for their logs. */
  allAgents: AgentProcess[];
  /** The agents' poll interval. */
  pollInterval: string;
  /** How the agents report to the hub. */
  transport: EnvironmentTransport;
  /** The nats-server the hub and agents use, with `transport: 'nats'`. */
  nats: NatsServer | undefined;
  /** Jaeger, with `tracing: true`. */
  jaeger: Jaeger | undefined;
  /** Commits to the fleet and, when the hub has a webhook, delivers the push; resolves with the sha. */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  /** Delivers the push of `sha` (already committed) to the hub's webhook receiver. */
  commitDelivered(sha: string): Promise<number>;
  /** Every app the hub knows, across the fleet. */
  apps(): Promise<HubApp[]>;
  /** Starts a new agent process for `cluster` without a token (it reuses its identity Secret). */
  restartAgent(cluster: FleetCluster): Promise<AgentProcess>;
  /** Replaces the hub handle after the test restarted it (same data directory and ports). */
  replaceHub(hub: Hub): void;
  /**
   * Starts the hub again after the test killed or stopped it: same data directory, ports,
   * webhook secret and NATS server; the new handle replaces the old one.
   */
  restartHub(): Promise<Hub>;
  /** Stops agents, hub, Git server and clusters. Idempotent. */
  stop(): Promise<void>;
}

/** Labels each cluster is enrolled with. */
const LABELS: Record<FleetCluster, Record<string, string>> = {
  dev: { env: 'dev', region: 'local' },
  prod: { env: 'prod', region: 'local' },
};

/**
 * Starts the clusters, the Git server (with the fleet committed) and the hub side by side, then
 * enrolls one agent per cluster. On failure everything started so far is stopped.
 */
export async function startEnvironment(options: EnvironmentOptions = {}): Promise<Environment> {
  const log = options.log ?? (() => {});
  const webhook = options.webhook ?? true;
  const pollInterval = options.pollInterval ?? '1m';
  const transport = options.transport ?? 'grpc';
  const jaeger: Jaeger | undefined = options.tracing ? await startJaeger() : undefined;
  const stops: (() => Promise<void>)[] = [];
  const allAgents: AgentProcess[] = [];
  let hub: Hub | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Agents first, so none reports into a hub that is going away, then the rest together.
    await Promise.all(allAgents.map((a) => a.stop()));
    await hub?.stop();
    await Promise.all(stops.map((s) => s()));
    await jaeger?.stop();
  };
  try {
    log(
      `starting two clusters (dev, prod), a Git server and the hub${transport === 'nats' ? ' with a nats-server' : ''} ...`,
    );
    const webhookSecret = webhook ? randomBytes(24).toString('hex') : undefined;
    let nats: NatsServer | undefined;
    // The module-built Jaeger has no UI bundle: trace links open its JSON query API.
    const traceArgs = jaeger
      ? ['--trace-url-template', `${jaeger.queryUrl}/api/traces/{traceId}`]
      : [];
    const hubEnv = jaeger?.otelEnv() ?? {};
    let hubArgs: string[] = traceArgs;
    // The demo's notification receiver listens on loopback, which the hub refuses unless allowed.
    const allowPrivateDestinations = LOOPBACK_DESTINATIONS;
    const startFirstHub = async (): Promise<Hub> => {
      if (transport === 'grpc')
        return startHub({ webhookSecret, args: hubArgs, env: hubEnv, allowPrivateDestinations });
      // The operator's steps (docs/hub.md, "NATS"): the hub's keys and the server trusting them.
      const dataDir = createHubDataDir();
      nats = await startNats({ jetstream: true, config: hubNatsConfig(dataDir) });
      stops.push(() => nats!.stop());
      hubArgs = [...traceArgs, '--nats-url', nats.url];
      return startHub({
        dataDir,
        webhookSecret,
        args: hubArgs,
        env: hubEnv,
        allowPrivateDestinations,
      });
    };
    const [dev, prod, git, firstHub] = await Promise.all([
      startCluster({ workloads: true, name: 'dev' }),
      startCluster({ workloads: true, name: 'prod' }),
      startGitServer(),
      startFirstHub(),
    ]);
    hub = firstHub;
    stops.push(
      () => dev.stop(),
      () => prod.stop(),
      () => git.stop(),
    );
    const clusters = { dev, prod };
    const repo = await git.createRepo('fleet');
    await repo.commit(fleetFiles(), 'example fleet: podinfo in dev and prod, infrastructure');
    if (webhook) installPushHook(repo, hub);

    log('enrolling an agent per cluster with a token from the hub API ...');
    const start = async (cluster: FleetCluster, token?: string): Promise<AgentProcess> => {
      const agent = startAgent({
        cluster: clusters[cluster],
        clusterName: cluster,
        repoUrl: repo.url,
        gitCredentials: git.credentials,
        hub: hub!,
        token,
        labels: LABELS[cluster],
        pollInterval,
        transport,
        ...(options.agentLogLevel ? { logLevel: options.agentLogLevel } : {}),
        ...(options.agentBin ? { bin: options.agentBin } : {}),
        ...(nats ? { natsUrl: nats.url } : {}),
        ...(jaeger ? { env: jaeger.otelEnv() } : {}),
      });
      allAgents.push(agent);
      return agent;
    };
    const tokens = await Promise.all(
      FLEET_CLUSTERS.map((c) => createEnrollmentToken(hub!, c, LABELS[c])),
    );
    const agents = {
      dev: await start('dev', tokens[0]),
      prod: await start('prod', tokens[1]),
    };
    const env: Environment = {
      clusters,
      git,
      repo,
      get hub() {
        return hub!;
      },
      get api() {
        return hubApi(hub!);
      },
      agents,
      allAgents,
      pollInterval,
      transport,
      nats,
      jaeger,
      async commit(files, message) {
        const sha = await repo.commit(files, message);
        // GitRepo.commit writes the repository directly, so no hook runs: deliver it here.
        if (hub!.webhookSecret) await notifyPush(hub!, repo, sha);
        return sha;
      },
      commitDelivered: (sha) => notifyPush(hub!, repo, sha),
      async apps() {
        return (await hubApi(hub!).get<{ items: HubApp[] }>('/api/v1/apps')).items;
      },
      async restartAgent(cluster) {
        await agents[cluster].stop();
        agents[cluster] = await start(cluster);
        return agents[cluster];
      },
      replaceHub(next) {
        hub = next;
      },
      async restartHub() {
        const old = hub!;
        hub = await startHub({
          dataDir: old.dataDir,
          grpcPort: old.grpcPort,
          httpPort: old.httpPort,
          webhookSecret: old.webhookSecret,
          args: hubArgs,
          env: hubEnv,
          allowPrivateDestinations,
        });
        return hub;
      },
      stop,
    };
    return env;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The harness's one polling wait, re-exported for the demo and the end-to-end tests. */
export { waitFor } from '@driftless/test';
