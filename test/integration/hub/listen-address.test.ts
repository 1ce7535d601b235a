// A hub started on a port another process holds: one line on stderr naming the flag and the
// address, a non-zero exit, and nothing created in its data directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

const HUB_BIN = resolve(import.meta.dirname, '../../../hub/bin/driftless-hub.ts');

/** Runs `driftless-hub` with `args` to its exit: exit code and stderr. */
async function runHub(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [HUB_BIN, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info', OTEL_TRACES_EXPORTER: 'none' },
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return { code, stderr };
}

describe('hub on a taken port', { timeout: 60_000 }, () => {
  let holder: Server;
  let taken: string;
  before(async () => {
    holder = createServer();
    await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, r));
    taken = `127.0.0.1:${(holder.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => holder.close(r));
  });

  for (const [flag, other] of [
    ['--http-address', '--grpc-address'],
    ['--grpc-address', '--http-address'],
  ] as const) {
    it(`names ${flag} in one line, exits non-zero and creates nothing`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'driftless-hub-port-'));
      const { code, stderr } = await runHub([
        '--data-dir',
        dataDir,
        flag,
        taken,
        other,
        '127.0.0.1:0',
      ]);
      assert.equal(stderr, `driftless-hub: ${flag} ${taken}: address already in use\n`);
      assert.notEqual(code, 0);
      assert.deepEqual(readdirSync(dataDir), [], 'no store, CA or key was created');
    });
  }
});
