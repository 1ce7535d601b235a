import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorMessage } from '@driftless/common';
import { fsCause } from './errors.ts';
import { Checkout } from './paths.ts';

describe('render messages never name the agent work directory', () => {
  it('a checkout that is gone says so without its absolute path', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'driftless-paths-'));
    await rm(dir, { recursive: true });
    const err = await Checkout.open(dir).then(
      () => assert.fail('opened a missing checkout'),
      (e: unknown) => e,
    );
    assert.equal(errorMessage(err), 'render: the checkout of this commit is gone: ENOENT');
    assert.ok(!errorMessage(err).includes(dir));
  });

  it('keeps only the code of a file-system error', () => {
    const raw = Object.assign(new Error("EACCES: permission denied, open '/tmp/x/secret'"), {
      code: 'EACCES',
    });
    assert.equal(fsCause(raw).message, 'EACCES');
    assert.equal((fsCause(raw) as NodeJS.ErrnoException).code, 'EACCES');
    assert.equal(fsCause(new Error('odd')).message, 'file-system error');
  });
});
