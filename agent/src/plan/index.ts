/** Planning: what a sync would change, field by field, with a stable digest. */
export * from './plan.ts';
export * from './diff.ts';
export * from './limit.ts';
