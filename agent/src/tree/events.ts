import type { KubeClient } from '../kube/index.ts';
import type { KubeObject } from '../model.ts';
import type { TreeEvent } from './types.ts';

/** Longest Event message kept; controllers sometimes put whole error dumps in them. */
const MAX_MESSAGE = 300;

/**
 * The Events of one namespace (core v1, which also serves what events.k8s.io/v1 writes), by the
 * uid of the object they are about, newest first. One list per namespace instead of one per
 * object keeps a tree of hundreds of Pods to a handful of requests.
 */
export async function eventsByUid(
  client: KubeClient,
  namespace: string,
  signal: AbortSignal,
): Promise<Map<string, TreeEvent[]>> {
  const { items } = await client.list('v1', 'Event', { namespace, signal });
  const byUid = new Map<string, TreeEvent[]>();
  for (const e of items) {
    const uid = involvedUid(e);
    if (!uid) continue;
    const list = byUid.get(uid) ?? [];
    list.push(toTreeEvent(e));
    byUid.set(uid, list);
  }
  for (const list of byUid.values()) list.sort((a, b) => b.lastSeenMs - a.lastSeenMs);
  return byUid;
}

function involvedUid(e: KubeObject): string {
  const involved = (e['involvedObject'] ?? e['regarding']) as { uid?: unknown } | undefined;
  return typeof involved?.uid === 'string' ? involved.uid : '';
}

/** A core v1 Event as a {@link TreeEvent}; fields an Event lacks become '' or 0. */
export function toTreeEvent(e: KubeObject): TreeEvent {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const series = e['series'] as { count?: unknown; lastObservedTime?: unknown } | undefined;
  const source = e['source'] as { component?: unknown } | undefined;
  const message = str(e['message'] ?? e['note']);
  const count =
    typeof series?.count === 'number'
      ? series.count
      : typeof e['count'] === 'number'
        ? e['count']
        : 1;
  return {
    type: str(e['type']),
    reason: str(e['reason']),
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message,
    count: Math.max(1, count),
    lastSeenMs: firstTime(
      series?.lastObservedTime,
      e['lastTimestamp'],
      e['eventTime'],
      e['firstTimestamp'],
      e.metadata['creationTimestamp'],
    ),
    source: str(e['reportingComponent']) || str(source?.component),
  };
}

/** The first of `times` that parses as a date, in ms; 0 when none does. */
export function firstTime(...times: unknown[]): number {
  for (const t of times) {
    if (typeof t !== 'string' || t === '') continue;
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  return 0;
}
