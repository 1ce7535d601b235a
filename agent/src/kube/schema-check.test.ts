import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactSchema, conforms, type Schema } from './schema-check.ts';

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
        protocol: { type: 'string', default: 'TCP' },
        name: { type: 'string' },
      },
    });
  });
});
