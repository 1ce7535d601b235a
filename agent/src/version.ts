/** The agent's version, as `driftless-agent --version`, the Hello and the User-Agent report it. */
export const AGENT_VERSION = '0.1.0';
