/**
 * The agent's bootstrap flags: just enough to find the repository, the
 * cluster's path in it, and the hub. Everything else a cluster runs is in Git
 * (`driftless.yaml`). Each flag has an environment variable (DRIFTLESS_…), and
 * the agent Helm chart's values map to them one to one.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flagEnvName, type FlagSpec, type FlagValues } from '@driftless/common';

/** Prefix of the agent's environment variables: `--repo-url` is `DRIFTLESS_REPO_URL`. */
export const AGENT_ENV_PREFIX = 'DRIFTLESS';

/** The agent's flags, for `parseFlags(agentFlags, argv, { envPrefix: AGENT_ENV_PREFIX })`. */
export const agentFlags = {
  repoUrl: {
    type: 'string',
    default: '',
    help: 'The http(s) URL of the Git repository that holds the desired state of this cluster; required, and without credentials in it.',
  },
  branch: {
    type: 'string',
    default: 'main',
    help: 'The branch of the repository the agent follows.',
  },
  clusterName: {
    type: 'string',
    default: '',
    help: 'The name of this cluster in the fleet, a DNS label; required, and the identity the hub knows the cluster by.',
  },
  clusterPath: {
    type: 'string',
    default: '',
    help: "The folder in the repository that holds this cluster's driftless.yaml; empty means clusters/<cluster-name>.",
  },
  gitUsername: {
    type: 'string',
    default: '',
    help: 'The user name for HTTP basic auth to the Git server; empty with a password or token means "git".',
  },
  gitPassword: {
    type: 'string',
    default: '',
    help: 'The password or access token for the Git server; set it through the environment, since other processes can read command lines.',
  },
  gitCredentialsFile: {
    type: 'string',
    default: '',
    help: 'A file holding "username:password" or just an access token for the Git server, such as a mounted Secret; used instead of --git-password.',
  },
  stateNamespace: {
    type: 'string',
    default: 'driftless-system',
    help: 'The namespace where the agent keeps its inventories, its identity and its Events.',
  },
  pollInterval: {
    type: 'duration',
    default: 60_000,
    help: 'How often the agent asks Git whether the branch moved; each check is one small request, and hub refresh hints come sooner.',
  },
  resyncInterval: {
    type: 'duration',
    default: 10 * 60_000,
    help: "How long after a sync an app is planned again when neither Git nor the cluster's APIs moved (a periodic full resync; drift in between is caught by the watches).",
  },
  workDir: {
    type: 'string',
    default: join(tmpdir(), 'driftless-agent'),
    help: 'The folder where checkouts live and survive restarts; in a container mount a volume such as /var/lib/driftless here.',
  },
  kubeconfig: {
    type: 'string',
    default: '',
    help: "The kubeconfig file to reach the cluster with; empty means the pod's service account in a cluster, else $KUBECONFIG or ~/.kube/config.",
  },
  hubAddress: {
    type: 'string',
    default: '',
    help: 'The address (host:port) of the hub the agent reports to; empty runs the agent standalone, reporting only in logs and Events.',
  },
  enrollmentToken: {
    type: 'string',
    default: '',
    help: 'The single-use token from "driftless token create" that enrolls this cluster with the hub on first start; set it through the environment.',
  },
  hubCaFile: {
    type: 'string',
    default: '',
    help: "A PEM file holding the hub's CA certificate (the hub's ca.crt, given out of band), trusted to check the hub while enrolling; after enrollment the CA bundle stored with the agent's identity is used.",
  },
  hubServerName: {
    type: 'string',
    default: '',
    help: "The name to check the hub's TLS certificate against, when it differs from the host of --hub-address (for example when dialing an IP address or a tunnel); empty means that host.",
  },
  transport: {
    type: 'string',
    default: 'grpc',
    help: 'How the agent reports to the hub after enrolling: grpc (one mutual-TLS stream to --hub-address) or nats (through the NATS servers of --nats-url, with credentials issued at enrollment; enrollment itself still goes to --hub-address).',
  },
  natsUrl: {
    type: 'string',
    default: '',
    help: 'NATS server URLs, comma-separated (for example nats://nats.example.com:4222), used with --transport nats.',
  },
  clusterLabels: {
    type: 'list',
    default: [],
    help: 'Labels of this cluster as key=value pairs separated by commas (for example env=prod,region=eu), sent to the hub at enrollment and on every connect to group and select clusters.',
  },
  reportBufferSize: {
    type: 'number',
    default: 10_000,
    help: 'How many reports the agent keeps for the hub while it is unreachable; beyond it the oldest sync results and drift reports are summarised in one message, and the latest status of every app is always kept.',
  },
  metricsAddress: {
    type: 'string',
    default: '',
    help: 'Where to serve Prometheus metrics at /metrics, as host:port or :port (e.g. :9464); empty serves none.',
  },
  logLevel: {
    type: 'string',
    default: 'info',
    help: 'The minimum level of log lines: trace, debug, info, warn, error, fatal or silent.',
  },
  healthTimeout: {
    type: 'duration',
    default: 5 * 60_000,
    help: 'How long a sync waits for an app to become Healthy when its driftless.yaml entry sets no healthTimeout.',
  },
  treeDeadline: {
    type: 'duration',
    default: 5_000,
    help: "The longest the agent takes to read an app's live object tree for the hub; past it the agent answers with what it has read, marked partial, and a request may ask for less.",
  },
  applyConcurrency: {
    type: 'number',
    default: 8,
    help: 'How many objects of one sync wave the agent applies to the API server at once.',
  },
  appConcurrency: {
    type: 'number',
    default: 16,
    help: "How many apps the agent renders, plans and applies at once; the others wait their turn. An app waiting for its objects' health holds no place, so a slow rollout holds no other app up. Bounds the agent's memory when many apps sync together (a cold start).",
  },
  gitMaxFetchBytes: {
    type: 'number',
    default: 512 * 1024 * 1024,
    help: 'The most bytes the agent reads from the Git server for one ref lookup or clone; a larger or endless answer fails the fetch and the last good checkout stays in use.',
  },
  renderMaxFileBytes: {
    type: 'number',
    default: 16 * 1024 * 1024,
    help: 'The largest single file a render reads from the checkout (a manifest, values file or chart file); a larger one fails the app with an error naming it, before it is parsed.',
  },
  renderMaxBytes: {
    type: 'number',
    default: 64 * 1024 * 1024,
    help: "The largest rendered output of one app (plain files together, or kustomize's or helm's output, or a downloaded chart); past it the render fails.",
  },
  renderMaxObjects: {
    type: 'number',
    default: 5000,
    help: 'The most objects one app may render; more fails the app before anything is planned.',
  },
  chartCacheDir: {
    type: 'string',
    default: '',
    help: 'The folder where charts downloaded from Helm repositories and OCI registries are kept across syncs; empty means charts/ in --work-dir.',
  },
  chartPlainHttpRegistries: {
    type: 'list',
    default: [],
    help: 'OCI registries (host:port, comma-separated) that chart dependencies are pulled from over plain HTTP, such as a registry inside the cluster network; an app sets helm.chart.plainHttp for its own chart.',
  },
  chartCredentialsDir: {
    type: 'string',
    default: '',
    help: 'A folder of files holding username:password for chart repositories, named by helm.chart.credentials.file in driftless.yaml (mount a Secret here); empty turns credential files off.',
  },
  commitSigningKeysFile: {
    type: 'string',
    default: '',
    help: 'A file (or a folder of files, such as a mounted Secret) of public keys allowed to sign commits: armored OpenPGP keys and SSH public-key or allowed-signers lines; when set, the agent applies only commits signed by one of them.',
  },
  commitSigningKeysSecret: {
    type: 'string',
    default: '',
    help: 'A Secret in the state namespace whose values are public keys allowed to sign commits (as for --commit-signing-keys-file), read again for every new commit; when set, the agent applies only commits signed by one of them.',
  },
} satisfies FlagSpec;

/** Parsed values of {@link agentFlags}. */
export type AgentFlagValues = FlagValues<typeof agentFlags>;

/** `--repo-url (DRIFTLESS_REPO_URL)`: how problems name a flag, for flag and env users alike. */
export function flag(name: keyof typeof agentFlags): string {
  const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return `--${kebab} (${flagEnvName(AGENT_ENV_PREFIX, name)})`;
}
