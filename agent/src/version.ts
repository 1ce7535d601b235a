import { releaseVersion } from '@driftless/common';

/** The agent's version, as `driftless-agent --version`, the Hello and the User-Agent report it. */
export const AGENT_VERSION = releaseVersion();
