import { errorMessage, TerminalError } from '@driftless/common';

/**
 * A part of the agent that is loaded only when its feature is configured (the hub link, NATS,
 * commit signature checks, /metrics) could not be loaded: a broken installation, not a
 * condition that passes. Terminal by type; the import's error is the `cause`.
 */
export class OptionalModuleError extends TerminalError {
  override name = 'OptionalModuleError';
}

/**
 * Loads a module only when a feature needs it (an agent that does not use the feature never
 * pays for the module's code and memory). `what` names the feature in the one error thrown
 * when the import fails: `cannot load <what>: <reason>`.
 */
export async function loadOptionalModule<T>(what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    throw new OptionalModuleError(`cannot load ${what}: ${errorMessage(err)}`, { cause: err });
  }
}
