import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactSchema, conforms, judge, type Schema } from './schema-check.ts';

// A small document in the served shape: references wrapped in allOf beside a default.
const ref = (name: string) => ({ default: {}, allOf: [{ $ref: `#/components/schemas/${name}` }] });
const raw: Record<string, unknown> = {
  Thing: {
    description: 'a kind',
    type: 'object',
    properties: {
      kind: { type: 'string' },
      count: { type: 'integer', format: 'int32' },
      big: { type: 'integer', format: 'int64' },
      ratio: { type: 'number' },
      on: { type: 'boolean' },
      port: ref('IntOrString'),
      cpu: ref('io.k8s.apimachinery.pkg.api.resource.Quantity'),
      blob: { type: 'string', format: 'byte' },
      at: { type: 'string', format: 'date-time' },
      odd: { type: 'string', format: 'uuid' },
      labels: { type: 'object', additionalProperties: { type: 'string', default: '' } },
      tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
      modes: { type: 'array', items: { type: 'string', enum: ['a', 'b'] } },
      ports: {
        type: 'array',
        items: ref('Port'),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['port', 'protocol'],
      },
      free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      raw: { type: 'object' },
    },
  },
  Port: {
    type: 'object',
    properties: {
      port: { type: 'integer', format: 'int32' },
      protocol: { type: 'string', default: 'TCP', enum: ['TCP', 'UDP'] },
      name: { type: 'string' },
    },
  },
  IntOrString: { format: 'int-or-string', oneOf: [{ type: 'integer' }, { type: 'string' }] },
  'io.k8s.apimachinery.pkg.api.resource.Quantity': {
    oneOf: [{ type: 'string' }, { type: 'number' }],
  },
};
const schemas = new Map(Object.entries(raw).map(([k, v]) => [k, compactSchema(v)]));
const thing = schemas.get('Thing') as Schema;
const ok = (value: Record<string, unknown>) =>
  conforms({ kind: 'Thing', ...value }, thing, schemas);

describe('conforms', () => {
  it('passes declared fields of the right types', () => {
    assert.equal(
      ok({
        count: 3,
        big: 2 ** 40,
        ratio: 0.5,
        on: false,
        port: 'http',
        cpu: '250m',
        blob: 'aGk=',
        at: '2026-01-02T03:04:05Z',
        labels: { a: 'b' },
        tags: ['x', 'y'],
        ports: [{ port: 80 }, { port: 80, protocol: 'UDP' }],
      }),
      true,
    );
    assert.equal(ok({ port: 8080, cpu: 2 }), true);
  });

  it('refuses an undeclared field, at the top and nested', () => {
    assert.equal(ok({ extra: 1 }), false);
    assert.equal(ok({ ports: [{ port: 1, extra: true }] }), false);
  });

  it('refuses wrong types and out-of-range integers', () => {
    for (const value of [
      { count: '3' },
      { count: 1.5 },
      { count: 2 ** 31 },
      { on: 'true' },
      { labels: { a: 1 } },
      { labels: [] },
      { tags: 'x' },
      { port: 1.5 },
      { ratio: '1' },
    ])
      assert.equal(ok(value), false, JSON.stringify(value));
  });

  it('refuses strings that do not parse in their format', () => {
    for (const value of [
      { cpu: 'lots' },
      { cpu: '1.5x' },
      { blob: 'not base64!' },
      { at: 'yesterday' },
      { odd: 'a' },
    ])
      assert.equal(ok(value), false, JSON.stringify(value));
  });

  it('refuses duplicate keys of a keyed list (a missing key takes its default) and of a set', () => {
    assert.equal(ok({ ports: [{ port: 80 }, { port: 80, protocol: 'TCP' }] }), false);
    assert.equal(ok({ tags: ['x', 'x'] }), false);
  });

  it('leaves to the server what it does not judge: nulls, free-form fields, keyless entries', () => {
    for (const value of [
      { count: null },
      { free: { anything: 1 } },
      { raw: {} },
      { ports: [{ name: 'no-port' }] },
    ])
      assert.equal(ok(value), false, JSON.stringify(value));
  });

  it('keeps only what the check reads', () => {
    assert.deepEqual(compactSchema(raw['Port']), {
      type: 'object',
      properties: {
        port: { type: 'integer', format: 'int32' },
        protocol: { type: 'string', default: 'TCP', enum: ['TCP', 'UDP'] },
        name: { type: 'string' },
      },
    });
  });

  it('says where and why it refuses what the server certainly refuses', () => {
    const refusal = (value: Record<string, unknown>) => {
      const v = judge({ kind: 'Thing', ...value }, thing, schemas);
      return v.verdict === 'refused' ? `${v.refusal.path}: ${v.refusal.rule}` : v.verdict;
    };
    assert.equal(refusal({ extra: 1 }), 'extra: field not declared in schema');
    assert.equal(refusal({ count: '3' }), 'count: must be an integer');
    assert.equal(refusal({ count: 2 ** 31 }), `count: ${2 ** 31} must fit in 32 bits`);
    assert.equal(refusal({ labels: { a: 1 } }), 'labels[a]: must be a string');
    assert.equal(
      refusal({ cpu: 'lots' }),
      'cpu: "lots" must be a quantity (such as 500m, 2, 1.5Gi)',
    );
    assert.equal(
      refusal({ ports: [{ port: 1, protocol: 'ICMP' }] }),
      'ports[0].protocol: "ICMP" must be one of "TCP", "UDP"',
    );
    assert.match(
      refusal({ ports: [{ port: 80 }, { port: 80, protocol: 'TCP' }] }),
      /^ports\[1\]: duplicate entry/,
    );
    assert.equal(refusal({ tags: ['x', 'x'] }), 'tags: "x" is listed twice (a set)');
    // A refusal anywhere counts, whatever else is unsure.
    assert.equal(refusal({ free: { a: 1 }, count: 'x' }), 'count: must be an integer');
    // An empty enum field is the server's to default; an empty enum list entry is refused.
    assert.equal(refusal({ ports: [{ port: 1, protocol: '' }] }), 'passes');
    assert.equal(refusal({ modes: ['a', ''] }), 'modes[1]: "" must be one of "a", "b"');
    assert.equal(refusal({ count: null }), 'unsure');
  });

  it('enforces only the required fields a built-in kind validation enforces, as missing or empty', () => {
    const doc = new Map(
      Object.entries({
        'io.k8s.api.core.v1.Container': {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, image: { type: 'string' } },
        },
        'io.k8s.api.core.v1.HTTPHeader': {
          type: 'object',
          required: ['name', 'value'],
          properties: { name: { type: 'string' }, value: { type: 'string' } },
        },
      }).map(([k, v]) => [k, compactSchema(v)]),
    );
    const at = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    const verdict = (name: string, value: unknown) => judge(value, at(name), doc).verdict;
    assert.equal(verdict('io.k8s.api.core.v1.Container', { image: 'a' }), 'refused');
    assert.equal(verdict('io.k8s.api.core.v1.Container', { name: '' }), 'refused');
    assert.equal(verdict('io.k8s.api.core.v1.Container', { name: 'a', image: 'x' }), 'passes');
    // Listed as required by the served document, taken empty by the server.
    assert.equal(verdict('io.k8s.api.core.v1.HTTPHeader', { name: 'X-A' }), 'passes');
  });

  it('checks a custom schema as written: required (unless defaulted), enum, pattern, lengths, bounds', () => {
    const crd = compactSchema({
      type: 'object',
      required: ['size', 'mode'],
      properties: {
        size: { type: 'integer', minimum: 1, maximum: 10 },
        mode: { type: 'string', enum: ['fast', 'slow'], default: 'fast' },
        name: { type: 'string', pattern: '^[a-z]+$', maxLength: 5 },
        tags: { type: 'array', maxItems: 2, items: { type: 'string' } },
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        opt: { type: 'string', nullable: true },
      },
    });
    const why = (value: unknown) => {
      const v = judge(value, crd, new Map(), { dialect: 'custom', path: 'spec' });
      return v.verdict === 'refused' ? `${v.refusal.path}: ${v.refusal.rule}` : v.verdict;
    };
    assert.equal(why({ size: 3, extra: { any: [1] }, opt: null }), 'passes');
    assert.equal(why({}), 'spec.size: required');
    assert.equal(why({ size: 0 }), 'spec.size: 0 must be at least 1');
    assert.equal(why({ size: 11 }), 'spec.size: 11 must be at most 10');
    assert.equal(why({ size: 1, mode: 'odd' }), 'spec.mode: "odd" must be one of "fast", "slow"');
    assert.equal(why({ size: 1, name: 'Abc' }), 'spec.name: "Abc" must match ^[a-z]+$');
    assert.equal(why({ size: 1, name: 'abcdef' }), 'spec.name: may have at most 5 characters');
    assert.equal(why({ size: 1, tags: ['a', 'b', 'c'] }), 'spec.tags: may have at most 2 items');
    assert.equal(why({ size: '1' }), 'spec.size: must be an integer');
    assert.equal(why({ size: 1, bogus: 1 }), 'spec.bogus: field not declared in schema');
  });
});
