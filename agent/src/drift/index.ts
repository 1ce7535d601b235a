/**
 * Drift: watches what the agent applied, reports every change to a field Git
 * declares and every deletion of a managed object (field paths, desired and
 * live values, the manager that changed it), and heals it when the app asks.
 */
export {
  DriftWatcher,
  MANAGED_SELECTOR,
  type DriftClient,
  type DriftMetrics,
  type DriftWatcherOptions,
  type DriftWatcherState,
  type SyncMarks,
} from './watcher.ts';
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
} from './managed-fields.ts';
