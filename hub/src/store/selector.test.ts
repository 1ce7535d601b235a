import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.ts';
import { parseSelector } from './selector.ts';

describe('parseSelector', () => {
  it('reads equality, inequality, presence and absence terms', () => {
    assert.deepEqual(parseSelector('env=prod, example.com/tier!=db,gpu,!legacy'), [
      { key: 'env', op: '=', value: 'prod' },
      { key: 'example.com/tier', op: '!=', value: 'db' },
      { key: 'gpu', op: 'exists', value: '' },
      { key: 'legacy', op: '!exists', value: '' },
    ]);
    assert.deepEqual(parseSelector('  '), []);
  });

  it('rejects keys and values no label can carry, naming the term', () => {
    for (const bad of ['Example.COM/tier=db', 'a/b/c=d', 'env=-prod', 'a=b=c']) {
      assert.throws(
        () => parseSelector(bad),
        (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(`"${bad}"`),
        bad,
      );
    }
  });
});
