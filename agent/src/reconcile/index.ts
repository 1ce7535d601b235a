/** Reconciling: one app's sync, and the agent that syncs every app of a cluster. */
export * from './sync-app.ts';
export { currentHealth, type CurrentHealth } from './health-wait.ts';
export * from './agent-options.ts';
export * from './agent.ts';
export * from './served-apis.ts';
