import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTED, redactValue } from './redact.ts';

const secret = { apiVersion: 'v1', kind: 'Secret' };
const configMap = { apiVersion: 'v1', kind: 'ConfigMap' };
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

describe('redactValue', () => {
  it('replaces the values of a Secret key, whatever the path spelling', () => {
    assert.equal(redactValue(secret, '.data.password', 'c2VjcmV0'), REDACTED);
    assert.equal(redactValue(secret, '.data["tls.crt"]', 'Y2VydA=='), REDACTED);
    assert.equal(redactValue(secret, '.stringData.token', 'plain'), REDACTED);
  });

  it('keeps the keys of a whole map and of a whole object, and what is not secret', () => {
    assert.deepEqual(redactValue(secret, '.data', { a: 'eA==', 'b.c': 'eQ==' }), {
      a: REDACTED,
      'b.c': REDACTED,
    });
    const whole = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', annotations: { [LAST_APPLIED]: '{"data":{"a":"eA=="}}', team: 'x' } },
      type: 'Opaque',
      data: { a: 'eA==' },
      stringData: { b: 'y' },
    };
    assert.deepEqual(redactValue(secret, '.', whole), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', annotations: { [LAST_APPLIED]: REDACTED, team: 'x' } },
      type: 'Opaque',
      data: { a: REDACTED },
      stringData: { b: REDACTED },
    });
    assert.equal(redactValue(secret, `.metadata.annotations["${LAST_APPLIED}"]`, '{}'), REDACTED);
    assert.equal(redactValue(secret, '.metadata.annotations.team', 'x'), 'x');
    assert.equal(redactValue(secret, '.type', 'Opaque'), 'Opaque');
  });

  it('leaves other kinds and absent values alone', () => {
    assert.equal(redactValue(configMap, '.data.password', 'visible'), 'visible');
    assert.equal(redactValue(secret, '.data.password', undefined), undefined);
  });
});
