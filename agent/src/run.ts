import {
  createLogger,
  errorMessage,
  flagsHelp,
  getTracer,
  initTelemetry,
  parseFlags,
  SpanAttr,
  systemClock,
  TerminalError,
  type Logger,
} from '@driftless/common';
import {
  AGENT_ENV_PREFIX,
  agentFlags,
  redactAgentOptions,
  resolveAgentOptions,
  type AgentFlags,
} from './config/index.ts';
import { AGENT_VERSION } from './version.ts';
import { KubeClient, loadClusterAccess, servedApiVersions, TenantClients } from './kube/index.ts';
import { CommitVerifier, GitSource, keysFromFile, keysFromSecret } from './source/index.ts';
import { InventoryStore } from './inventory/index.ts';
import { DriftWatcher } from './drift/index.ts';
import {
  ApprovalBook,
  EventReporter,
  FanoutReporter,
  LogReporter,
  type Reporter,
} from './report/index.ts';
import { Agent, ServedApiWatch, type RenderSettings } from './reconcile/index.ts';
import { ConfigMapSuspensionStore, SuspensionBook } from './suspend/index.ts';
import { chartCredentials } from './render/index.ts';
import type { MetricsServer } from './metrics/index.ts';
import { loadOptionalModule } from './optional-module.ts';
import { IdleCompactor } from './memory.ts';

/** The agent's version, reported to the hub and as `service.version`. */
export { AGENT_VERSION } from './version.ts';

const RUN_HELP = `Usage: driftless-agent run [flags]

Runs the agent in a cluster: follows the cluster's folder in Git, reconciles
every app listed in its driftless.yaml, watches drift and reports it.

Flags:
`;

/**
 * `driftless-agent run`: parses flags, wires the engine to the cluster of the
 * kubeconfig (in-cluster by default) and runs until SIGINT or SIGTERM.
 * Returns the process exit code.
 */
export async function runAgent(argv: string[]): Promise<number> {
  const parsed = parseFlags(agentFlags, argv, { envPrefix: AGENT_ENV_PREFIX });
  if (parsed.help) {
    process.stdout.write(RUN_HELP + flagsHelp(agentFlags, AGENT_ENV_PREFIX) + '\n');
    return 0;
  }
  const options = resolveAgentOptions(parsed.values);
  const logger = createLogger({ name: 'driftless-agent', level: options.logLevel });
  const telemetry = initTelemetry({
    serviceName: 'driftless-agent',
    serviceVersion: AGENT_VERSION,
    // Every span of this agent is about this cluster and this repository (never with credentials).
    resourceAttributes: {
      [SpanAttr.cluster]: options.clusterName,
      [SpanAttr.repository]: options.repoUrl,
      ...(options.branch ? { [SpanAttr.branch]: options.branch } : {}),
    },
  });
  logger.info(
    { options: redactAgentOptions(options) },
    `driftless-agent ${AGENT_VERSION} starting for cluster ${options.clusterName}`,
  );

  const access = loadClusterAccess(options.kubeconfig ? [options.kubeconfig] : []);
  if (!access) {
    throw new TerminalError('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a pod');
  }
  const client = await KubeClient.fromKubeConfig(access);
  const inventory = new InventoryStore(client, options.stateNamespace);
  await inventory.ensureNamespace();
  const approvals = new ApprovalBook();
  // Break-glass pauses are kept in the state namespace, so a restart keeps pausing until they end.
  const suspensions = new SuspensionBook({
    store: new ConfigMapSuspensionStore(client, options.stateNamespace),
    logger,
  });
  await suspensions.restore();
  // With a hub, reports go to the logs and to the link's outbox; standalone, to the logs only.
  // The link's code (gRPC, the protocol, X.509, NATS) is loaded only for a hub.
  const hubAddress = options.hubAddress;
  const hub = hubAddress
    ? await (
        await loadOptionalModule('the hub link', () => import('./link/start.ts'))
      ).prepareHubLink({ ...options, hubAddress, agentVersion: AGENT_VERSION }, client, logger)
    : undefined;
  // Prometheus metrics only when /metrics is served: nobody could read them otherwise.
  // (The drift watcher comes below; it is read at each scrape, once the endpoint serves.)
  const metrics = options.metricsAddress
    ? await agentMetrics(options.clusterName, () => drift)
    : undefined;
  // Hands back what a large sync grew into once the agent goes idle (settled memory).
  const compactor = new IdleCompactor();
  // Always logs and Kubernetes Events; the hub too when the agent is linked.
  const reporter: Reporter = new FanoutReporter(
    compactor.reporter,
    ...(metrics ? [metrics.reporter] : []),
    new LogReporter(logger),
    new EventReporter({
      client,
      cluster: options.clusterName,
      namespace: options.stateNamespace,
      logger,
    }),
    ...(hub ? [hub.reporter] : []),
  );
  // Drift reports go through the agent, which also refreshes the app's drift count.
  // Apps with a serviceAccountName act as it, heals included.
  const tenants = new TenantClients(client, options.stateNamespace);
  const drift = new DriftWatcher({
    client: tenants.watcherClient(),
    reporter: {
      appStatus: (r) => reporter.appStatus(r),
      syncResult: (r) => reporter.syncResult(r),
      drift: (r) => agent.noteDrift(r),
    },
    logger,
    suspended: (app) => suspensions.forApp(app),
  });
  // CRDs and APIServices coming or going re-render apps gated on the cluster's capabilities.
  const servedApis = new ServedApiWatch({
    source: client,
    clock: systemClock,
    logger,
    onChange: () => agent.nudge(),
    // The generation moves once discovery serves a new API, so the render it wakes sees it.
    discovered: (signal) => servedApiVersions(client, signal),
  });
  const agent = new Agent({
    cluster: options.clusterName,
    client,
    tenants,
    servedApis,
    source: new GitSource({
      url: options.repoUrl,
      branch: options.branch,
      dir: options.workDir,
      auth: options.gitAuth,
      logger,
      maxFetchBytes: options.gitMaxFetchBytes,
      verify: commitVerification(options, client, logger),
    }),
    render: renderSettings(options, client),
    clusterPath: options.clusterPath,
    inventory,
    reporter,
    approvals,
    suspensions,
    drift,
    tracer: getTracer('driftless-agent', AGENT_VERSION),
    logger,
    pollIntervalMs: options.pollIntervalMs,
    resyncIntervalMs: options.resyncIntervalMs,
    concurrency: options.applyConcurrency,
    appConcurrency: options.appConcurrency,
    defaultHealthTimeoutMs: options.healthTimeoutMs,
  });

  const link = await hub?.link({
    refresh: (revision) => agent.refresh(revision ? { revision } : {}),
    statuses: () => agent.statuses(),
    approvals,
    suspensions,
    inventory: (app) => inventory.load(app),
    appRules: (app) => agent.appSpec(app)?.health,
  });

  let exitCode = 0;
  // A token the hub refuses needs a person: the agent exits saying so, once. An unreachable
  // hub is no reason to stop: the agent reconciles from Git while the link keeps trying.
  const refusedEnrollment = (s: { state: string; error?: string }) => {
    if (s.state !== 'refused' || !link || link.enrolled) return false;
    logger.fatal(`cannot enroll with the hub: ${s.error ?? 'refused'}`);
    exitCode = 1;
    return true;
  };
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      stopping = true;
      logger.info(`${signal} received, stopping`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // A refusal after enrollment (revoked) is not a reason to stop reconciling from Git.
    link?.onStatus((s) => {
      if (refusedEnrollment(s)) resolve();
    });
  });
  // The link goes first, so a refused token stops the agent before it applies anything.
  link?.start();
  await link?.settled();
  const starting = exitCode === 0 && !stopping;
  const metricsServer =
    metrics && options.metricsAddress && starting
      ? await metrics.serve(options.metricsAddress, logger)
      : undefined;
  if (starting) {
    servedApis.start();
    agent.start();
    compactor.noteWork(); // what starting up grew into goes back at the first idle moment
  }
  await stopped;
  // Stop producing reports first, then give the hub a moment to acknowledge the last ones.
  await agent.stop();
  compactor.stop();
  await suspensions.stop();
  await drift.stop();
  await servedApis.stop();
  if (link && !(await link.flush(5_000)))
    logger.warn('stopping with reports the hub has not acknowledged');
  await link?.stop();
  await hub?.close();
  await metricsServer?.close();
  client.close();
  await telemetry
    .shutdown()
    .catch((err: unknown) => logger.warn(`telemetry shutdown: ${errorMessage(err)}`));
  return exitCode;
}

/** What every render of this agent uses: limits, the chart cache and chart credentials. */
function renderSettings(options: AgentFlags, client: KubeClient): RenderSettings {
  return {
    limits: options.renderLimits,
    charts: {
      cacheDir: options.chartCacheDir,
      plainHttpRegistries: options.chartPlainHttpRegistries,
      credentials: chartCredentials({
        dir: options.chartCredentialsDir,
        readSecret: (name) =>
          client.get({ apiVersion: 'v1', kind: 'Secret', namespace: options.stateNamespace, name }),
      }),
    },
  };
}

/**
 * Prometheus metrics of this agent: the reporter that counts syncs and drift, and the endpoint
 * that serves them. prom-client is loaded only here.
 */
async function agentMetrics(
  cluster: string,
  drift: () => DriftWatcher,
): Promise<{ reporter: Reporter; serve(address: string, logger: Logger): Promise<MetricsServer> }> {
  const { AgentMetrics, serveMetrics } = await loadOptionalModule(
    'the metrics endpoint',
    () => import('./metrics/index.ts'),
  );
  const metrics = new AgentMetrics({
    cluster,
    heals: (app) => drift().heals(app),
    drift: () => drift().metrics,
  });
  return {
    reporter: metrics,
    serve: async (address, logger) => {
      const server = await serveMetrics(address, metrics.registry);
      logger.info(
        { address: server.address },
        `serving metrics at http://${server.address}/metrics`,
      );
      return server;
    },
  };
}

/** The source's commit check when allowed signing keys are configured, else undefined. */
function commitVerification(options: AgentFlags, client: KubeClient, logger: Logger) {
  const keys = options.commitSigningKeys;
  if (!keys) return undefined;
  const verifier = new CommitVerifier(
    'file' in keys
      ? { keys: keysFromFile(keys.file), keysSource: `file ${keys.file}` }
      : {
          keys: keysFromSecret(client, options.stateNamespace, keys.secret),
          keysSource: `Secret ${options.stateNamespace}/${keys.secret}`,
        },
  );
  return async (checkout: { revision: string; dir: string }) => {
    const signer = await verifier.verify(checkout);
    logger.info(
      { revision: checkout.revision, signer },
      `commit ${checkout.revision.slice(0, 7)} is signed by allowed ${signer.format} key ${signer.key}`,
    );
  };
}
