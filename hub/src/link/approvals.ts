import { HubMessage } from '@driftless/proto';
import type { Clock } from '@driftless/common';
import type { EventBus } from '../events.ts';
import type { ApprovalRecord, Store } from '../store/index.ts';
import type { Session } from './sessions.ts';

/** What approval delivery needs. */
export interface ApprovalDeliveryDeps {
  store: Store;
  events: EventBus;
  clock: Clock;
}

/** The HubMessage that carries an approval, under its stored hub seq. */
export function approvalMessage(a: ApprovalRecord): HubMessage {
  return HubMessage.create({
    seq: BigInt(a.hubSeq),
    body: {
      $case: 'approval',
      value: {
        approvalId: a.id,
        app: a.app,
        revision: a.revision,
        planDigest: a.planDigest,
        approvedBy: a.approvedBy,
        approvedUnixMs: BigInt(a.approvedMs),
      },
    },
  });
}

/**
 * Sends approvals down a session (gRPC stream or NATS subject) and records as delivered
 * exactly those whose send succeeded, announcing each; returns those. The one way the hub
 * delivers approvals: on a Hello, on a NATS heartbeat of a cluster this replica had not seen,
 * from another replica, and when an approval is made.
 */
export async function deliverApprovals(
  deps: ApprovalDeliveryDeps,
  session: Session,
  approvals: ApprovalRecord[],
): Promise<ApprovalRecord[]> {
  const delivered = approvals.filter((a) => session.send(approvalMessage(a)));
  if (delivered.length === 0) return delivered;
  const now = deps.clock.now();
  await deps.store.markDelivered(
    delivered.map((a) => a.id),
    now,
  );
  for (const a of delivered) {
    a.deliveredMs = now;
    deps.events.publish({
      type: 'approval.delivered',
      cluster: a.cluster,
      app: a.app,
      data: { id: a.id },
    });
  }
  return delivered;
}

/**
 * Delivers the approvals the agent has not processed by its own count (`afterHubSeq`: its
 * Hello's last acked hub seq, or the stored ack when it sent no Hello to this replica);
 * returns how many went out.
 */
export async function redeliverApprovals(
  deps: ApprovalDeliveryDeps,
  session: Session,
  afterHubSeq: number,
): Promise<number> {
  const pending = await deps.store.unackedApprovals(session.cluster, afterHubSeq);
  return (await deliverApprovals(deps, session, pending)).length;
}
