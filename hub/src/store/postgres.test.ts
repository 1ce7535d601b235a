import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreparedNames } from './postgres.ts';

describe('PreparedNames', () => {
  it('names a text from its third run on, the same name every time', () => {
    const names = new PreparedNames(100);
    const text = 'UPDATE clusters SET last_seen_ms = $1 WHERE name = $2';
    assert.equal(names.name(text, 2), undefined);
    assert.equal(names.name(text, 2), undefined);
    const name = names.name(text, 2);
    assert.equal(name, 'driftless_1');
    assert.equal(names.name(text, 2), name);
    // Another text counts on its own and gets its own name.
    const other = 'UPDATE clusters SET connected = $1 WHERE name = $2';
    for (let i = 0; i < 2; i++) assert.equal(names.name(other, 2), undefined);
    assert.equal(names.name(other, 2), 'driftless_2');
  });

  it('names no text once the named texts have used up the parameter budget', () => {
    const names = new PreparedNames(5);
    const big = 'INSERT INTO t (a, b, c, d) VALUES ($1, $2, $3, $4)';
    const small = 'INSERT INTO t (a, b) VALUES ($1, $2)';
    const tooBig = 'INSERT INTO t (a, b, c, d, e, f) VALUES ($1, $2, $3, $4, $5, $6)';
    for (let i = 0; i < 3; i++) names.name(big, 4);
    assert.equal(names.name(big, 4), 'driftless_1');
    for (let i = 0; i < 5; i++) assert.equal(names.name(small, 2), undefined);
    for (let i = 0; i < 5; i++) assert.equal(names.name(tooBig, 6), undefined);
  });

  it('leaves texts with * unnamed (their row type may change under them)', () => {
    const names = new PreparedNames(100);
    for (let i = 0; i < 5; i++)
      assert.equal(names.name('SELECT * FROM clusters WHERE name = $1', 1), undefined);
  });
});
