/**
 * Fields of Kubernetes objects: paths, who owns them (`metadata.managedFields`),
 * and which of them drift and the plan ignore (`ignoreDifferences` rules).
 * Pure functions, shared by plan and drift.
 */
export {
  changedByOf,
  writeTimeOf,
  ownersOf,
  ownsPath,
  parsePath,
  type FieldOwner,
  type ManagedFieldsEntry,
  type PathSegment,
} from './managed-fields.ts';
export {
  isIgnoredPath,
  parsePointer,
  pointerOf,
  respectIgnored,
  ruleMatches,
  rulesFor,
  WELL_KNOWN_IGNORE_RULES,
  withoutIgnored,
  type BuiltInIgnoreRule,
} from './ignore.ts';
