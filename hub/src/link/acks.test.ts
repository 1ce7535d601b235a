// Coalesced report acks: held until the deferred flush, the highest only, other messages in order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HubMessage, UNSEQUENCED } from '@driftless/proto';
import { coalescingAcks } from './acks.ts';

const ack = (n: bigint) =>
  HubMessage.create({ seq: UNSEQUENCED, body: { $case: 'ack', value: { agentSeq: n } } });
const describeMsg = (m: HubMessage) =>
  m.body?.$case === 'ack' ? `ack ${m.body.value.agentSeq}` : `${m.body?.$case} ${m.seq}`;

function setup() {
  const sent: string[] = [];
  const deferred: (() => void)[] = [];
  const acks = coalescingAcks({ send: (m) => sent.push(describeMsg(m)) > 0 }, (fn) =>
    deferred.push(fn),
  );
  return { sent, acks, runDeferred: () => deferred.splice(0).forEach((fn) => fn()) };
}

describe('coalescingAcks', () => {
  it('sends the highest of the acks given before the flush, once', () => {
    const { sent, acks, runDeferred } = setup();
    acks.send(ack(3n));
    acks.send(ack(5n));
    acks.send(ack(4n));
    assert.deepEqual(sent, [], 'held until the flush');
    runDeferred();
    assert.deepEqual(sent, ['ack 5']);
    runDeferred();
    acks.send(ack(6n));
    runDeferred();
    assert.deepEqual(sent, ['ack 5', 'ack 6']);
  });

  it('sends a held ack before any other message, and flush() sends it at once', () => {
    const { sent, acks } = setup();
    acks.send(ack(2n));
    acks.send(
      HubMessage.create({
        seq: 7n,
        body: { $case: 'refreshHint', value: { repoUrl: 'http://git/x', revision: '' } },
      }),
    );
    acks.send(ack(3n));
    acks.flush();
    assert.deepEqual(sent, ['ack 2', 'refreshHint 7', 'ack 3']);
  });
});
