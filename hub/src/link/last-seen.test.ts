import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../store/index.ts';
import { ManualClock } from '../../test/manual-clock.ts';
import { LastSeen } from './last-seen.ts';

/** The writes of a store whose calls the test settles by hand. */
function fakeStore() {
  const writes: string[] = [];
  let failures = 0;
  let heldTouch: (() => void) | undefined;
  const store = {
    touch: (cluster: string) =>
      new Promise<void>((resolve) => {
        heldTouch = () => {
          writes.push(`touch ${cluster}`);
          resolve();
        };
      }),
    setConnected: (cluster: string, connected: boolean) => {
      if (failures > 0) {
        failures--;
        return Promise.reject(new Error('database unavailable'));
      }
      writes.push(`connected ${cluster} ${connected}`);
      return Promise.resolve();
    },
  } as unknown as Store;
  return {
    store,
    writes,
    failNext: (n: number) => (failures = n),
    releaseTouch: () => heldTouch?.(),
  };
}

/** Lets every settled promise run its callbacks. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('LastSeen', () => {
  it('marks a cluster disconnected only after its heartbeat write in flight has landed', async () => {
    const f = fakeStore();
    const seen = new LastSeen(f.store, new ManualClock(100_000));
    const beat = seen.heartbeat('c1');
    const gone = seen.disconnected('c1', () => false);
    await turn();
    assert.deepEqual(f.writes, [], 'waits for the heartbeat write');
    f.releaseTouch();
    await Promise.all([beat, gone]);
    assert.deepEqual(f.writes, ['touch c1', 'connected c1 false']);
  });

  it('retries the disconnect through a database outage, and stops once the cluster is back', async () => {
    const f = fakeStore();
    const clock = new ManualClock(100_000);
    const seen = new LastSeen(f.store, clock);
    f.failNext(2);
    const gone = seen.disconnected('c1', () => false);
    for (let i = 0; i < 2; i++) {
      await turn();
      clock.advance(60_000);
    }
    await gone;
    assert.deepEqual(f.writes, ['connected c1 false']);

    f.failNext(1);
    let back = false;
    const again = seen.disconnected('c2', () => back);
    await turn();
    back = true; // the agent reconnected meanwhile: its new link says connected
    clock.advance(60_000);
    await again;
    assert.deepEqual(f.writes, ['connected c1 false'], 'nothing written for c2');
  });
});
