import { HubMessage, UNSEQUENCED } from '@driftless/proto';
import type { Session } from './sessions.ts';

/** A session's `send` whose report acks are coalesced, and a way to send the held one now. */
export interface CoalescedAcks extends Pick<Session, 'send'> {
  /** Sends the highest ack held back, if any. */
  flush(): void;
}

/**
 * Wraps a stream's `send` so that the acks of reports committed together go down as one: an
 * ack of seq s acks every report up to s (the agent's outbox releases cumulatively), so of
 * the acks sent before the next I/O turn only the highest is needed. Other messages pass
 * straight through, after the held ack. Acks never go down before their commit: they are
 * only held back, never sent early.
 */
export function coalescingAcks(
  session: Pick<Session, 'send'>,
  defer: (fn: () => void) => void = (fn) => void setImmediate(fn),
): CoalescedAcks {
  let held: bigint | undefined;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (held === undefined) return;
    const agentSeq = held;
    held = undefined;
    session.send(
      HubMessage.create({ seq: UNSEQUENCED, body: { $case: 'ack', value: { agentSeq } } }),
    );
  };
  return {
    send: (message) => {
      const body = message.body;
      if (body?.$case !== 'ack' || message.seq !== UNSEQUENCED) {
        flush();
        return session.send(message);
      }
      if (held === undefined || body.value.agentSeq > held) held = body.value.agentSeq;
      if (!scheduled) {
        scheduled = true;
        defer(flush);
      }
      return true;
    },
    flush,
  };
}
