/** Planning: what a sync would change, field by field, with a stable digest. */
export * from './plan.ts';
export * from './objects.ts';
export * from './diff.ts';
export * from './limit.ts';
export * from './hooks.ts';
export * from './sync-options.ts';
export {
  ADOPTED_MANAGERS,
  adoptableManagers,
  takeOverManagedFields,
  withoutAdoptedFields,
  type ManagedFieldsEntry,
} from './adopt.ts';
export { foreignObjectIn, MissingNamespaceError } from './namespaces.ts';
