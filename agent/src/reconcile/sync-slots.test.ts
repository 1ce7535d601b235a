import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SyncSlots } from './sync-slots.ts';

describe('SyncSlots', () => {
  it('lets `limit` holders in at once and the rest in the order they asked, as slots come back', async () => {
    const slots = new SyncSlots(2);
    const order: string[] = [];
    const a = await slots.acquire();
    const b = await slots.acquire();
    const c = slots.acquire().then((release) => (order.push('c'), release));
    const d = slots.acquire().then((release) => (order.push('d'), release));
    await Promise.resolve();
    assert.equal(slots.used, 2);
    assert.equal(slots.waiting, 2);
    assert.deepEqual(order, []);
    b();
    b(); // a second call gives back nothing more
    const releaseC = await c;
    assert.deepEqual(order, ['c']);
    assert.equal(slots.waiting, 1);
    a();
    const releaseD = await d;
    assert.deepEqual(order, ['c', 'd']);
    assert.equal(slots.used, 2);
    releaseC();
    releaseD();
    assert.equal(slots.used, 0);
  });

  it('stops waiting when the signal aborts, without taking a slot', async () => {
    const slots = new SyncSlots(1);
    const held = await slots.acquire();
    const stop = new AbortController();
    const waiting = slots.acquire(stop.signal);
    stop.abort(new Error('agent stopping'));
    await assert.rejects(waiting, /agent stopping/);
    assert.equal(slots.waiting, 0);
    held();
    assert.equal(slots.used, 0);
    await assert.rejects(slots.acquire(stop.signal), /agent stopping/);
  });

  it('refuses a limit below one', () => {
    assert.throws(() => new SyncSlots(0), /at least 1, got 0/);
    assert.throws(() => new SyncSlots(1.5), /at least 1, got 1.5/);
  });
});
