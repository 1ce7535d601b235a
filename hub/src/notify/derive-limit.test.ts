import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '@driftless/common';
import { EventBus } from '../events.ts';
import type { Store } from '../store/index.ts';
import { ManualClock } from '../../test/manual-clock.ts';
import { DERIVE_CONCURRENCY, EventDeriver } from './derive.ts';

describe('EventDeriver under a burst', () => {
  it(`handles at most ${DERIVE_CONCURRENCY} events at once across clusters, and all of them`, async () => {
    let inFlight = 0;
    let most = 0;
    let handled = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Only what an app.updated event reads; each read waits until the gate opens.
    const store = {
      appHealth: async () => {
        most = Math.max(most, ++inFlight);
        await gate;
        inFlight--;
        handled++;
        return undefined;
      },
    } as unknown as Store;
    const events = new EventBus();
    const deriver = new EventDeriver({
      store,
      events,
      links: { publicUrl: 'https://hub.example/', commitUrlTemplate: '', traceUrlTemplate: '' },
      disconnectGraceMs: 60_000,
      emit: async () => undefined,
      log: createLogger({ name: 'derive-limit-test', level: 'silent' }),
      clock: new ManualClock(1_000_000),
    });
    deriver.start();
    const clusters = DERIVE_CONCURRENCY * 3;
    for (let i = 0; i < clusters; i++)
      events.publish({ type: 'app.updated', cluster: `c${i}`, app: 'web' });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(most, DERIVE_CONCURRENCY, 'events in hand while the store answers none');
    release();
    await deriver.stop();
    assert.equal(handled, clusters);
  });
});
