import type { Clock, FlagSpec, Logger } from '@driftless/common';
import { systemClock } from '@driftless/common';
import { API_SERVER_DEFAULTS, EVENT_STREAM_DEFAULTS, type DashboardConfig } from './api/index.ts';
import { DEFAULT_WEBHOOK_MAX_BODY_BYTES, DELIVERY_LOG_DEFAULTS } from './webhook/index.ts';
import { HISTORY_RETENTION_DEFAULTS } from './store/index.ts';
import { NOTIFIER_DEFAULTS } from './notify/index.ts';
import { INGEST_BATCH_DEFAULTS } from './link/ingest-batch.ts';

/** Options of `startHub`; `driftless-hub` fills them from its flags ({@link HUB_FLAGS}). */
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
  /** Names in the gRPC server certificate. */
  tlsNames?: string[];
  /** Client certificate validity, ms. */
  clientCertTtlMs?: number;
  /** Longest enrollment token lifetime, ms. */
  tokenMaxTtlMs?: number;
  /** Longest break-glass pause (`driftless suspend`), ms. */
  maxSuspensionMs?: number;
  /** Sync history older than this is deleted, ms (0 keeps it by age). */
  historyMaxAgeMs?: number;
  /** Sync history entries kept per app (0 keeps them all). */
  historyMaxPerApp?: number;
  /** Enrollment failures per address per window. */
  enrollMaxFailures?: number;
  /** The window of `enrollMaxFailures`, ms. */
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
  /**
   * File holding the key (base64 or hex of 32 bytes) that encrypts stored
   * secrets (notification webhook URLs, tokens); '' creates `secrets.key` in
   * the data directory (SQLite only: PostgreSQL replicas must share a file).
   */
  secretsKeyFile?: string;
  /**
   * Cluster label whose value groups clusters into one Git commit-status context
   * (`driftless/<label>:<value>`); '' posts one status per cluster (`driftless/<cluster>`).
   */
  commitStatusLabel?: string;
  /** The dashboard's public base URL, linked from notifications; '' leaves those links out. */
  publicUrl?: string;
  /** A cluster without an agent stream this long is announced disconnected, ms. */
  notifyDisconnectGraceMs?: number;
  /** Delay before the first retry of a failed notification (doubling per attempt), ms. */
  notifyRetryInitialMs?: number;
  /** Attempts before a notification delivery is given up. */
  notifyMaxAttempts?: number;
  /**
   * Non-public addresses (CIDR ranges, addresses, host names, `*.suffix`) notification
   * destinations and Git commit-status hosts may point at; empty: public addresses only.
   */
  allowPrivateDestinations?: string[];
  /** Largest webhook body accepted, bytes. */
  webhookMaxBodyBytes?: number;
  /** How long a webhook delivery id is remembered to refuse replays, ms. */
  webhookReplayWindowMs?: number;
  /** Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client. */
  trustedProxies?: string[];
  /** Failed API-token checks per client address per window. */
  apiMaxFailures?: number;
  /** Event streams (SSE) open at most, in total. */
  sseMaxStreams?: number;
  /** Event streams (SSE) open at most per API token. */
  sseMaxStreamsPerToken?: number;
  /** Bytes an event stream may have unsent before its reader is dropped. */
  sseMaxBufferBytes?: number;
  /** Most agent reports committed in one transaction (group commit); 1: one per report. */
  ingestBatchMax?: number;
  log: Logger;
  clock?: Clock;
}

/** Every optional {@link HubOptions} field, resolved. */
export type ResolvedHubOptions = Required<
  Omit<HubOptions, 'databaseUrl' | 'natsUrl' | 'dashboard'>
> &
  Pick<HubOptions, 'databaseUrl' | 'natsUrl'> & {
    dashboard: Omit<DashboardConfig, 'hubCaPem'>;
  };

/** The hub's defaults, set once: the flags and {@link resolveHubOptions} both use them. */
export const HUB_DEFAULTS = {
  dataDir: './driftless-data',
  grpcAddress: '0.0.0.0:7443',
  httpAddress: '0.0.0.0:7080',
  store: 'sqlite',
  tlsNames: ['localhost', '127.0.0.1', '::1'],
  clientCertTtlMs: 24 * 3_600_000,
  tokenMaxTtlMs: 7 * 24 * 3_600_000,
  maxSuspensionMs: 24 * 3_600_000,
  historyMaxAgeMs: HISTORY_RETENTION_DEFAULTS.maxAgeMs,
  historyMaxPerApp: HISTORY_RETENTION_DEFAULTS.maxPerApp,
  enrollMaxFailures: 5,
  enrollFailureWindowMs: 60_000,
  webhookMaxBodyBytes: DEFAULT_WEBHOOK_MAX_BODY_BYTES,
  webhookReplayWindowMs: DELIVERY_LOG_DEFAULTS.windowMs,
  trustedProxies: API_SERVER_DEFAULTS.trustedProxies,
  apiMaxFailures: API_SERVER_DEFAULTS.authMaxFailures,
  sseMaxStreams: EVENT_STREAM_DEFAULTS.maxStreams,
  sseMaxStreamsPerToken: EVENT_STREAM_DEFAULTS.maxStreamsPerToken,
  sseMaxBufferBytes: EVENT_STREAM_DEFAULTS.maxBufferedBytes,
  ingestBatchMax: INGEST_BATCH_DEFAULTS.maxReports,
  notifyDisconnectGraceMs: NOTIFIER_DEFAULTS.disconnectGraceMs,
  notifyRetryInitialMs: NOTIFIER_DEFAULTS.delivery.retryInitialMs,
  notifyMaxAttempts: NOTIFIER_DEFAULTS.delivery.maxAttempts,
  allowPrivateDestinations: [] as string[],
};

/** Fills every unset option from {@link HUB_DEFAULTS}; called once by `startHub`. */
export function resolveHubOptions(o: HubOptions): ResolvedHubOptions {
  const tlsNames = o.tlsNames ?? [...HUB_DEFAULTS.tlsNames];
  return {
    ...o,
    caCertFile: o.caCertFile ?? '',
    caKeyFile: o.caKeyFile ?? '',
    tlsNames,
    clientCertTtlMs: o.clientCertTtlMs ?? HUB_DEFAULTS.clientCertTtlMs,
    tokenMaxTtlMs: o.tokenMaxTtlMs ?? HUB_DEFAULTS.tokenMaxTtlMs,
    maxSuspensionMs: o.maxSuspensionMs ?? HUB_DEFAULTS.maxSuspensionMs,
    historyMaxAgeMs: o.historyMaxAgeMs ?? HUB_DEFAULTS.historyMaxAgeMs,
    historyMaxPerApp: o.historyMaxPerApp ?? HUB_DEFAULTS.historyMaxPerApp,
    enrollMaxFailures: o.enrollMaxFailures ?? HUB_DEFAULTS.enrollMaxFailures,
    enrollFailureWindowMs: o.enrollFailureWindowMs ?? HUB_DEFAULTS.enrollFailureWindowMs,
    bootstrapTokenFile: o.bootstrapTokenFile ?? '',
    dashboard: {
      commitUrlTemplate: o.dashboard?.commitUrlTemplate ?? '',
      traceUrlTemplate: o.dashboard?.traceUrlTemplate ?? '',
      agentHubAddress: o.dashboard?.agentHubAddress ?? '',
    },
    webDir: o.webDir ?? '',
    webhookSecret: o.webhookSecret ?? '',
    webhookSecretFile: o.webhookSecretFile ?? '',
    secretsKeyFile: o.secretsKeyFile ?? '',
    commitStatusLabel: o.commitStatusLabel ?? '',
    publicUrl: o.publicUrl ?? '',
    notifyDisconnectGraceMs: o.notifyDisconnectGraceMs ?? HUB_DEFAULTS.notifyDisconnectGraceMs,
    notifyRetryInitialMs: o.notifyRetryInitialMs ?? HUB_DEFAULTS.notifyRetryInitialMs,
    notifyMaxAttempts: o.notifyMaxAttempts ?? HUB_DEFAULTS.notifyMaxAttempts,
    allowPrivateDestinations: o.allowPrivateDestinations ?? [
      ...HUB_DEFAULTS.allowPrivateDestinations,
    ],
    webhookMaxBodyBytes: o.webhookMaxBodyBytes ?? HUB_DEFAULTS.webhookMaxBodyBytes,
    webhookReplayWindowMs: o.webhookReplayWindowMs ?? HUB_DEFAULTS.webhookReplayWindowMs,
    trustedProxies: o.trustedProxies ?? [...HUB_DEFAULTS.trustedProxies],
    apiMaxFailures: o.apiMaxFailures ?? HUB_DEFAULTS.apiMaxFailures,
    sseMaxStreams: o.sseMaxStreams ?? HUB_DEFAULTS.sseMaxStreams,
    sseMaxStreamsPerToken: o.sseMaxStreamsPerToken ?? HUB_DEFAULTS.sseMaxStreamsPerToken,
    sseMaxBufferBytes: o.sseMaxBufferBytes ?? HUB_DEFAULTS.sseMaxBufferBytes,
    ingestBatchMax: o.ingestBatchMax ?? HUB_DEFAULTS.ingestBatchMax,
    clock: o.clock ?? systemClock,
  };
}

/** Environment variable prefix of the hub's flags: `--data-dir` is `DRIFTLESS_HUB_DATA_DIR`. */
export const HUB_ENV_PREFIX = 'DRIFTLESS_HUB';

/** The flags of `driftless-hub`; the Helm chart's values map to them one to one. */
export const HUB_FLAGS = {
  dataDir: {
    type: 'string',
    default: HUB_DEFAULTS.dataDir,
    help: 'Directory for the SQLite database and the CA key and certificate (created with mode 0700).',
  },
  grpcAddress: {
    type: 'string',
    default: HUB_DEFAULTS.grpcAddress,
    help: 'Address (host:port) of the gRPC AgentService that agents enroll and connect to; port 0 picks a free port.',
  },
  httpAddress: {
    type: 'string',
    default: HUB_DEFAULTS.httpAddress,
    help: 'Address (host:port) of the HTTP API, /metrics, /healthz and /readyz; port 0 picks a free port.',
  },
  store: {
    type: 'string',
    default: HUB_DEFAULTS.store,
    help: 'Where fleet state lives: sqlite (a file in the data directory) or postgres (needs --database-url).',
  },
  databaseUrl: {
    type: 'string',
    default: '',
    help: 'PostgreSQL connection string, e.g. postgres://user:password@host:5432/driftless, used with --store postgres.',
  },
  caCertFile: {
    type: 'string',
    default: '',
    help: 'PEM certificate of an existing CA to use instead of the one created in the data directory (needs --ca-key-file).',
  },
  caKeyFile: {
    type: 'string',
    default: '',
    help: 'PEM (PKCS#8) private key of the CA given by --ca-cert-file.',
  },
  tlsNames: {
    type: 'list',
    default: [...HUB_DEFAULTS.tlsNames],
    help: 'DNS names and IP addresses the hub gRPC server certificate is valid for; add the name agents dial.',
  },
  clientCertTtl: {
    type: 'duration',
    default: HUB_DEFAULTS.clientCertTtlMs,
    help: 'Validity of client certificates issued to agents; agents renew over their stream before expiry.',
  },
  tokenMaxTtl: {
    type: 'duration',
    default: HUB_DEFAULTS.tokenMaxTtlMs,
    help: 'Longest lifetime a person may give an enrollment token.',
  },
  maxSuspension: {
    type: 'duration',
    default: HUB_DEFAULTS.maxSuspensionMs,
    help: 'Longest break-glass pause (driftless suspend) a person may ask for; a pause always ends.',
  },
  historyMaxAge: {
    type: 'duration',
    default: HUB_DEFAULTS.historyMaxAgeMs,
    help: 'Sync history (and healed drift, report gaps) older than this is deleted; 0 keeps it.',
  },
  historyMaxPerApp: {
    type: 'number',
    default: HUB_DEFAULTS.historyMaxPerApp,
    help: 'Sync history entries kept per app; older ones are deleted; 0 keeps them all.',
  },
  enrollMaxFailures: {
    type: 'number',
    default: HUB_DEFAULTS.enrollMaxFailures,
    help: 'Failed enrollments (bad, expired, used or wrong-cluster tokens) one address may make per window before it is refused.',
  },
  enrollFailureWindow: {
    type: 'duration',
    default: HUB_DEFAULTS.enrollFailureWindowMs,
    help: 'The window over which --enroll-max-failures is counted.',
  },
  natsUrl: {
    type: 'string',
    default: '',
    help: 'NATS server URLs, comma-separated (for example nats://nats:4222): enables the NATS link next to gRPC, for agents started with --transport nats, and the fan-out between hub replicas; the server must trust this hub (see driftless-hub nats-config). Empty leaves NATS off.',
  },
  bootstrapTokenFile: {
    type: 'string',
    default: '',
    help: 'Also write the bootstrap admin API token, created on first start, to this file (mode 0600), e.g. for a Kubernetes Secret.',
  },
  commitUrlTemplate: {
    type: 'string',
    default: '',
    help: 'Link from a revision in the dashboard to its commit, e.g. {repo}/commit/{revision}; placeholders {revision}, {repo} (the cluster repository URL without .git), {cluster} and {app}; empty shows revisions without a link.',
  },
  traceUrlTemplate: {
    type: 'string',
    default: '',
    help: 'Link from a sync trace id in the dashboard to a tracing UI, e.g. http://jaeger:16686/trace/{traceId} for Jaeger; empty shows trace ids without a link.',
  },
  agentHubAddress: {
    type: 'string',
    default: '',
    help: "The host:port agents dial to reach the gRPC port, shown in the dashboard's agent install commands; empty means the first --tls-names entry with the bound gRPC port.",
  },
  webhookSecret: {
    type: 'string',
    default: '',
    help: 'Shared secret of the Git webhook receiver (POST /api/v1/webhooks/git): the secret set on the GitHub, GitLab or Gitea webhook, at least 16 characters; empty (and no --webhook-secret-file) turns the receiver off. Prefer the file or the environment variable, which do not show in the process list.',
  },
  webhookSecretFile: {
    type: 'string',
    default: '',
    help: 'File holding the Git webhook secret (a trailing newline is ignored), e.g. a mounted Kubernetes Secret; used instead of --webhook-secret.',
  },
  secretsKeyFile: {
    type: 'string',
    default: '',
    help: 'File holding the key that encrypts stored secrets (notification webhook URLs and tokens, Git host tokens): 32 bytes as base64 or hex, e.g. from "openssl rand -base64 32". Empty creates secrets.key (mode 0600) in the data directory; required with --store postgres, where every replica needs the same key.',
  },
  commitStatusLabel: {
    type: 'string',
    default: '',
    help: 'Cluster label (e.g. env) whose value groups clusters into one Git commit status per commit, with context driftless/<label>:<value>; empty posts one status per cluster, with context driftless/<cluster>. Hosts and tokens are set with driftless commit-status (docs/commit-status.md).',
  },
  publicUrl: {
    type: 'string',
    default: '',
    help: 'The address people open the dashboard at, e.g. https://driftless.example.com; notifications and Git commit statuses link to its cluster and app pages. Empty leaves dashboard links out of both.',
  },
  notifyDisconnectGrace: {
    type: 'duration',
    default: HUB_DEFAULTS.notifyDisconnectGraceMs,
    help: 'How long a cluster may be without an agent stream (on any hub replica) before a cluster.disconnected notification is sent; short outages and agent restarts within it send nothing.',
  },
  notifyRetryInitial: {
    type: 'duration',
    default: HUB_DEFAULTS.notifyRetryInitialMs,
    help: 'Delay before the first retry of a notification a destination failed (network error, HTTP 5xx or 429); it doubles per attempt up to 5 minutes.',
  },
  notifyMaxAttempts: {
    type: 'number',
    default: HUB_DEFAULTS.notifyMaxAttempts,
    help: 'Attempts at delivering one notification before it is logged as failed for good.',
  },
  allowPrivateDestinations: {
    type: 'list',
    default: [...HUB_DEFAULTS.allowPrivateDestinations],
    help: 'Non-public addresses notification destinations (Slack, Teams, webhook, Alertmanager URLs) and Git commit-status hosts may point at: CIDR ranges (10.0.0.0/8, fd00::/8), addresses, host names (alertmanager.monitoring.svc) or *.suffix (*.corp.example). Empty (default) sends only to public addresses: loopback, link-local (cloud metadata), private, carrier-grade NAT, unique-local and reserved addresses are refused, also when a name resolves to one.',
  },
  webhookReplayWindow: {
    type: 'duration',
    default: HUB_DEFAULTS.webhookReplayWindowMs,
    help: 'How long the webhook receiver remembers a delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID, X-Gitea-Delivery): a signed delivery replayed within it is answered but not acted on again.',
  },
  trustedProxies: {
    type: 'list',
    default: [...HUB_DEFAULTS.trustedProxies],
    help: 'Addresses or CIDR ranges of reverse proxies in front of the HTTP API whose X-Forwarded-For header names the client (for the failed-token limit and logs); empty trusts no header and uses the connecting address.',
  },
  apiMaxFailures: {
    type: 'number',
    default: HUB_DEFAULTS.apiMaxFailures,
    help: 'Failed API-token checks one client address may make per minute before further failures are answered 429; a valid token is always accepted.',
  },
  sseMaxStreams: {
    type: 'number',
    default: HUB_DEFAULTS.sseMaxStreams,
    help: 'Event streams (GET /api/v1/events) the hub serves at once; more are answered 429.',
  },
  sseMaxStreamsPerToken: {
    type: 'number',
    default: HUB_DEFAULTS.sseMaxStreamsPerToken,
    help: 'Event streams one API token may hold open at once; more are answered 429.',
  },
  sseMaxBuffer: {
    type: 'number',
    default: HUB_DEFAULTS.sseMaxBufferBytes,
    help: 'Bytes of events an event stream may have unsent; a reader slower than that is disconnected (it reconnects and re-reads) instead of the hub buffering without bound.',
  },
  ingestBatchMax: {
    type: 'number',
    default: HUB_DEFAULTS.ingestBatchMax,
    help: 'Most agent reports committed in one transaction: reports arriving together, from any agents, share one commit and each is acked after it; 1 commits every report alone.',
  },
  logLevel: {
    type: 'string',
    default: 'info',
    env: 'LOG_LEVEL',
    help: 'Minimum log level: trace, debug, info, warn, error or silent.',
  },
} satisfies FlagSpec;
