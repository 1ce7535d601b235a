import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError, objectError } from './client.ts';

const cause = (field: string, message: string) => ({ field, reason: 'FieldValueInvalid', message });

describe('KubeApiError', () => {
  it('names the fields that cannot change, whatever words the server uses', () => {
    const err = new KubeApiError('Invalid: …', 422, 'Invalid', {
      causes: [
        cause('spec.template', 'field is immutable'),
        cause(
          'spec',
          "Forbidden: updates to statefulset spec for fields other than 'replicas' are forbidden",
        ),
        cause('roleRef', 'Invalid value: ...: cannot change roleRef'),
        cause('spec.replicas', 'must be greater than or equal to 0'),
      ],
    });
    assert.deepEqual(err.immutableFields, ['spec.template', 'spec', 'roleRef']);
  });
  it('makes one message naming the object, the server text said once', () => {
    const api = new KubeApiError('Invalid: spec.template: field is immutable', 422, 'Invalid', {
      serverMessage:
        'Job.batch "x" is invalid: spec.template: Invalid value: core.PodTemplateSpec{…2 KB…}: field is immutable',
    });
    const err = objectError(
      'apply',
      { apiVersion: 'batch/v1', kind: 'Job', namespace: 'n', name: 'x' },
      api,
    );
    assert.equal(err.message, 'apply Job n/x: Invalid: spec.template: field is immutable');
    assert.equal(err.cause, api);
  });
});
