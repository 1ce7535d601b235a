/** The per-app inventory kept in the cluster: what each app owns. */
export * from './inventory.ts';
