import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { splitReports } from './jetstream.ts';

/** Reports framed as the agent frames them: a 4-byte big-endian length before each. */
function frame(reports: number[][]): Uint8Array {
  const out: number[] = [];
  for (const r of reports) out.push(0, 0, (r.length >> 8) & 0xff, r.length & 0xff, ...r);
  return new Uint8Array(out);
}

describe('splitReports', () => {
  it('a message without the header is one report', () => {
    const data = new Uint8Array([8, 1]);
    assert.deepEqual(splitReports(data, undefined), [data]);
    assert.deepEqual(splitReports(data, ''), [data]);
  });

  it('splits framed reports in order, empty ones included', () => {
    const parts = splitReports(frame([[1, 2, 3], [], [4]]), '3');
    assert.deepEqual(
      parts.map((p) => [...p]),
      [[1, 2, 3], [], [4]],
    );
  });

  it('refuses a payload that does not match its header', () => {
    assert.throws(
      () => splitReports(frame([[1], [2]]), '3'),
      /2 reports, Driftless-Reports says 3/,
    );
    assert.throws(
      () => splitReports(new Uint8Array([0, 0, 0, 9, 1]), '1'),
      /past the payload's end/,
    );
    assert.throws(() => splitReports(new Uint8Array([0, 0, 0, 1, 1, 0, 0]), '2'), /truncated/);
    assert.throws(() => splitReports(frame([[1]]), 'x'), /must be 1 to 1024/);
    assert.throws(() => splitReports(frame([[1]]), '0'), /must be 1 to 1024/);
  });
});
