import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../model.ts';
import type { Verdict } from './compare.ts';
import { changeTime } from './episodes.ts';

const live = (entries: object[]): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'prod', managedFields: entries },
});

const modified = (obj: KubeObject): Exclude<Verdict, { kind: 'in-line' }> => ({
  kind: 'modified',
  live: obj,
  fields: [],
  fought: [],
  changedBy: 'kubectl-edit',
});

const entry = (manager: string, time: string, subresource?: string) => ({
  manager,
  operation: 'Update',
  time,
  ...(subresource ? { subresource } : {}),
  fieldsType: 'FieldsV1',
  fieldsV1: { 'f:spec': { 'f:replicas': {} } },
});

describe('when a drift happened', () => {
  const written = Date.parse('2026-11-30T10:00:05Z');
  it("takes the changing manager's managedFields time when the event came after it", () => {
    const obj = live([
      entry('driftless', '2026-11-30T09:00:00Z'),
      entry('kubectl-edit', '2026-11-30T10:00:05Z'),
      entry('kubectl-edit', '2026-11-30T10:00:09Z', 'status'),
    ]);
    assert.deepEqual(changeTime(modified(obj), 'kubectl-edit', written + 300, written + 400), {
      changedAt: written,
      changedAtSource: 'managed-fields',
    });
  });

  it('falls back to the watch event for deletions and writes recorded later than seen', () => {
    const obj = live([entry('kubectl-edit', '2026-11-30T10:00:05Z')]);
    assert.deepEqual(changeTime(modified(obj), 'kubectl-edit', written - 2000, written), {
      changedAt: written - 2000,
      changedAtSource: 'watch-event',
    });
    assert.deepEqual(changeTime({ kind: 'deleted' }, '', written, written + 50), {
      changedAt: written,
      changedAtSource: 'watch-event',
    });
  });

  it('knows nothing without an event or a managedFields time', () => {
    assert.deepEqual(changeTime({ kind: 'deleted' }, '', undefined, written), {});
    assert.deepEqual(changeTime(modified(live([])), 'kubectl-edit', undefined, written), {});
    const obj = live([entry('kubectl-edit', '2026-11-30T10:00:05Z')]);
    assert.deepEqual(changeTime(modified(obj), 'kubectl-edit', undefined, written + 10), {
      changedAt: written,
      changedAtSource: 'managed-fields',
    });
  });
});
