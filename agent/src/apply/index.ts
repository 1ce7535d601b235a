/** Writing a plan to the cluster: ordered server-side apply, and prune. */
export * from './apply.ts';
