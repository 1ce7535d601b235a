import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseQuantity } from './schema-check-kinds.ts';

it('a quantity longer than any real one is not parsed (a huge number costs time, and is not judged)', () => {
  assert.deepEqual(parseQuantity(`1${'0'.repeat(63)}`), { n: 10n ** 63n, e: 0 });
  assert.equal(parseQuantity(`1${'0'.repeat(64)}`), undefined);
  assert.equal(parseQuantity('9'.repeat(1_000_000)), undefined);
});
