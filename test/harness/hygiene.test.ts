import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/start-servers.ts', import.meta.url));

interface Started {
  dirs: string[];
  pids: number[];
}

/** Runs the fixture with `args` and resolves with what it started, leaving it running. */
async function startInChild(
  args: string[],
): Promise<{ started: Started; kill: () => Promise<void> }> {
  const child = spawn(process.execPath, [FIXTURE, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`fixture exited with ${code} before starting its servers`)),
    );
  });
  lines.close();
  return {
    started: JSON.parse(first) as Started,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Pids of live (not zombie) processes whose command line mentions one of `dirs`. */
function processesUsing(dirs: string[]): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (dirs.some((dir) => cmdline.includes(dir))) found.push(`${pid}: ${cmdline.slice(0, 120)}`);
    } catch {
      // Ended while we looked.
    }
  }
  return found;
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Waits until nothing of `started` is left, or fails listing what is; resolves with the time it took. */
async function assertAllGone(started: Started, timeoutMs: number): Promise<number> {
  const start = Date.now();
  const leftOver = () => [
    ...processesUsing(started.dirs),
    ...started.pids.filter(isRunning).map((pid) => `pid ${pid}`),
    ...started.dirs.filter((dir) => existsSync(dir)),
  ];
  await waitFor('every server process and temp folder gone', () => leftOver().length === 0, {
    timeoutMs,
  }).catch(() => assert.fail(`still there after ${timeoutMs} ms:\n${leftOver().join('\n')}`));
  return Date.now() - start;
}

describe('process hygiene', () => {
  it('leaves no server process or temp folder behind when the test process is SIGKILLed', async (t) => {
    const { started, kill } = await startInChild(['cluster', 'git', 'nats', 'postgres']);
    assert.equal(started.dirs.length, 4);
    assert.ok(started.pids.every(isRunning), 'every server runs before the kill');
    assert.ok(processesUsing(started.dirs).some((p) => p.includes('kube-apiserver')));
    await kill();
    t.diagnostic(`cleaned up ${await assertAllGone(started, 15_000)} ms after SIGKILL`);
  });

  it('stops servers a test forgot to stop when the process exits', async (t) => {
    const { started } = await startInChild(['nats', '--exit']);
    t.diagnostic(`cleaned up ${await assertAllGone(started, 10_000)} ms after exit`);
  });
});
