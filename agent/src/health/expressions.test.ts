import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { celProblem, MAX_EXPRESSION_CHARS } from './expressions.ts';

describe('celProblem: health rules that cannot hold up the agent', () => {
  it('takes one level of list macros, chains of them and plain expressions', () => {
    for (const ok of [
      "object.status.phase == 'Ready'",
      "object.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
      'object.spec.items.map(i, i.size).all(s, s > 0)',
      'object.spec.items.filter(i, i.on).size() == [1, 2].map(x, x).size()',
      "has(object.status) && object.status.conditions.all(c, c.status != 'False')",
    ])
      assert.equal(celProblem(ok), undefined, ok);
  });

  it('refuses a macro in the body of another, at any depth of the expression', () => {
    const list = `[${Array.from({ length: 20 }, (_, i) => i).join(', ')}]`;
    for (const nested of [
      `${list}.all(a, ${list}.all(b, true))`,
      `object.spec.items.exists(i, object.spec.items.exists(j, i == j))`,
      `true && [1].map(x, [2].filter(y, y > x).size())[0] > 0`,
      `${list}.exists_one(a, ${list}.map(b, b).size() > a)`,
    ])
      assert.match(celProblem(nested) ?? '', /inside another one/, nested);
  });

  it('refuses an expression longer than the limit, and one that does not parse', () => {
    assert.match(
      celProblem(`true || ${'1 == 1 || '.repeat(MAX_EXPRESSION_CHARS / 8)}true`) ?? '',
      /longer than/,
    );
    assert.match(celProblem('object.status.(') ?? '', /./);
  });
});
