import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { driftlessVersion, formatVersion } from './version.ts';

test('from a checkout the version is the root package.json version', () => {
  const root = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(driftlessVersion().version, root.version);
});

test('formatVersion shows a 12-character commit, or only the version without one', () => {
  assert.equal(formatVersion({ version: '1.2.3' }), '1.2.3');
  assert.equal(
    formatVersion({ version: '1.2.3', commit: '0123456789abcdef0123456789abcdef01234567' }),
    '1.2.3 (commit 0123456789ab)',
  );
});
