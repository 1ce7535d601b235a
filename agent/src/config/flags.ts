/**
 * The agent's bootstrap flags: just enough to find the repository, the
 * cluster's path in it, and the hub. Everything else a cluster runs is in Git
 * (`driftless.yaml`). Each flag has an environment variable (DRIFTLESS_…), and
 * the agent Helm chart's values map to them one to one.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import posixPath from 'node:path/posix';
import {
  DNS_SUBDOMAIN,
  flagEnvName,
  isDnsLabel,
  isLabelKey,
  isLabelValue,
  redactUrl,
  TerminalError,
  type FlagSpec,
  type FlagValues,
} from '@driftless/common';
import type { GitAuth } from '../source/index.ts';

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
  applyConcurrency: {
    type: 'number',
    default: 8,
    help: 'How many objects of one sync wave the agent applies to the API server at once.',
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

/**
 * The agent's options, compiled from its flags: validated, defaults derived,
 * durations in ms, credentials loaded. Holds secrets (`gitAuth`,
 * `enrollmentToken`): log it only through {@link redactAgentOptions}.
 */
export interface AgentFlags {
  /** Repository URL, without credentials. */
  repoUrl: string;
  /** Branch followed. */
  branch: string;
  /** This cluster's name, a DNS label. */
  clusterName: string;
  /** Folder of the cluster's `driftless.yaml`, relative to the repository root, normalized. */
  clusterPath: string;
  /** Git credentials, when any were given. */
  gitAuth: GitAuth | undefined;
  /** Namespace of the agent's own state. */
  stateNamespace: string;
  /** Interval between checks of the branch head. */
  pollIntervalMs: number;
  /** Absolute work directory for checkouts. */
  workDir: string;
  /** Kubeconfig path; undefined means in-cluster, else the client's default lookup. */
  kubeconfig: string | undefined;
  /** Hub address; undefined runs standalone. */
  hubAddress: string | undefined;
  /** Enrollment token for the first start; undefined when already enrolled or standalone. */
  enrollmentToken: string | undefined;
  /** PEM of the hub CA from --hub-ca-file; undefined when not given. */
  hubCaPem: string | undefined;
  /** TLS name override for the hub; undefined means the host of the address. */
  hubServerName: string | undefined;
  /** The link's transport after enrollment. */
  transport: 'grpc' | 'nats';
  /** NATS server URLs (comma-separated) for `transport: 'nats'`; undefined otherwise. */
  natsUrl: string | undefined;
  /** Cluster labels sent in Enroll and Hello. */
  clusterLabels: Record<string, string>;
  /** Bound of the report buffer towards the hub. */
  reportBufferSize: number;
  /** pino log level. */
  logLevel: string;
  /** Health timeout of apps that set none. */
  healthTimeoutMs: number;
  /** Parallel applies per wave. */
  applyConcurrency: number;
  /** Most bytes read from Git for one ref lookup or clone. */
  gitMaxFetchBytes: number;
  /** Size and count limits of every render. */
  renderLimits: { maxFileBytes: number; maxRenderBytes: number; maxObjects: number };
  /** Absolute folder of downloaded charts. */
  chartCacheDir: string;
  /** Folder of chart credential files; '' means off. */
  chartCredentialsDir: string;
  /** OCI registries reached over plain HTTP for chart dependencies. */
  chartPlainHttpRegistries: string[];
  /** Where the allowed commit signing keys come from; undefined: commits are not verified. */
  commitSigningKeys: { file: string } | { secret: string } | undefined;
}

/**
 * The options are unusable. Lists every problem; never contains a secret.
 * Terminal: the agent exits with it at start-up.
 */
export class AgentOptionsError extends TerminalError {
  override name = 'AgentOptionsError';
  /** One sentence per problem, each naming the flag and its environment variable. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? `invalid agent options: ${problems[0] ?? ''}`
        : `invalid agent options:\n  - ${problems.join('\n  - ')}`,
    );
    this.problems = problems;
  }
}

/** I/O of {@link resolveAgentOptions}, replaceable in tests. */
export interface ResolveAgentOptionsIo {
  /** Reads the credentials file. Default fs.readFileSync as UTF-8. */
  readFile?: (path: string) => string;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
/** Below this, polling would load the Git server for no benefit; hub hints cover urgency. */
const MIN_POLL_MS = 1000;
/** The user name sent with a bare token; GitHub, GitLab, Gitea and Azure DevOps ignore it. */
const TOKEN_USERNAME = 'git';

/** `--repo-url (DRIFTLESS_REPO_URL)`: how problems name a flag, for flag and env users alike. */
function flag(name: keyof typeof agentFlags): string {
  const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return `--${kebab} (${flagEnvName(AGENT_ENV_PREFIX, name)})`;
}

/**
 * Validates the parsed flags and compiles them into {@link AgentFlags}.
 * Throws {@link AgentOptionsError} listing every problem.
 */
export function resolveAgentOptions(
  values: AgentFlagValues,
  io: ResolveAgentOptionsIo = {},
): AgentFlags {
  const problems: string[] = [];
  const v = {
    ...values,
    repoUrl: values.repoUrl.trim(),
    branch: values.branch.trim(),
    clusterName: values.clusterName.trim(),
    clusterPath: values.clusterPath.trim(),
  };

  if (v.repoUrl === '') {
    problems.push(`${flag('repoUrl')} is required: the Git repository to follow`);
  } else {
    let url: URL | undefined;
    try {
      url = new URL(v.repoUrl);
    } catch {
      problems.push(`${flag('repoUrl')} is not a URL`);
    }
    if (url && url.protocol !== 'https:' && url.protocol !== 'http:') {
      problems.push(`${flag('repoUrl')} must be an http(s) URL, got ${url.protocol}`);
    } else if (url && (url.username || url.password)) {
      problems.push(
        `${flag('repoUrl')} must not contain credentials (${redactUrl(v.repoUrl)}): use ${flag('gitPassword')} or ${flag('gitCredentialsFile')}`,
      );
    }
  }

  if (!validBranch(v.branch)) {
    problems.push(`${flag('branch')} ${JSON.stringify(v.branch)} is not a valid branch name`);
  }

  if (v.clusterName === '') {
    problems.push(`${flag('clusterName')} is required: this cluster's name in the fleet`);
  } else if (!isDnsLabel(v.clusterName)) {
    problems.push(
      `${flag('clusterName')} ${JSON.stringify(v.clusterName)} must be a DNS label: at most 63 lowercase letters, digits and '-'`,
    );
  }

  // Derived here, not in the flag default, so the default follows --cluster-name.
  let clusterPath = v.clusterPath || `clusters/${v.clusterName}`;
  if (
    clusterPath.startsWith('/') ||
    clusterPath.includes('\\') ||
    clusterPath.split('/').includes('..')
  ) {
    problems.push(
      `${flag('clusterPath')} ${JSON.stringify(clusterPath)} must be relative to the repository root, without '..'`,
    );
  } else {
    clusterPath = posixPath.normalize(clusterPath).replace(/\/$/, '');
  }

  const gitAuth = loadGitAuth(v, io, problems);

  if (!isDnsLabel(v.stateNamespace)) {
    problems.push(
      `${flag('stateNamespace')} ${JSON.stringify(v.stateNamespace)} must be a namespace name (a DNS label)`,
    );
  }
  if (!(v.pollInterval >= MIN_POLL_MS)) {
    problems.push(`${flag('pollInterval')} must be at least 1s`);
  }
  if (v.workDir.trim() === '') problems.push(`${flag('workDir')} must not be empty`);
  if (!LOG_LEVELS.includes(v.logLevel)) {
    problems.push(
      `${flag('logLevel')} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(v.logLevel)}`,
    );
  }
  if (!(v.healthTimeout > 0)) problems.push(`${flag('healthTimeout')} must be positive`);
  for (const name of [
    'gitMaxFetchBytes',
    'renderMaxFileBytes',
    'renderMaxBytes',
    'renderMaxObjects',
  ] as const) {
    if (!Number.isInteger(v[name]) || v[name] < 1)
      problems.push(`${flag(name)} must be a whole number of at least 1, got ${v[name]}`);
  }
  if (!Number.isInteger(v.applyConcurrency) || v.applyConcurrency < 1) {
    problems.push(
      `${flag('applyConcurrency')} must be a whole number of at least 1, got ${v.applyConcurrency}`,
    );
  }

  const hubCaPem = loadHubCa(v.hubCaFile.trim(), io, problems);
  const clusterLabels = parseLabels(v.clusterLabels, problems);
  if (!Number.isInteger(v.reportBufferSize) || v.reportBufferSize < 100) {
    problems.push(
      `${flag('reportBufferSize')} must be a whole number of at least 100, got ${v.reportBufferSize}`,
    );
  }
  if (v.hubAddress.trim() !== '' && !/^[^\s/]+:\d{1,5}$/.test(v.hubAddress.trim())) {
    problems.push(
      `${flag('hubAddress')} ${JSON.stringify(v.hubAddress.trim())} must be host:port (for example hub.example.com:7443)`,
    );
  }
  if (v.transport !== 'grpc' && v.transport !== 'nats')
    problems.push(`${flag('transport')} must be grpc or nats, got ${JSON.stringify(v.transport)}`);
  if (v.transport === 'nats' && (v.natsUrl.trim() === '' || v.hubAddress.trim() === ''))
    problems.push(
      `${flag('transport')} nats needs ${flag('natsUrl')} and ${flag('hubAddress')} (enrollment goes to the hub)`,
    );

  const keysFile = v.commitSigningKeysFile.trim();
  const keysSecret = v.commitSigningKeysSecret.trim();
  if (keysFile && keysSecret)
    problems.push(
      `${flag('commitSigningKeysFile')} and ${flag('commitSigningKeysSecret')} are exclusive: give the keys one way`,
    );
  if (keysSecret && !DNS_SUBDOMAIN.test(keysSecret))
    problems.push(
      `${flag('commitSigningKeysSecret')} ${JSON.stringify(keysSecret)} is not a Secret name`,
    );

  if (problems.length > 0) throw new AgentOptionsError(problems);
  return {
    repoUrl: v.repoUrl.replace(/\/+$/, ''),
    branch: v.branch,
    clusterName: v.clusterName,
    clusterPath,
    gitAuth,
    stateNamespace: v.stateNamespace,
    pollIntervalMs: v.pollInterval,
    workDir: resolve(v.workDir),
    kubeconfig: v.kubeconfig.trim() || undefined,
    hubAddress: v.hubAddress.trim() || undefined,
    enrollmentToken: v.enrollmentToken.trim() || undefined,
    hubCaPem,
    hubServerName: v.hubServerName.trim() || undefined,
    transport: v.transport as 'grpc' | 'nats',
    natsUrl: v.transport === 'nats' ? v.natsUrl.trim() : undefined,
    clusterLabels,
    reportBufferSize: v.reportBufferSize,
    logLevel: v.logLevel,
    healthTimeoutMs: v.healthTimeout,
    applyConcurrency: v.applyConcurrency,
    gitMaxFetchBytes: v.gitMaxFetchBytes,
    renderLimits: {
      maxFileBytes: v.renderMaxFileBytes,
      maxRenderBytes: v.renderMaxBytes,
      maxObjects: v.renderMaxObjects,
    },
    chartCacheDir: resolve(v.chartCacheDir.trim() || join(v.workDir, 'charts')),
    chartCredentialsDir: v.chartCredentialsDir.trim(),
    chartPlainHttpRegistries: v.chartPlainHttpRegistries,
    commitSigningKeys: keysFile
      ? { file: resolve(keysFile) }
      : keysSecret
        ? { secret: keysSecret }
        : undefined,
  };
}

/**
 * Git credentials from the password flag or the credentials file. Problems
 * name the flag and the file, never the content.
 */
function loadGitAuth(
  v: AgentFlagValues,
  io: ResolveAgentOptionsIo,
  problems: string[],
): GitAuth | undefined {
  const username = v.gitUsername.trim();
  if (v.gitPassword !== '' && v.gitCredentialsFile !== '') {
    problems.push(`set either ${flag('gitPassword')} or ${flag('gitCredentialsFile')}, not both`);
    return undefined;
  }
  if (v.gitPassword !== '')
    return { username: username || TOKEN_USERNAME, password: v.gitPassword };
  if (v.gitCredentialsFile === '') {
    if (username !== '') {
      problems.push(
        `${flag('gitUsername')} is set but there is no password: set ${flag('gitPassword')} or ${flag('gitCredentialsFile')}`,
      );
    }
    return undefined;
  }
  const file = v.gitCredentialsFile;
  let text: string;
  try {
    text = (io.readFile ?? ((p) => readFileSync(p, 'utf8')))(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    problems.push(
      `${flag('gitCredentialsFile')}: cannot read ${file}${typeof code === 'string' ? ` (${code})` : ''}`,
    );
    return undefined;
  }
  const content = text.trim();
  if (content === '') {
    problems.push(`${flag('gitCredentialsFile')}: ${file} is empty`);
    return undefined;
  }
  if (/[\r\n]/.test(content)) {
    problems.push(
      `${flag('gitCredentialsFile')}: ${file} must hold one line, "username:password" or a token`,
    );
    return undefined;
  }
  const colon = content.indexOf(':');
  if (colon < 0) return { username: username || TOKEN_USERNAME, password: content };
  const fileUser = content.slice(0, colon);
  const password = content.slice(colon + 1);
  if (fileUser === '' || password === '') {
    problems.push(
      `${flag('gitCredentialsFile')}: ${file} must hold "username:password" with both parts, or a token`,
    );
    return undefined;
  }
  return { username: fileUser, password };
}

/** The hub CA from --hub-ca-file: PEM certificates only, so a wrong file fails at start. */
function loadHubCa(
  file: string,
  io: ResolveAgentOptionsIo,
  problems: string[],
): string | undefined {
  if (file === '') return undefined;
  let text: string;
  try {
    text = (io.readFile ?? ((p) => readFileSync(p, 'utf8')))(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    problems.push(
      `${flag('hubCaFile')}: cannot read ${file}${typeof code === 'string' ? ` (${code})` : ''}`,
    );
    return undefined;
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push(`${flag('hubCaFile')}: ${file} holds no PEM certificate`);
    return undefined;
  }
  return text;
}

/** key=value pairs; keys and values as Kubernetes labels allow. */
function parseLabels(items: readonly string[], problems: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? '' : item.slice(0, eq).trim();
    const value = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (!isLabelKey(key) || !isLabelValue(value)) {
      problems.push(
        `${flag('clusterLabels')}: ${JSON.stringify(item)} is not a label key=value (letters, digits, '-', '_', '.')`,
      );
      continue;
    }
    labels[key] = value;
  }
  return labels;
}

/** Git's rules for a branch name (git check-ref-format), the ones a typo would break. */
function validBranch(b: string): boolean {
  return (
    b !== '' &&
    !b.startsWith('-') &&
    !b.startsWith('/') &&
    !b.endsWith('/') &&
    !b.endsWith('.') &&
    !b.endsWith('.lock') &&
    !b.includes('..') &&
    !b.includes('//') &&
    !b.includes('@{') &&
    // Control characters, space and ~^:?*[\ are never allowed in ref names.
    !/[\x00-\x20\x7f~^:?*[\\]/.test(b)
  );
}

/** A copy of `options` safe to log: secrets replaced by whether they are set. */
export function redactAgentOptions(options: AgentFlags): Record<string, unknown> {
  return {
    ...options,
    gitAuth: options.gitAuth
      ? { username: options.gitAuth.username, password: '[redacted]' }
      : undefined,
    enrollmentToken: options.enrollmentToken === undefined ? undefined : '[redacted]',
  };
}
