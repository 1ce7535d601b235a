import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Plan, PlannedObject } from '../plan/index.ts';
import { formatPlan, formatValue, hasChanges, planJson } from './plan-printer.ts';

function planned(
  action: PlannedObject['action'],
  kind: string,
  name: string,
  diff: PlannedObject['diff'] = [],
): PlannedObject {
  return {
    ref: { apiVersion: 'v1', kind, namespace: 'shop', name },
    action,
    diff,
    phase: 3,
    wave: 0,
  };
}

function plan(objects: PlannedObject[]): Plan {
  const counts = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const o of objects) counts[o.action]++;
  return { revision: 'working-tree', objects, digest: 'abc123', counts, kept: [] };
}

describe('formatPlan', () => {
  const mixed = plan([
    planned('create', 'ConfigMap', 'new', [{ path: '.data', after: { a: '1' } }]),
    planned('update', 'ConfigMap', 'settings', [
      { path: '.data.color', before: 'blue', after: 'green' },
      { path: '.data.size', after: 'L' },
      { path: '.data.old', before: 'x' },
    ]),
    planned('unchanged', 'Service', 'web'),
  ]);

  it('shows creates, updates with their fields, and a summary with counts and digest', () => {
    assert.equal(
      formatPlan(mixed),
      [
        '+ create ConfigMap shop/new',
        '~ update ConfigMap shop/settings',
        '    .data.color: "blue" → "green"',
        '    .data.size: (absent) → "L"',
        '    .data.old: "x" → (absent)',
        'Plan: 1 to create, 1 to update, 1 unchanged. Digest abc123',
        '',
      ].join('\n'),
    );
  });

  it('lists unchanged objects and the fields of creates when verbose', () => {
    const text = formatPlan(mixed, { verbose: true });
    assert.match(text, /^= unchanged Service shop\/web$/m);
    assert.match(text, /^ {4}\.data: \(absent\) → \{"a":"1"\}$/m);
  });

  it('says so when nothing changes', () => {
    const same = plan([planned('unchanged', 'Service', 'web')]);
    assert.equal(hasChanges(same), false);
    assert.equal(formatPlan(same), 'No changes: 1 object unchanged. Digest abc123\n');
  });

  it('counts deletes only when there are some', () => {
    const text = formatPlan(plan([planned('delete', 'ConfigMap', 'gone')]));
    assert.match(text, /^- delete ConfigMap shop\/gone$/m);
    assert.match(text, /Plan: 0 to create, 0 to update, 1 to delete, 0 unchanged\./);
  });
});

describe('formatValue', () => {
  it('cuts long values', () => {
    const text = formatValue('x'.repeat(500), 20);
    assert.equal(text.length, 20);
    assert.ok(text.endsWith('…'));
  });
});

describe('planJson', () => {
  it('is the plan for scripts, with a changes flag', () => {
    const json = JSON.parse(planJson(plan([planned('update', 'ConfigMap', 'settings')]))) as {
      changes: boolean;
      digest: string;
      objects: { action: string; ref: { name: string } }[];
    };
    assert.equal(json.changes, true);
    assert.equal(json.digest, 'abc123');
    assert.deepEqual(
      json.objects.map((o) => [o.action, o.ref.name]),
      [['update', 'settings']],
    );
  });
});
