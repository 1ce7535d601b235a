import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryLog } from './replay.ts';

describe('webhook delivery log', () => {
  it('remembers a delivery within the window and forgets it after', () => {
    let now = 1_000;
    const log = new DeliveryLog({
      windowMs: 100,
      clock: { now: () => now, sleep: async () => {} },
    });
    log.record('github:a');
    assert.equal(log.has('github:a'), true);
    assert.equal(log.has('github:b'), false);
    now += 101;
    assert.equal(log.has('github:a'), false);
  });

  it('keeps at most maxEntries ids, forgetting the oldest first', () => {
    const log = new DeliveryLog({ maxEntries: 2 });
    log.record('a');
    log.record('b');
    log.record('c');
    assert.deepEqual([log.has('a'), log.has('b'), log.has('c')], [false, true, true]);
  });
});
