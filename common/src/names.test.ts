import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDnsLabel, isLabelKey, isLabelValue } from './names.ts';
import { redactUrl } from './urls.ts';

describe('names and labels (Kubernetes rules)', () => {
  it('takes DNS labels as cluster and app names, and nothing else', () => {
    for (const ok of ['a', 'prod-eu', '0x', 'a'.repeat(63)]) assert.ok(isDnsLabel(ok), ok);
    for (const bad of ['', 'Prod', 'prod.eu', '-a', 'a-', 'a_b', 'a'.repeat(64), 'a b'])
      assert.ok(!isDnsLabel(bad), bad);
  });

  it('takes label keys with an optional DNS prefix, and label values', () => {
    for (const ok of ['env', 'app.kubernetes.io/name', 'a_b.c-d', 'x/y'])
      assert.ok(isLabelKey(ok), ok);
    for (const bad of ['', '/x', 'Upper.Case/x', 'x/', '-x', 'a'.repeat(64), 'a/b/c'])
      assert.ok(!isLabelKey(bad), bad);
    for (const ok of ['', 'prod', 'v1.2_3']) assert.ok(isLabelValue(ok), ok);
    for (const bad of ['-x', 'x-', 'a b', 'a'.repeat(64)]) assert.ok(!isLabelValue(bad), bad);
  });
});

describe('redactUrl', () => {
  it('drops user info, query and fragment, which may carry a token', () => {
    assert.equal(
      redactUrl('https://user:s3cret@git.example.com:8443/org/fleet.git?private_token=t#x'),
      'https://git.example.com:8443/org/fleet.git',
    );
    assert.equal(redactUrl('git@github.com:org/fleet.git'), 'github.com:org/fleet.git');
    assert.equal(redactUrl('not a url with a token abc123'), '<invalid URL>');
  });
});
