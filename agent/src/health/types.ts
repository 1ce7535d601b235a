/**
 * How healthy an object is:
 * - `Healthy`: it does what it was declared to do (rolled out, bound, complete).
 * - `Progressing`: not yet, and nothing says it will not get there.
 * - `Degraded`: it failed or will not get there without a change (deadline exceeded, failed Job).
 * - `Missing`: it is not in the cluster.
 * - `Unknown`: its status cannot be read.
 */
export type HealthStatus = 'Healthy' | 'Progressing' | 'Degraded' | 'Missing' | 'Unknown';

/** A health status and, for people, why. */
export interface Health {
  status: HealthStatus;
  /** Says why, naming the object, e.g. `Deployment web/api: 1 of 3 replicas available`. */
  message: string;
}

/** Worst first: the order in which an aggregate takes the worst status. */
export const SEVERITY: Record<HealthStatus, number> = {
  Degraded: 4,
  Missing: 3,
  Progressing: 2,
  Unknown: 1,
  Healthy: 0,
};
