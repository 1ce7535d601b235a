/**
 * Export: turns what runs in a namespace into clean manifests — only what
 * people declared, without status, server metadata or server defaults — to
 * bring existing state into Git.
 */
export { exportNamespace, skipReason, type ExportOptions } from './export.ts';
export { cleanObject, CONTROL_PLANE_MANAGERS } from './clean.ts';
export { discoverNamespacedKinds, type DiscoverOptions } from './discover.ts';
export { stripKnownDefaults } from './defaults.ts';
export {
  asFieldSet,
  listItemSet,
  ownsPath,
  pickFields,
  unionFieldSets,
  type FieldSet,
  type PathSegment,
} from './fields-v1.ts';
