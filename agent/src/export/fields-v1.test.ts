import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listItemSet, ownsPath, pickFields, unionFieldSets, type FieldSet } from './fields-v1.ts';

describe('pickFields', () => {
  it('keeps the map fields a set names and drops the rest', () => {
    const value = { spec: { replicas: 2, progressDeadlineSeconds: 600 }, status: { ready: 1 } };
    const set: FieldSet = { 'f:spec': { 'f:replicas': {} } };
    assert.deepEqual(pickFields(value, set), { spec: { replicas: 2 } });
  });

  it('keeps a whole value where the set owns a node without naming its children', () => {
    const value = { spec: { selector: { matchLabels: { app: 'web' } }, args: ['a', 'b'] } };
    const set: FieldSet = { 'f:spec': { 'f:selector': {}, 'f:args': {} } };
    assert.deepEqual(pickFields(value, set), value);
  });

  it('matches associative list items by their key fields, in any key order', () => {
    const value = {
      ports: [
        { port: 80, protocol: 'TCP', name: 'http', targetPort: 8080 },
        { port: 443, protocol: 'TCP', name: 'https', targetPort: 8443 },
      ],
    };
    const set: FieldSet = {
      'f:ports': {
        '.': {},
        'k:{"protocol":"TCP","port":443}': {
          '.': {},
          'f:port': {},
          'f:protocol': {},
          'f:name': {},
        },
      },
    };
    assert.deepEqual(pickFields(value, set), {
      ports: [{ port: 443, protocol: 'TCP', name: 'https' }],
    });
  });

  it('matches set items by value and atomic-element list items by index', () => {
    const value = { finalizers: ['a.example/x', 'b.example/y'], list: ['p', 'q', 'r'] };
    const set: FieldSet = {
      'f:finalizers': { '.': {}, 'v:"b.example/y"': {} },
      'f:list': { 'i:0': {}, 'i:2': {} },
    };
    assert.deepEqual(pickFields(value, set), { finalizers: ['b.example/y'], list: ['p', 'r'] });
  });

  it('keeps a map that is a member with `.` even when none of its fields is', () => {
    assert.deepEqual(pickFields({ m: { a: 1 } }, { 'f:m': { '.': {} } }), { m: { a: 1 } });
    assert.deepEqual(pickFields({ m: { a: 1, b: 2 } }, { 'f:m': { '.': {}, 'f:b': {} } }), {
      m: { b: 2 },
    });
  });

  it('ignores fields the set names but the object no longer has', () => {
    assert.deepEqual(pickFields({ a: 1 }, { 'f:a': {}, 'f:gone': {} }), { a: 1 });
  });
});

describe('unionFieldSets', () => {
  it('unions the paths of every set without changing its inputs', () => {
    const a: FieldSet = { 'f:spec': { 'f:replicas': {} } };
    const b: FieldSet = {
      'f:spec': { 'f:paused': {} },
      'f:metadata': { 'f:labels': { 'f:x': {} } },
    };
    assert.deepEqual(unionFieldSets([a, b]), {
      'f:spec': { 'f:replicas': {}, 'f:paused': {} },
      'f:metadata': { 'f:labels': { 'f:x': {} } },
    });
    assert.deepEqual(a, { 'f:spec': { 'f:replicas': {} } });
  });

  it('keeps a node owned by one set as a member when another names its children', () => {
    const union = unionFieldSets([{ 'f:sc': {} }, { 'f:sc': { 'f:runAsUser': {} } }]);
    assert.deepEqual(union, { 'f:sc': { 'f:runAsUser': {}, '.': {} } });
  });
});

describe('ownsPath', () => {
  const live = { spec: { containers: [{ name: 'web', image: 'nginx', args: ['-v'] }] } };
  const set: FieldSet = {
    'f:spec': {
      'f:containers': {
        'k:{"name":"web"}': { '.': {}, 'f:name': {}, 'f:image': {}, 'f:args': {} },
      },
    },
  };

  it('follows list items by key and fields by name', () => {
    assert.equal(ownsPath(set, live, ['spec', 'containers', 0, 'image']), true);
    assert.equal(ownsPath(set, live, ['spec', 'containers', 0, 'imagePullPolicy']), false);
  });

  it('owns what is below an atomic field', () => {
    assert.equal(ownsPath(set, live, ['spec', 'containers', 0, 'args', 0]), true);
  });

  it('does not own anything with an empty set', () => {
    assert.equal(ownsPath({}, live, ['spec']), false);
  });

  it('finds no item for a key that does not parse', () => {
    assert.equal(listItemSet({ 'k:{oops': {} }, { name: 'web' }, 0), undefined);
  });
});
