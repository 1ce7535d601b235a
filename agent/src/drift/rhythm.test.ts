import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RhythmDetector } from './rhythm.ts';

/** Feeds re-writes at the given times; returns the first fight found, with its index. */
function feed(d: RhythmDetector, times: number[], manager = 'hpa', paths = ['.spec.replicas']) {
  for (const [i, t] of times.entries()) {
    const fight = d.rewrite(manager, paths, t);
    if (fight) return { i, fight };
  }
  return undefined;
}

describe('RhythmDetector', () => {
  it('finds an HPA that re-writes replicas every 15 s on its third re-write', () => {
    const found = feed(new RhythmDetector(), [0, 15_000, 30_500, 45_000]);
    assert.equal(found?.i, 2);
    assert.deepEqual(found?.fight, {
      manager: 'hpa',
      paths: ['.spec.replicas'],
      periodMs: 15_250,
      since: 30_500,
    });
  });

  it('sees no rhythm in irregular edits, long gaps, or different managers', () => {
    assert.equal(feed(new RhythmDetector(), [0, 1_000, 240_000, 245_000]), undefined);
    assert.equal(feed(new RhythmDetector(), [0, 700_000, 1_400_000]), undefined);
    const d = new RhythmDetector();
    d.rewrite('a', ['.spec.replicas'], 0);
    d.rewrite('b', ['.spec.replicas'], 15_000);
    assert.equal(d.rewrite('a', ['.spec.replicas'], 30_000), undefined);
  });

  it('forgets after a reset', () => {
    const d = new RhythmDetector();
    feed(d, [0, 15_000]);
    d.reset();
    assert.equal(d.rewrite('hpa', ['.spec.replicas'], 30_000), undefined);
  });
});
