import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorFor } from './notifications.ts';

describe('the delivery log', () => {
  it('shows what a destination answered to admins only; others see up to the HTTP status', () => {
    const error = 'webhook ops: HTTP 500: internal-secret-page xxxx';
    assert.equal(errorFor(error, true), error);
    assert.equal(errorFor(error, false), 'webhook ops: HTTP 500');
    const unreachable = 'webhook ops: cannot reach the destination (ECONNREFUSED)';
    assert.equal(errorFor(unreachable, false), unreachable);
  });
});
