import { refString, type ObjectRef } from '../model.ts';
import { SEVERITY, type Health } from './types.ts';

/** How many objects an aggregate message names; the rest are counted (messages stay a few hundred characters). */
const MESSAGE_OBJECTS = 3;

/** The health of one object of an app. */
export interface ObjectHealth {
  ref: ObjectRef;
  health: Health;
}

/**
 * The health of an app from its objects': the worst status wins, in the
 * order Degraded > Missing > Progressing > Unknown > Healthy. The message
 * lists the objects that are not Healthy, worst first, and why. An app
 * with no objects is Healthy.
 */
export function aggregateHealth(items: ObjectHealth[]): Health {
  const total = items.length;
  const plural = (n: number) => (n === 1 ? '1 object' : `${n} objects`);
  const unhealthy = items
    .filter((i) => i.health.status !== 'Healthy')
    // Array.prototype.sort is stable: equal statuses keep their apply order.
    .sort((a, b) => SEVERITY[b.health.status] - SEVERITY[a.health.status]);
  const worst = unhealthy[0];
  if (worst === undefined) {
    return { status: 'Healthy', message: total === 0 ? 'no objects' : `${plural(total)} Healthy` };
  }
  const shown = unhealthy.slice(0, MESSAGE_OBJECTS).map(line);
  const more = unhealthy.length - shown.length;
  return {
    status: worst.health.status,
    message: `${unhealthy.length} of ${plural(total)} not Healthy: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
  };
}

/** `Deployment web/api Progressing: 1 of 3 replicas available`. */
function line({ ref, health }: ObjectHealth): string {
  const name = refString(ref);
  // healthOf's messages already start with the object; Missing ones cannot.
  const why = health.message.startsWith(`${name}: `)
    ? health.message.slice(name.length + 2)
    : health.message;
  return `${name} ${health.status}: ${why}`;
}
