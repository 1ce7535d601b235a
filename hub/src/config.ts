import type { FlagSpec } from '@driftless/common';

/** Environment variable prefix of the hub's flags: `--data-dir` is `DRIFTLESS_HUB_DATA_DIR`. */
export const HUB_ENV_PREFIX = 'DRIFTLESS_HUB';

/** The flags of `driftless-hub`; the Helm chart's values map to them one to one. */
export const HUB_FLAGS = {
  dataDir: {
    type: 'string',
    default: './driftless-data',
    help: 'Directory for the SQLite database and the CA key and certificate (created with mode 0700).',
  },
  grpcAddress: {
    type: 'string',
    default: '0.0.0.0:7443',
    help: 'Address (host:port) of the gRPC AgentService that agents enroll and connect to; port 0 picks a free port.',
  },
  httpAddress: {
    type: 'string',
    default: '0.0.0.0:7080',
    help: 'Address (host:port) of the HTTP API, /metrics, /healthz and /readyz; port 0 picks a free port.',
  },
  store: {
    type: 'string',
    default: 'sqlite',
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
    default: ['localhost', '127.0.0.1', '::1'],
    help: 'DNS names and IP addresses the hub gRPC server certificate is valid for; add the name agents dial.',
  },
  clientCertTtl: {
    type: 'duration',
    default: 24 * 3_600_000,
    help: 'Validity of client certificates issued to agents; agents renew over their stream before expiry.',
  },
  tokenMaxTtl: {
    type: 'duration',
    default: 7 * 24 * 3_600_000,
    help: 'Longest lifetime a person may give an enrollment token.',
  },
  historyMaxAge: {
    type: 'duration',
    default: 90 * 86_400_000,
    help: 'Sync history (and healed drift, report gaps) older than this is deleted; 0 keeps it.',
  },
  historyMaxPerApp: {
    type: 'number',
    default: 1000,
    help: 'Sync history entries kept per app; older ones are deleted; 0 keeps them all.',
  },
  enrollMaxFailures: {
    type: 'number',
    default: 5,
    help: 'Failed enrollments (bad, expired, used or wrong-cluster tokens) one address may make per window before it is refused.',
  },
  enrollFailureWindow: {
    type: 'duration',
    default: 60_000,
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
  logLevel: {
    type: 'string',
    default: 'info',
    env: 'LOG_LEVEL',
    help: 'Minimum log level: trace, debug, info, warn, error or silent.',
  },
} satisfies FlagSpec;
