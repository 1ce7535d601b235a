/**
 * `make demo` in its non-interactive form: `node test/demo/demo.ts --check` starts the whole
 * product, waits until both clusters' apps are Synced and Healthy on the hub (prod's manual app
 * waiting for an approval), prints the summary a person would read, stops everything and
 * exits 0.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const DEMO = resolve(import.meta.dirname, '../demo/demo.ts');
const ROOT = resolve(import.meta.dirname, '../..');

/** Runs the demo to its end; resolves with its exit code and output. */
function runDemo(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolveRun({ code, out }));
  });
}

describe('make demo', { timeout: 180_000 }, () => {
  it('--check starts everything, converges, prints how to use it and stops', async () => {
    const { code, out } = await runDemo(['--check']);
    assert.equal(code, 0, out);
    assert.match(out, /Converged [\d.]+ s after start\./);
    assert.match(out, /notification: \[notify\.test\] .* \(signature ok\)/);
    assert.match(out, /Hub \(dashboard\)\s+http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(out, /Admin API token\s+at_[0-9a-f]{16}\.\S+/);
    assert.match(out, /Fleet repository\s+http:\/\/driftless:[^@\s]+@127\.0\.0\.1:\d+\/fleet\.git/);
    assert.match(out, /Kubeconfig dev\s+\S+kubeconfig/);
    assert.match(out, /Kubeconfig prod\s+\S+kubeconfig/);
    for (const row of [
      /dev\s+infrastructure\s+[0-9a-f]{12}\s+synced\s+auto\s+healthy/,
      /dev\s+podinfo\s+[0-9a-f]{12}\s+synced\s+auto\s+healthy/,
      /prod\s+infrastructure\s+[0-9a-f]{12}\s+synced\s+auto\s+healthy/,
      /prod\s+podinfo\s+[0-9a-f]{12}\s+out-of-sync\s+manual/,
    ])
      assert.match(out, row);
    // The approve command is ready to paste: the real revision and plan digest.
    assert.match(
      out,
      /approve --cluster prod --app podinfo \\\n\s+--revision [0-9a-f]{40} --plan-digest \S+/,
    );
    assert.match(out, /stopped\.\n$/);
  });
});
