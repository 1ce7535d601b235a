/**
 * Guard: refuses an app's rendered objects before anything touches the
 * cluster (invalid, duplicate, unknown kind, outside the app's namespaces,
 * plaintext Secrets) and returns them normalised and marked as ours.
 */
export { guard } from './guard.ts';
export { GuardError } from './errors.ts';
export type { Scope, ScopeResolver } from './scope.ts';
