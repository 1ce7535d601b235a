import { errorMessage, type Clock, type Logger } from '@driftless/common';
import { HubMessage, SuspensionSource, toUnixMs } from '@driftless/proto';
import type { EventBus } from '../events.ts';
import type { Store, SuspensionRecord } from '../store/index.ts';
import type { Session, SessionRegistry } from './sessions.ts';

/** What delivering pauses needs. */
export interface SuspensionDeliveryDeps {
  store: Store;
  clock: Clock;
}

/** The Suspensions message carrying the whole set of the cluster's pauses, under `hubSeq`. */
export function suspensionsMessage(items: SuspensionRecord[], hubSeq: number): HubMessage {
  return HubMessage.create({
    seq: BigInt(hubSeq),
    body: {
      $case: 'suspensions',
      value: {
        items: items.map((s) => ({
          app: s.app,
          untilUnixMs: toUnixMs(s.untilMs),
          reason: s.reason,
          actor: s.actor,
          sinceUnixMs: toUnixMs(s.sinceMs),
          source: SuspensionSource.SUSPENSION_SOURCE_HUB,
          suspensionId: s.id,
        })),
      },
    },
  });
}

/**
 * Sends the cluster's current pauses down `session` under a new hub seq (the agent replaces its
 * hub pauses by them, so a resume is a set without that pause); returns whether it went out.
 * With `onlyIfEverPaused` (on a Hello) a cluster never paused from the hub gets nothing.
 */
export async function deliverSuspensions(
  deps: SuspensionDeliveryDeps,
  session: Session,
  options: { onlyIfEverPaused?: boolean } = {},
): Promise<boolean> {
  const { store, clock } = deps;
  if (options.onlyIfEverPaused && !(await store.everSuspended(session.cluster))) return false;
  const items = await store.activeSuspensions({ cluster: session.cluster, nowMs: clock.now() });
  const hubSeq = await store.nextHubSeq(session.cluster);
  return session.send(suspensionsMessage(items, hubSeq));
}

/**
 * Sends a cluster's pauses to its agent whenever they change (a `cluster.suspended` or
 * `cluster.resumed` event, made on this replica or relayed from another), if this replica holds
 * the agent's session. An agent not connected gets them after its next Hello. Returns a function
 * that stops watching.
 */
export function watchSuspensions(
  deps: SuspensionDeliveryDeps & { events: EventBus; sessions: SessionRegistry; log: Logger },
): () => void {
  return deps.events.subscribe((e) => {
    if ((e.type !== 'cluster.suspended' && e.type !== 'cluster.resumed') || !e.cluster) return;
    const session = deps.sessions.get(e.cluster);
    if (!session) return;
    deliverSuspensions(deps, session).catch((err: unknown) =>
      deps.log.warn(
        { cluster: e.cluster, err: errorMessage(err) },
        `cannot send the pauses of cluster ${e.cluster}: ${errorMessage(err)}; they go out after its next Hello`,
      ),
    );
  });
}
