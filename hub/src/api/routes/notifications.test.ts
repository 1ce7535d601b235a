import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeliveryRecord } from '../../store/index.ts';
import { deliveryView } from './notifications.ts';

const failed: DeliveryRecord = {
  id: 7,
  eventKey: 'sync:prod/web#1:sync.failed',
  ruleId: 'ops',
  destination: 'ops',
  event: { kind: 'sync.failed', title: 'Sync failed', cluster: 'prod', app: 'web' },
  status: 'failed',
  attempts: [
    {
      atMs: 1000,
      outcome: 'failed',
      error: 'webhook destination ops: HTTP 500',
      answer: 'internal-secret-page',
    },
  ],
  nextAttemptMs: 0,
  lastError: 'webhook destination ops: HTTP 500',
  lastAnswer: 'internal-secret-page',
  summaryId: 0,
  createdMs: 900,
  updatedMs: 1000,
};

describe('the delivery log', () => {
  it('shows what a destination answered to admins only, in its own fields', () => {
    const admin = deliveryView(failed, true);
    assert.equal(admin.lastAnswer, 'internal-secret-page');
    assert.equal(admin.attempts[0]!.answer, 'internal-secret-page');
    const viewer = deliveryView(failed, false);
    assert.equal(viewer.lastAnswer, '');
    assert.equal(viewer.attempts[0]!.answer, '');
    assert.equal(viewer.lastError, 'webhook destination ops: HTTP 500');
    assert.ok(!JSON.stringify(viewer).includes('internal-secret-page'));
  });
});
