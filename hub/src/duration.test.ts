import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DurationError, parseUnitDuration } from './duration.ts';

describe('parseUnitDuration', () => {
  it('reads durations with units, and 0 without one', () => {
    assert.equal(parseUnitDuration('for', '30m'), 1_800_000);
    assert.equal(parseUnitDuration('for', ' 1h30m '), 5_400_000);
    assert.equal(parseUnitDuration('for', '0'), 0);
  });
  it('refuses a number without a unit, naming the field', () => {
    assert.throws(
      () => parseUnitDuration('ttl', '5'),
      (e: unknown) =>
        e instanceof DurationError && e.message === 'ttl "5" has no unit: write e.g. 5s, 5m or 5h',
    );
    assert.throws(() => parseUnitDuration('--for', '1.5'), /--for "1.5" has no unit/);
  });
  it('refuses text that is no duration, naming the field', () => {
    assert.throws(
      () => parseUnitDuration('deadline', 'soon'),
      /^DurationError: deadline: invalid duration "soon"/,
    );
  });
});
