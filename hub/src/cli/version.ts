/** The CLI's own version. */
import { driftlessVersion, type DriftlessVersion } from '@driftless/common';

/** This CLI's version (and commit, when known). */
export function cliVersion(): DriftlessVersion {
  return driftlessVersion();
}
