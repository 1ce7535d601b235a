/**
 * Drift: watches what the agent applied, reports every change to a field Git
 * declares and every deletion of a managed object (field paths, desired and
 * live values, the manager that changed it), and heals it when the app asks.
 */
export { DriftWatcher, MANAGED_SELECTOR, type DriftWatcherState } from './watcher.ts';
export {
  DRIFT_DEFAULTS,
  resolveDriftOptions,
  type DriftClient,
  type DriftWatcherOptions,
} from './options.ts';
export type { DriftMetrics } from './metrics.ts';
export type { SyncMarks } from './registry.ts';
export { DriftWatcherError, WatchLoopError } from './errors.ts';
export { FIGHT_DEFAULTS, FightGuard, type FightOptions, type HealDecision } from './fight.ts';
export { KeyedDebouncer, type DebouncerOptions } from './debounce.ts';
export { KindWatch, type KindWatchOptions, type WatchSource } from './kind-watch.ts';
export {
  changedByOf,
  ownersOf,
  ownsPath,
  parsePath,
  type FieldOwner,
  type ManagedFieldsEntry,
  type PathSegment,
} from '../fields/index.ts';
