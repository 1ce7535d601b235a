/**
 * Compiles the agent's bootstrap flags (defined in `agent-flags.ts`) into
 * {@link AgentFlags}: validated, defaults derived, credentials loaded.
 */
import { join, resolve } from 'node:path';
import posixPath from 'node:path/posix';
import {
  DNS_SUBDOMAIN,
  isDnsLabel,
  isLabelKey,
  isLabelValue,
  redactUrl,
  TerminalError,
} from '@driftless/common';
import type { GitAuth } from '../source/index.ts';
import { flag, type AgentFlagValues } from './agent-flags.ts';
import { loadGitAuth, loadHubCa, type ResolveAgentOptionsIo } from './flag-files.ts';

export { AGENT_ENV_PREFIX, agentFlags, type AgentFlagValues } from './agent-flags.ts';
export type { ResolveAgentOptionsIo } from './flag-files.ts';

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
  /** Periodic full resync of an app that did not fail. */
  resyncIntervalMs: number;
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
  /** The --hub-ca-file path, named in messages; undefined when not given. */
  hubCaFile?: string;
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
  /** `host:port` of the /metrics endpoint; '' serves none. */
  metricsAddress: string;
  /** Health timeout of apps that set none. */
  healthTimeoutMs: number;
  /** Longest read of an app's object tree for the hub, ms. */
  treeDeadlineMs: number;
  /** Parallel applies per wave. */
  applyConcurrency: number;
  /** Apps between render and health at once. */
  appConcurrency: number;
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

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
/** Below this, polling would load the Git server for no benefit; hub hints cover urgency. */
const MIN_POLL_MS = 1000;
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
  if (!(v.resyncInterval >= MIN_POLL_MS)) {
    problems.push(`${flag('resyncInterval')} must be at least 1s`);
  }
  if (v.workDir.trim() === '') problems.push(`${flag('workDir')} must not be empty`);
  if (!LOG_LEVELS.includes(v.logLevel)) {
    problems.push(
      `${flag('logLevel')} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(v.logLevel)}`,
    );
  }
  if (!(v.healthTimeout > 0)) problems.push(`${flag('healthTimeout')} must be positive`);
  if (!(v.treeDeadline > 0)) problems.push(`${flag('treeDeadline')} must be positive`);
  for (const name of [
    'gitMaxFetchBytes',
    'renderMaxFileBytes',
    'renderMaxBytes',
    'renderMaxObjects',
  ] as const) {
    if (!Number.isInteger(v[name]) || v[name] < 1)
      problems.push(`${flag(name)} must be a whole number of at least 1, got ${v[name]}`);
  }
  for (const name of ['applyConcurrency', 'appConcurrency'] as const) {
    if (!Number.isInteger(v[name]) || v[name] < 1)
      problems.push(`${flag(name)} must be a whole number of at least 1, got ${v[name]}`);
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
    resyncIntervalMs: v.resyncInterval,
    workDir: resolve(v.workDir),
    kubeconfig: v.kubeconfig.trim() || undefined,
    hubAddress: v.hubAddress.trim() || undefined,
    enrollmentToken: v.enrollmentToken.trim() || undefined,
    hubCaPem,
    hubCaFile: v.hubCaFile.trim() || undefined,
    hubServerName: v.hubServerName.trim() || undefined,
    transport: v.transport as 'grpc' | 'nats',
    natsUrl: v.transport === 'nats' ? v.natsUrl.trim() : undefined,
    clusterLabels,
    reportBufferSize: v.reportBufferSize,
    logLevel: v.logLevel,
    metricsAddress: v.metricsAddress.trim(),
    healthTimeoutMs: v.healthTimeout,
    treeDeadlineMs: v.treeDeadline,
    applyConcurrency: v.applyConcurrency,
    appConcurrency: v.appConcurrency,
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
