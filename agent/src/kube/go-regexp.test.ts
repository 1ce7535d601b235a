import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGoPattern } from './go-regexp.ts';

const matches = (pattern: string, value: string) => compileGoPattern(pattern)?.test(value);

describe('compileGoPattern', () => {
  it("answers as Go's regexp.MatchString does", () => {
    const cases: Array<[string, string, boolean]> = [
      ['^[a-z]+$', 'abc', true],
      ['^[a-z]+$', 'abC', false],
      ['x[0-9]+', 'before x12 after', true],
      ['^a.b$', 'a\rb', true],
      ['^a.b$', 'a\nb', false],
      ['^\\S+$', 'a\u00a0b', true],
      ['^a\\sb$', 'a\u000bb', false],
      ['^abc$', 'abc\n', false],
      ['^a{,3}$', 'a{,3}', true],
      ['^[]a-]+$', 'a]-', true],
      ['^[a-z]{2,3}$', 'abcd', false],
      ['^(Always|Never)$', 'Never', true],
      ['^v?[0-9]+(\\.[0-9]+){0,2}$', '1.2.3.4', false],
      ['^[à-ÿ]+$', 'éà', true],
      ['^(?:a|b)*?c$', 'ababc', true],
      ['^(?P<x>a)$', 'a', true],
      ['', 'anything', true],
    ];
    for (const [pattern, value, want] of cases)
      assert.equal(matches(pattern, value), want, `${pattern} on ${JSON.stringify(value)}`);
  });

  it('takes time linear in the value where a backtracking matcher takes hours', () => {
    assert.equal(matches('^(a+)+$', `${'a'.repeat(100_000)}!`), false);
    assert.equal(matches('^a*a*a*a*a*a*a*a*b$', 'a'.repeat(100_000)), false);
  });

  it('reads the syntax Go reads beyond the common part: flags, word boundaries, classes', () => {
    const cases: Array<[string, string, boolean]> = [
      ['(?i)^abc$', 'ABC', true],
      ['\\bword\\b', 'a word here', true],
      ['\\bword\\b', 'swordfish', false],
      ['^\\p{L}+$', 'éa', true],
      ['^[[:alpha:]]+$', 'ab1', false],
    ];
    for (const [pattern, value, want] of cases)
      assert.equal(matches(pattern, value), want, `${pattern} on ${JSON.stringify(value)}`);
  });

  it('leaves unjudged what Go refuses to compile', () => {
    for (const pattern of ['a**', '(a', 'a{1001}', '(a{1,1000}){1,4}', '(?<=a)b'])
      assert.equal(compileGoPattern(pattern), undefined, pattern);
  });
});
