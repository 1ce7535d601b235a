/** Writing a plan to the cluster: ordered server-side apply, hooks, replace, adoption, and prune. */
export * from './apply.ts';
export { APPLY_DEFAULTS, type ApplyOptions, type ResolvedApplyOptions } from './options.ts';
export { waitGone, withSyncMarks } from './write.ts';
