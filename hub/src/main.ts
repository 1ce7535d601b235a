import { readFile, writeFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, TerminalError, type Clock, type Logger } from '@driftless/common';
import { ApiServer, apiRoutes, webRoutes, type DashboardConfig } from './api/index.ts';
import {
  CertificateAuthority,
  Enroller,
  FailureLimiter,
  mintToken,
  NatsAuthority,
} from './enroll/index.ts';
import { EventBus } from './events.ts';
import { isNatsSession, LinkServer, NatsLink, readiness, SessionRegistry } from './link/index.ts';
import { createMetrics } from './metrics.ts';
import { HistoryRetention, openStore, type Store } from './store/index.ts';
import { hintAgents, webhookRoute } from './webhook/index.ts';

/** Options of {@link startHub}; `driftless-hub` fills them from its flags (see config.ts). */
export interface HubOptions {
  /** Holds hub.db (SQLite) and ca.crt/ca.key unless the CA comes from files. */
  dataDir: string;
  /** gRPC listen address, host:port. */
  grpcAddress: string;
  /** HTTP listen address, host:port. */
  httpAddress: string;
  /** `sqlite` (default) or `postgres`. */
  store: 'sqlite' | 'postgres';
  /** PostgreSQL connection string when `store` is `postgres`. */
  databaseUrl?: string;
  caCertFile?: string;
  caKeyFile?: string;
  /** Names in the gRPC server certificate. Default localhost, 127.0.0.1, ::1. */
  tlsNames?: string[];
  /** Client certificate validity. Default 24 h. */
  clientCertTtlMs?: number;
  /** Longest enrollment token lifetime. Default 7 days. */
  tokenMaxTtlMs?: number;
  /** Sync history retention by age (ms, 0 keeps) and count per app (0 keeps). */
  historyMaxAgeMs?: number;
  historyMaxPerApp?: number;
  /** Enrollment failures per address per window. Default 5. */
  enrollMaxFailures?: number;
  /** Default 1 minute. */
  enrollFailureWindowMs?: number;
  /**
   * NATS server URLs (comma-separated): enables the NATS link next to gRPC
   * (reports from the JetStream stream, hints and approvals to NATS-linked
   * agents) and hub-to-hub fan-out. The server must trust this hub's operator
   * (`driftless-hub nats-config`). Default: off.
   */
  natsUrl?: string;
  /** Where to also write the bootstrap admin token (mode 0600). */
  bootstrapTokenFile?: string;
  /** Dashboard links to commits and traces, and the address in agent install commands. */
  dashboard?: Partial<Omit<DashboardConfig, 'hubCaPem'>>;
  /** The built dashboard; default hub/web/dist. */
  webDir?: string;
  /**
   * Shared secret of the Git webhook receiver; '' (default) with no
   * `webhookSecretFile` leaves the receiver off (it answers 404).
   */
  webhookSecret?: string;
  /** File holding the webhook secret; a trailing newline is ignored. */
  webhookSecretFile?: string;
  /** Largest webhook body accepted, bytes. Default 4 MiB. */
  webhookMaxBodyBytes?: number;
  log: Logger;
  clock?: Clock;
}

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
export async function startHub(o: HubOptions): Promise<Hub> {
  const clock = o.clock ?? systemClock;
  const log = o.log;

  // Step 1: the store, migrated; no cluster has a stream to a hub that just started.
  if (o.store !== 'sqlite' && o.store !== 'postgres')
    throw new HubConfigError(`--store "${String(o.store)}": use sqlite or postgres`);
  if (o.store === 'postgres' && !o.databaseUrl)
    throw new HubConfigError(
      '--store postgres needs --database-url (or DRIFTLESS_HUB_DATABASE_URL)',
    );
  const webhookSecret = await loadWebhookSecret(o);
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore(
    o.store === 'sqlite'
      ? { kind: 'sqlite', path: join(o.dataDir, 'hub.db') }
      : { kind: 'postgres', connectionString: o.databaseUrl! },
  );
  const retention = new HistoryRetention({
    store,
    maxAgeMs: o.historyMaxAgeMs,
    maxPerApp: o.historyMaxPerApp,
    log,
    clock,
  });
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
    const events = new EventBus();
    const sessions = new SessionRegistry();
    const clientCertValidityMs = o.clientCertTtlMs ?? 24 * 3_600_000;
    const enroller = new Enroller({
      store,
      ca,
      limiter: new FailureLimiter({
        maxFailures: o.enrollMaxFailures ?? 5,
        windowMs: o.enrollFailureWindowMs ?? 60_000,
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
      serverNames: o.tlsNames ?? ['localhost', '127.0.0.1', '::1'],
      clock,
    });
    const grpcPort = await link.listen(o.grpcAddress);
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

    // Step 4: the HTTP API.
    // The dashboard: static files at / and its config endpoint.
    const dashboardRoutes = webRoutes({
      dir: o.webDir,
      config: {
        commitUrlTemplate: o.dashboard?.commitUrlTemplate ?? '',
        traceUrlTemplate: o.dashboard?.traceUrlTemplate ?? '',
        agentHubAddress:
          o.dashboard?.agentHubAddress ||
          `${(o.tlsNames ?? ['localhost'])[0] ?? 'localhost'}:${grpcPort}`,
        hubCaPem: ca.certPem,
      },
    });
    // The Git webhook receiver: authenticated by its shared secret, not by API tokens.
    const webhook = webhookRoute({
      secret: webhookSecret,
      sessions,
      store,
      metrics,
      log,
      maxBodyBytes: o.webhookMaxBodyBytes,
      relay: natsLink && ((push) => natsLink.relayPush({ ...push, repoKeys: [...push.repoKeys] })),
      clock,
    });
    const api = new ApiServer({
      routes: apiRoutes({
        store,
        sessions,
        link,
        events,
        metrics,
        log,
        maxTokenTtlMs: o.tokenMaxTtlMs ?? 7 * 24 * 3_600_000,
        readiness: readiness({ store, nats: natsLink }),
        clock,
      })
        .concat(dashboardRoutes)
        .concat(webhook),
      store,
      metrics,
      log,
    });
    let httpUrl: string;
    try {
      httpUrl = await api.listen(o.httpAddress);
    } catch (err) {
      await natsLink?.close();
      await link.close(0);
      throw err;
    }

    // Step 5: the first admin token, only when no API token exists at all.
    const bootstrapToken = await bootstrapAdmin(store, clock);
    if (bootstrapToken && o.bootstrapTokenFile)
      await writeFile(o.bootstrapTokenFile, bootstrapToken + '\n', { mode: 0o600 });

    return {
      grpcAddress: `${grpcHost || '0.0.0.0'}:${grpcPort}`,
      httpUrl,
      bootstrapToken,
      caCreated: created,
      caCertPem: ca.certPem,
      store,
      close: async () => {
        retention.stop();
        await api.close();
        await natsLink?.close();
        await link.close();
        await store.close();
      },
    };
  } catch (err) {
    retention.stop();
    await store.close().catch(() => undefined);
    throw err;
  }
}

/** Shortest webhook secret accepted: a guessable one would let anyone trigger fleet-wide refreshes. */
const MIN_WEBHOOK_SECRET_LENGTH = 16;

/** The webhook secret from the flag or the file ('' when neither is set); never logged. */
async function loadWebhookSecret(o: HubOptions): Promise<string> {
  if (o.webhookSecret && o.webhookSecretFile)
    throw new HubConfigError('give --webhook-secret or --webhook-secret-file, not both');
  let secret = o.webhookSecret ?? '';
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
