/**
 * Guard: refuses an app's rendered objects before anything touches the
 * cluster (invalid, duplicate, unknown kind, outside the app's namespaces or
 * cluster kinds, owned by another app, plaintext Secrets) and returns them
 * normalised and marked as ours.
 */
export { guard, type GuardOptions } from './guard.ts';
export { GuardError } from './errors.ts';
export type { Scope, ScopeResolver } from './scope.ts';
export { laneOf, laneProblem, type Lane, type ObjectReader } from './tenancy.ts';
export {
  declaredKeys,
  Ownership,
  ownerProblem,
  type Claim,
  type InventoryReader,
  type OwnershipOptions,
  type OwnershipView,
} from './ownership.ts';
