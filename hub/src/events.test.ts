import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus, type HubEvent } from './events.ts';

describe('EventBus', () => {
  it('a subscriber that throws reaches neither the publisher nor the other subscribers', () => {
    const failures: string[] = [];
    const bus = new EventBus({ onError: (err, e) => failures.push(`${e.type}: ${String(err)}`) });
    const seen: HubEvent[] = [];
    bus.subscribe(() => {
      throw new Error('NATS connection closed');
    });
    const stop = bus.subscribe((e) => seen.push(e));
    assert.doesNotThrow(() => bus.publish({ type: 'approval.created', cluster: 'prod' }));
    assert.deepEqual(
      seen.map((e) => [e.id, e.type]),
      [[1, 'approval.created']],
    );
    assert.deepEqual(failures, ['approval.created: Error: NATS connection closed']);
    stop();
    bus.publish({ type: 'app.updated', cluster: 'prod' });
    assert.equal(seen.length, 1, 'unsubscribed');
  });
});
