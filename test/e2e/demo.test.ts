/**
 * `make demo` as a person uses it: `node test/demo/demo.ts` starts the whole product, waits
 * until both clusters converged (prod's manual app waiting for an approval) and prints what to
 * try. Every line it prints after `$ ` is a command; this test runs them in one shell, in the
 * order printed, exactly as printed, with only the checkout's `bin/` launchers to find
 * `driftless` (the first printed command puts them on PATH). Then Ctrl-C stops everything and
 * the demo exits 0.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { hubApi, waitFor } from '@driftless/test';

const DEMO = resolve(import.meta.dirname, '../demo/demo.ts');
const ROOT = resolve(import.meta.dirname, '../..');

/** The commands of the demo's summary: each `$ ` line, with its `\` continuation lines. */
export function printedCommands(out: string): string[] {
  const commands: string[] = [];
  let open: string | undefined;
  for (const line of out.split('\n')) {
    if (open !== undefined) {
      open += `\n${line}`;
    } else {
      const m = /^\s*\$ (.*)$/.exec(line);
      if (!m) continue;
      open = m[1]!;
    }
    if (!open.endsWith('\\')) {
      commands.push(open);
      open = undefined;
    }
  }
  return commands;
}

/** Runs `script` in bash, stopping at the first failing command; resolves with code and output. */
async function runShell(script: string, env: NodeJS.ProcessEnv) {
  const child = spawn('bash', ['-euo', 'pipefail', '-x', '-c', script], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

describe('make demo', { timeout: 600_000 }, () => {
  it('prints driftless commands that work as printed, in the order printed, and stops on Ctrl-C', async () => {
    const demo = spawn(process.execPath, [DEMO], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = once(demo, 'exit');
    try {
      await waitFor(
        'the demo to converge and print what to try',
        () => {
          if (demo.exitCode !== null) throw new Error(`the demo exited early:\n${out}`);
          return /(NOT )?Converged [\d.]+ s after start\./.test(out);
        },
        { timeoutMs: 300_000, everyMs: 250 },
      );
      assert.match(out, /\nConverged [\d.]+ s after start\./, out);
      assert.match(out, /notification: \[notify\.test\] .* \(signature ok\)/);
      for (const row of [
        /dev\s+infrastructure\s+[0-9a-f]{12}\s+synced\s+auto\s+healthy/,
        /dev\s+podinfo\s+[0-9a-f]{12}\s+synced\s+auto\s+healthy/,
        /prod\s+infrastructure\s+[0-9a-f]{12}\s+synced\s+auto\s+healthy/,
        /prod\s+podinfo\s+[0-9a-f]{12}\s+out-of-sync\s+manual/,
      ])
        assert.match(out, row);

      const commands = printedCommands(out);
      assert.ok(commands.length >= 10, `the demo prints its commands:\n${out}`);
      for (const c of commands)
        assert.doesNotMatch(
          c,
          /node |hub\/bin\/driftless\.ts|\.toolchain/,
          `a driftless command: ${c}`,
        );
      assert.ok(commands.some((c) => c.startsWith('driftless approve prod/podinfo')));
      // No API settings from the test's own environment: the printed exports must do it.
      const env = { ...process.env };
      delete env['DRIFTLESS_HUB'];
      delete env['DRIFTLESS_TOKEN'];
      const shell = await runShell(commands.join('\n'), env);
      assert.equal(shell.code, 0, `the printed commands, run in order:\n${shell.out}`);
      assert.match(shell.out, /^CLI:\s+\d+\.\d+\.\d+/m);
      assert.match(shell.out, /^dev\s+done\s+2 apps synced and healthy$/m);
      assert.match(shell.out, /^=== Deployment podinfo\/podinfo \(apps\/v1\): create$/m);
      assert.match(shell.out, /^Approved prod\/podinfo at [0-9a-f]{12}/m);
      assert.match(shell.out, /^prod\s+done\s+1 app synced and healthy$/m);
      assert.match(shell.out, /"replicas": 2/);

      // The drift of step 2 reached the hub, with who made it.
      const hub = {
        httpUrl: /Hub \(dashboard\)\s+(\S+)\//.exec(out)![1]!,
        adminToken: /Admin API token\s+(\S+)/.exec(out)![1]!,
      };
      await waitFor('the hub to record the drift of step 2', async () => {
        const { items } = await hubApi(hub).get<{
          items: { cluster: string; changedBy: string }[];
        }>('/api/v1/drift?state=all&cluster=dev');
        return items.some((d) => d.changedBy === 'kubectl-edit');
      });
    } finally {
      demo.kill('SIGINT');
    }
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, out);
    assert.match(out, /stopped\.\n$/);
  });
});
