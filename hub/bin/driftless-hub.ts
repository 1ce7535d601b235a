#!/usr/bin/env node
// driftless-hub: the hub server. Prints one JSON line with the bound addresses on stdout
// (and, on first start, one with the bootstrap admin token); logs go to stderr.
import {
  createLogger,
  errorMessage,
  flagsHelp,
  FlagError,
  formatVersion,
  initTelemetry,
  parseFlags,
} from '@driftless/common';
import { guardProcess, HUB_ENV_PREFIX, HUB_FLAGS, NatsAuthority, startHub } from '../src/index.ts';

const usage = `driftless-hub: the Driftless hub (enrollment, agent link, fleet state, HTTP API)

Usage: driftless-hub [flags]
       driftless-hub nats-config [--data-dir DIR]   print the nats-server configuration that
                                                     trusts this hub (creates its NATS keys)
       driftless-hub --version                      print the hub's version

Flags (each also read from its environment variable):
${flagsHelp(HUB_FLAGS, HUB_ENV_PREFIX)}
`;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args[0] === '--version' || args[0] === 'version') {
    process.stdout.write(`driftless-hub ${formatVersion()}\n`);
    return 0;
  }
  const natsConfig = args[0] === 'nats-config';
  if (natsConfig) args.shift();
  let parsed;
  try {
    parsed = parseFlags(HUB_FLAGS, args, { envPrefix: HUB_ENV_PREFIX });
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`driftless-hub: ${err.message}\n\n${usage}`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(usage);
    return 0;
  }
  const f = parsed.values;
  if (natsConfig) {
    // JWTs and public keys only: nothing secret goes to stdout.
    const { auth } = await NatsAuthority.loadOrCreate(f.dataDir);
    process.stdout.write(await auth.serverConfig());
    return 0;
  }
  const telemetry = initTelemetry({ serviceName: 'driftless-hub' });
  const log = createLogger({ name: 'driftless-hub', level: f.logLevel });
  guardProcess(log);
  const hub = await startHub({
    dataDir: f.dataDir,
    grpcAddress: f.grpcAddress,
    httpAddress: f.httpAddress,
    store: f.store as 'sqlite' | 'postgres',
    databaseUrl: f.databaseUrl,
    caCertFile: f.caCertFile,
    caKeyFile: f.caKeyFile,
    tlsNames: f.tlsNames,
    clientCertTtlMs: f.clientCertTtl,
    tokenMaxTtlMs: f.tokenMaxTtl,
    maxSuspensionMs: f.maxSuspension,
    historyMaxAgeMs: f.historyMaxAge,
    historyMaxPerApp: f.historyMaxPerApp,
    enrollMaxFailures: f.enrollMaxFailures,
    enrollFailureWindowMs: f.enrollFailureWindow,
    bootstrapTokenFile: f.bootstrapTokenFile,
    webhookSecret: f.webhookSecret,
    webhookSecretFile: f.webhookSecretFile,
    webhookReplayWindowMs: f.webhookReplayWindow,
    commitStatusLabel: f.commitStatusLabel,
    secretsKeyFile: f.secretsKeyFile,
    publicUrl: f.publicUrl,
    notifyDisconnectGraceMs: f.notifyDisconnectGrace,
    notifyRetryInitialMs: f.notifyRetryInitial,
    notifyMaxAttempts: f.notifyMaxAttempts,
    allowPrivateDestinations: f.allowPrivateDestinations,
    trustedProxies: f.trustedProxies,
    apiMaxFailures: f.apiMaxFailures,
    sseMaxStreams: f.sseMaxStreams,
    sseMaxStreamsPerToken: f.sseMaxStreamsPerToken,
    sseMaxBufferBytes: f.sseMaxBuffer,
    ingestBatchMax: f.ingestBatchMax,
    natsUrl: f.natsUrl || undefined,
    dashboard: {
      commitUrlTemplate: f.commitUrlTemplate,
      traceUrlTemplate: f.traceUrlTemplate,
      agentHubAddress: f.agentHubAddress,
    },
    log,
  });
  process.stdout.write(
    JSON.stringify({
      event: 'listening',
      grpc: hub.grpcAddress,
      http: hub.httpUrl,
      store: f.store,
    }) + '\n',
  );
  if (hub.bootstrapToken) {
    // Printed once, on stdout only (never logged): the store keeps only its hash.
    process.stdout.write(
      JSON.stringify({ event: 'bootstrap-admin-token', token: hub.bootstrapToken }) + '\n',
    );
    process.stderr.write(
      'driftless-hub: first start: the bootstrap admin API token was printed on stdout; store it now, it is not shown again.\n',
    );
  }
  log.info({ grpc: hub.grpcAddress, http: hub.httpUrl, store: f.store }, 'hub started');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await hub.close();
  await telemetry.shutdown().catch(() => undefined);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`driftless-hub: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
