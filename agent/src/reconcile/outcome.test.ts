import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '@driftless/common';
import { decideOutcome, describeOutcome, type OutcomeTiming } from './outcome.ts';

const timing = (random = 0.5): OutcomeTiming => ({
  backoff: new Backoff({ initialMs: 1000, maxMs: 8000, random: () => random }),
  resyncIntervalMs: 60_000,
  pollJitter: 0.1,
  requeueMs: 30_000,
  random: () => random,
});

describe('decideOutcome', () => {
  it('retries transient failures with the app backoff, capped, and resets it on success', () => {
    const t = timing();
    const delays = [1, 2, 3, 4, 5].map(() => {
      const o = decideOutcome({ outcome: 'failed', errorClass: 'transient' }, t);
      assert.equal(o.kind, 'retry');
      return o.kind === 'retry' ? o.afterMs : 0;
    });
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000]);
    assert.deepEqual(decideOutcome({ outcome: 'succeeded' }, t), { kind: 'done', afterMs: 60_000 });
    assert.equal(t.backoff.attempt, 0);
  });

  it('requeues waiting, waits for a change on terminal, and says so', () => {
    const t = timing();
    const waiting = decideOutcome({ outcome: 'failed', errorClass: 'waiting' }, t);
    assert.deepEqual(waiting, { kind: 'requeue', afterMs: 30_000 });
    const terminal = decideOutcome({ outcome: 'failed', errorClass: 'terminal' }, t);
    assert.deepEqual(terminal, { kind: 'wait-for-change' });
    assert.match(describeOutcome(terminal), /until a new commit/);
    assert.equal(describeOutcome(waiting), 'checking again in 30s');
  });

  it('jitters the poll and requeue delays within ±10 %', () => {
    assert.deepEqual(decideOutcome({ outcome: 'planned' }, timing(0)), {
      kind: 'done',
      afterMs: 54_000,
    });
    assert.deepEqual(decideOutcome({ outcome: 'planned' }, timing(1)), {
      kind: 'done',
      afterMs: 66_000,
    });
  });

  it('treats an interrupted sync as interrupted whatever its outcome', () => {
    assert.deepEqual(
      decideOutcome({ outcome: 'failed', errorClass: 'transient', interrupted: true }, timing()),
      { kind: 'interrupted' },
    );
  });
});
