import { readFile, writeFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { errorMessage, TerminalError, type Clock, type Logger } from '@driftless/common';
import { ApiServer, apiRoutes, EventStreams, webRoutes, type RouteDeps } from './api/index.ts';
import { resolveHubOptions, type HubOptions, type ResolvedHubOptions } from './config.ts';
import {
  CertificateAuthority,
  Enroller,
  FailureLimiter,
  mintToken,
  NatsAuthority,
} from './enroll/index.ts';
import { startCommitStatus, type CommitStatusService } from './commit-status/index.ts';
import { EventBus } from './events.ts';
import {
  IngestBatcher,
  isNatsSession,
  LinkServer,
  NatsLink,
  readiness,
  SessionRegistry,
  TreeRequests,
} from './link/index.ts';
import { createMetrics, observeFleet, type HubMetrics } from './metrics.ts';
import { checkListenAddresses, listenError } from './listen.ts';
import { HistoryRetention, openStore, type Store } from './store/index.ts';
import { Notifier } from './notify/index.ts';
import { AllowListError, OutboundGuard } from './outbound/index.ts';
import { loadSecretBox, type SecretBox } from './secrets/index.ts';
import { hintAgents, webhookRoutes, type PushEvent } from './webhook/index.ts';

export type { HubOptions } from './config.ts';

/** A running hub. */
export interface Hub {
  /** host:port the gRPC server is bound to. */
  grpcAddress: string;
  /** Base URL of the HTTP API. */
  httpUrl: string;
  /** The admin API token created on first start (undefined on later starts): shown once. */
  bootstrapToken: string | undefined;
  /** Whether the CA was created by this start. */
  caCreated: boolean;
  /** PEM of the CA certificate (agents pin it). */
  caCertPem: string;
  store: Store;
  /** Encrypts and decrypts the secrets the hub stores (notification destinations, Git tokens). */
  secrets: SecretBox;
  /** Stops both servers and closes the store. */
  close(): Promise<void>;
}

/** The hub was configured wrongly (bad store kind, missing database URL). */
export class HubConfigError extends TerminalError {
  override name = 'HubConfigError';
}

/**
 * Starts the hub: store (migrated), CA, enrollment, the gRPC link and the HTTP
 * API, in that order, and creates the bootstrap admin token on first start.
 */
export async function startHub(options: HubOptions): Promise<Hub> {
  const o = resolveHubOptions(options);
  const { clock, log } = o;

  // Step 1: the store, migrated; no cluster has a stream to a hub that just started.
  if (o.store !== 'sqlite' && o.store !== 'postgres')
    throw new HubConfigError(`--store "${String(o.store)}": use sqlite or postgres`);
  if (o.store === 'postgres' && !o.databaseUrl)
    throw new HubConfigError(
      '--store postgres needs --database-url (or DRIFTLESS_HUB_DATABASE_URL)',
    );
  // Before anything is created or opened, so a taken port leaves nothing behind.
  await checkListenAddresses([
    { flag: '--grpc-address', address: o.grpcAddress },
    { flag: '--http-address', address: o.httpAddress },
  ]);
  const webhookSecret = await loadWebhookSecret(o);
  const guard = outboundGuard(o, log);
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  const secrets = await loadSecretBox({
    keyFile: o.secretsKeyFile,
    dataDir: o.dataDir,
    store: o.store,
  });
  if (secrets.created) log.info({ path: secrets.path }, 'created the secrets key');
  const store = await openStore(
    o.store === 'sqlite'
      ? { kind: 'sqlite', path: join(o.dataDir, 'hub.db') }
      : { kind: 'postgres', connectionString: o.databaseUrl! },
  );
  const retention = new HistoryRetention({
    store,
    maxAgeMs: o.historyMaxAgeMs,
    maxPerApp: o.historyMaxPerApp,
    log: o.log,
    clock: o.clock,
  });
  let commitStatus: CommitStatusService | undefined;
  try {
    await store.resetConnected();
    void retention.prune();

    // Step 2: the CA, created on first start or loaded.
    const { ca, created } = await CertificateAuthority.loadOrCreate({
      dataDir: o.dataDir,
      certFile: o.caCertFile || undefined,
      keyFile: o.caKeyFile || undefined,
      clock,
    });
    if (created) log.info({ dataDir: o.dataDir }, 'created a new hub CA');
    // The NATS trust chain too: enrollment issues NATS credentials to agents that ask,
    // whether or not this hub connects to NATS itself (another replica may).
    const nats = await NatsAuthority.loadOrCreate(o.dataDir);
    if (nats.created)
      log.info({ dataDir: o.dataDir }, 'created the NATS operator, account and signing keys');

    // Step 3: enrollment and the gRPC link.
    const metrics = createMetrics();
    observeFleet(metrics.registry, store);
    const events = new EventBus({
      onError: (err, event) =>
        log.warn({ event: event.type, err: errorMessage(err) }, 'an event subscriber failed'),
    });
    const notifier = new Notifier({
      store,
      events,
      box: secrets.box,
      links: {
        publicUrl: o.publicUrl,
        commitUrlTemplate: o.dashboard.commitUrlTemplate,
        traceUrlTemplate: o.dashboard.traceUrlTemplate,
      },
      disconnectGraceMs: o.notifyDisconnectGraceMs,
      delivery: { retryInitialMs: o.notifyRetryInitialMs, maxAttempts: o.notifyMaxAttempts },
      guard,
      log,
      clock,
    });
    const sessions = new SessionRegistry();
    const trees = new TreeRequests({
      sessions,
      connectedAnywhere: async (cluster) => (await store.getCluster(cluster))?.connected ?? false,
      log,
      clock,
    });
    const clientCertValidityMs = o.clientCertTtlMs;
    // Group commit of agents' reports, shared by gRPC and NATS; 8 transactions at once on
    // PostgreSQL (half its pool: on a durable server each waits for its WAL flush, and those
    // in flight together share one), one on SQLite (one writer).
    const ingestBatch =
      o.ingestBatchMax > 1
        ? new IngestBatcher({
            store,
            maxReports: o.ingestBatchMax,
            concurrency: o.store === 'postgres' ? 8 : 1,
          })
        : undefined;
    const enroller = new Enroller({
      store,
      ca,
      limiter: new FailureLimiter({
        maxFailures: o.enrollMaxFailures,
        windowMs: o.enrollFailureWindowMs,
        clock,
      }),
      clientCertValidityMs,
      nats: nats.auth,
      log,
      clock,
    });
    const link = new LinkServer({
      store,
      ca,
      enroller,
      sessions,
      events,
      metrics,
      log,
      clientCertValidityMs,
      serverNames: o.tlsNames,
      trees,
      ingestBatch,
      clock,
    });
    // Checked at the start, but another process may have taken it since.
    const grpcPort = await link.listen(o.grpcAddress).catch((err: unknown) => {
      throw listenError('--grpc-address', o.grpcAddress, err);
    });
    let natsLink: NatsLink | undefined;
    if (o.natsUrl) {
      try {
        natsLink = await NatsLink.start({
          servers: o.natsUrl,
          auth: nats.auth,
          store,
          ca,
          sessions,
          events,
          metrics,
          log,
          // NATS-linked agents were hinted by the replica that received the push.
          hintRelayedPush: (push) =>
            hintAgents(
              sessions,
              { ...push, repoKeys: new Set(push.repoKeys) },
              (s) => !isNatsSession(s),
            ),
          clientCertValidityMs,
          trees,
          ingestBatch,
          clock,
        });
      } catch (err) {
        await link.close(0);
        throw new HubConfigError(
          `--nats-url: cannot start the NATS link: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    const grpcHost = o.grpcAddress.slice(0, o.grpcAddress.lastIndexOf(':'));

    // Step 3b: Git commit statuses, decided from the reports and posted to the Git hosts.
    commitStatus = startCommitStatus({
      store,
      events,
      secrets: secrets.box,
      log,
      clock,
      labelKey: o.commitStatusLabel,
      dashboardUrl: o.publicUrl,
      guard,
    });

    // Step 4: the HTTP API: resources, the event streams, the dashboard and the webhook.
    let http: HttpApi;
    try {
      http = await startHttpApi(o, {
        store,
        secrets: secrets.box,
        sessions,
        link,
        trees,
        events,
        metrics,
        webhookSecret,
        caCertPem: ca.certPem,
        agentHubAddress:
          o.dashboard.agentHubAddress || `${o.tlsNames[0] ?? 'localhost'}:${grpcPort}`,
        relay:
          natsLink && ((push) => natsLink.relayPush({ ...push, repoKeys: [...push.repoKeys] })),
        natsLink,
        guard,
        notifications: { secrets: secrets.box, notifier },
      });
    } catch (err) {
      await natsLink?.close();
      await link.close(0);
      throw err;
    }

    // Step 5: notifications, derived from the events the link and the API publish.
    notifier.start();

    // Step 6: the first admin token, only when no API token exists at all.
    const bootstrapToken = await bootstrapAdmin(store, clock);
    if (bootstrapToken && o.bootstrapTokenFile)
      await writeFile(o.bootstrapTokenFile, bootstrapToken + '\n', { mode: 0o600 });

    return {
      grpcAddress: `${grpcHost || '0.0.0.0'}:${grpcPort}`,
      httpUrl: http.url,
      bootstrapToken,
      caCreated: created,
      caCertPem: ca.certPem,
      store,
      secrets: secrets.box,
      close: async () => {
        retention.stop();
        await commitStatus?.stop();
        await notifier.stop();
        await http.close();
        await natsLink?.close();
        await link.close();
        await store.close();
        await guard.close();
      },
    };
  } catch (err) {
    retention.stop();
    await commitStatus?.stop();
    await store.close().catch(() => undefined);
    throw err;
  }
}

/** The running HTTP API: its base URL, and how to stop it with its event streams. */
interface HttpApi {
  url: string;
  close(): Promise<void>;
}

/** What the HTTP API needs from the parts started before it. */
interface HttpApiDeps {
  store: Store;
  secrets: SecretBox;
  sessions: SessionRegistry;
  link: LinkServer;
  trees: TreeRequests;
  events: EventBus;
  metrics: HubMetrics;
  webhookSecret: string;
  caCertPem: string;
  agentHubAddress: string;
  relay: ((push: PushEvent) => void) | undefined;
  /** The NATS link, when the hub has one (readiness checks its connection). */
  natsLink: NatsLink | undefined;
  notifications: RouteDeps['notifications'];
  /** Which addresses notification destinations and Git hosts may point at. */
  guard: OutboundGuard;
}

/** The outbound guard of `--allow-private-destinations`; a bad entry is a config error. */
function outboundGuard(o: ResolvedHubOptions, log: Logger): OutboundGuard {
  let guard: OutboundGuard;
  try {
    guard = new OutboundGuard({ allow: o.allowPrivateDestinations });
  } catch (err) {
    if (err instanceof AllowListError)
      throw new HubConfigError(`--allow-private-destinations: ${err.message}`);
    throw err;
  }
  if (guard.allowed.length)
    log.info(
      { allowed: guard.allowed },
      'notification destinations and Git hosts may point at these non-public addresses',
    );
  return guard;
}

/** Names proxy-addr (behind Fastify's `trustProxy`) takes besides addresses and ranges. */
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** Refuses a `--trusted-proxies` entry that is not an address, a CIDR range or a known name. */
function checkTrustedProxies(proxies: string[]): void {
  for (const p of proxies) {
    const [address = '', bits, ...rest] = p.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    const ok =
      PROXY_NAMES.has(p) ||
      (family !== 0 &&
        rest.length === 0 &&
        (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits)));
    if (!ok)
      throw new HubConfigError(
        `--trusted-proxies "${p.slice(0, 60)}": use IP addresses, CIDR ranges (10.0.0.0/8) or loopback, linklocal, uniquelocal`,
      );
  }
}

/** Builds the HTTP API (resources, event streams, dashboard, webhook) and listens. */
async function startHttpApi(o: ResolvedHubOptions, d: HttpApiDeps): Promise<HttpApi> {
  const { clock, log } = o;
  checkTrustedProxies(o.trustedProxies);
  const streams = new EventStreams({
    events: d.events,
    log,
    limits: {
      maxStreams: o.sseMaxStreams,
      maxStreamsPerToken: o.sseMaxStreamsPerToken,
      maxBufferedBytes: o.sseMaxBufferBytes,
    },
  });
  const resources = apiRoutes(
    {
      ...d,
      log,
      maxTokenTtlMs: o.tokenMaxTtlMs,
      maxSuspensionMs: o.maxSuspensionMs,
      readiness: readiness({ store: d.store, nats: d.natsLink }),
      clock,
    },
    streams,
  );
  const dashboard = webRoutes({
    dir: o.webDir || undefined,
    config: { ...o.dashboard, agentHubAddress: d.agentHubAddress, hubCaPem: d.caCertPem },
  });
  // The Git webhook receiver: authenticated by its shared secret, not by API tokens.
  const webhook = webhookRoutes({
    secret: d.webhookSecret,
    sessions: d.sessions,
    store: d.store,
    metrics: d.metrics,
    log,
    maxBodyBytes: o.webhookMaxBodyBytes,
    replayWindowMs: o.webhookReplayWindowMs,
    relay: d.relay,
    clock,
  });
  const close = async () => {
    streams.close();
    await api?.close();
  };
  let api: ApiServer | undefined;
  try {
    api = await ApiServer.create({
      routes: [...resources, dashboard, webhook],
      store: d.store,
      metrics: d.metrics,
      log,
      limits: { trustedProxies: o.trustedProxies, authMaxFailures: o.apiMaxFailures },
    });
    const url = await api.listen(o.httpAddress).catch((err: unknown) => {
      throw listenError('--http-address', o.httpAddress, err);
    });
    return { url, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Shortest webhook secret accepted: a guessable one would let anyone trigger fleet-wide refreshes. */
const MIN_WEBHOOK_SECRET_LENGTH = 16;

/** The webhook secret from the flag or the file ('' when neither is set); never logged. */
async function loadWebhookSecret(o: ResolvedHubOptions): Promise<string> {
  if (o.webhookSecret && o.webhookSecretFile)
    throw new HubConfigError('give --webhook-secret or --webhook-secret-file, not both');
  let secret = o.webhookSecret;
  if (o.webhookSecretFile) {
    try {
      // Files written by `echo` or editors end in a newline that is not part of the secret.
      secret = (await readFile(o.webhookSecretFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new HubConfigError(
        `--webhook-secret-file ${o.webhookSecretFile}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  if (secret !== '' && secret.length < MIN_WEBHOOK_SECRET_LENGTH)
    throw new HubConfigError(
      `the webhook secret is shorter than ${MIN_WEBHOOK_SECRET_LENGTH} characters; make one with e.g. "openssl rand -hex 32"`,
    );
  if (o.webhookSecretFile && secret === '')
    throw new HubConfigError(`--webhook-secret-file ${o.webhookSecretFile}: the file is empty`);
  return secret;
}

/**
 * The process's last resort: an error no request handler caught (a listener-less 'error'
 * event, a rejected promise nobody awaited) is logged and the hub keeps serving, instead of
 * one request or one dependency fault ending the process for every agent and user.
 * Installed by `driftless-hub` only, not by `startHub`, so embedding programs keep their own.
 */
export function guardProcess(log: Logger): void {
  process.on('uncaughtException', (err, origin) =>
    log.error({ err, origin }, 'uncaught error; the hub keeps serving'),
  );
  process.on('unhandledRejection', (reason) =>
    log.error({ err: reason }, 'unhandled rejection; the hub keeps serving'),
  );
}

async function bootstrapAdmin(store: Store, clock: Clock): Promise<string | undefined> {
  if ((await store.countApiTokens()) > 0) return undefined;
  const t = mintToken('api');
  await store.createApiToken(
    {
      id: t.id,
      secretHash: t.secretHash,
      name: 'bootstrap-admin',
      role: 'admin',
      createdMs: clock.now(),
      createdBy: 'hub',
      revokedMs: 0,
    },
    {
      actor: 'hub (first start)',
      action: 'api-token.create',
      target: `api-token/${t.id}`,
      details: { role: 'admin' },
    },
  );
  return t.text;
}
