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
  /**
   * Set (to what it waits on) when the object is not Healthy yet only because
   * it waits for something a later wave or another party provides: a claim
   * bound on its first consumer, a load balancer address. Such a state does
   * not gate later waves, and a sync does not wait for it (see {@link gatesWave}).
   */
  waitsOn?: string;
}

/**
 * Whether an object's health holds back the next wave (and the end of a
 * sync): every state but Healthy does, except a Progressing that only waits
 * on something outside the wave ({@link Health.waitsOn}).
 */
export function gatesWave(health: Health): boolean {
  if (health.status === 'Healthy') return false;
  return !(health.status === 'Progressing' && health.waitsOn);
}

/** Worst first: the order in which an aggregate takes the worst status. */
export const SEVERITY: Record<HealthStatus, number> = {
  Degraded: 4,
  Missing: 3,
  Progressing: 2,
  Unknown: 1,
  Healthy: 0,
};
