import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

const MAIN = resolve(import.meta.dirname, 'main.ts');

describe('guardProcess', () => {
  it('logs an uncaught error and a stray rejection, and the process keeps running', () => {
    // A child process, since the guard changes process-wide behaviour.
    const script = `
      import { createLogger } from '@driftless/common';
      import { guardProcess } from ${JSON.stringify(MAIN)};
      guardProcess(createLogger({ name: 'hub', destination: process.stdout }));
      setTimeout(() => { throw new Error('boom from a listener'); }, 0);
      void Promise.reject(new Error('nobody awaited this'));
      setTimeout(() => console.log(JSON.stringify({ alive: true })), 50);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg?: string; alive?: boolean });
    assert.ok(lines.some((l) => l.msg === 'uncaught error; the hub keeps serving'));
    assert.ok(lines.some((l) => l.msg === 'unhandled rejection; the hub keeps serving'));
    assert.ok(
      lines.some((l) => l.alive),
      'the process ran on after both',
    );
  });
});
