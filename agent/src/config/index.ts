/**
 * The agent's configuration: its bootstrap flags, and the cluster's
 * `driftless.yaml` read from Git.
 */
export {
  APP_DEFAULTS,
  appSpec,
  CLUSTER_API_VERSION,
  CLUSTER_CONFIG_FILE,
  CLUSTER_KIND,
  ConfigError,
  formatProblem,
  parseClusterConfig,
  type ConfigProblem,
  type ParseClusterConfigOptions,
} from './cluster-config.ts';
export {
  AGENT_ENV_PREFIX,
  agentFlags,
  AgentOptionsError,
  redactAgentOptions,
  resolveAgentOptions,
  type AgentFlagValues,
  type AgentFlags,
  type ResolveAgentOptionsIo,
} from './flags.ts';
