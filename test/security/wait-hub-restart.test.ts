// `driftless wait` in a CI job while the hub restarts (an upgrade, a node drain): the real
// `driftless-hub` process, stopped and started again on its data directory and address, a
// simulated agent over real gRPC (mTLS) that reconnects with its certificate, and the real
// `driftless` CLI process. The wait must ride out the hub's absence (saying so on stderr) and
// end 0 when the revision lands, not fail the pipeline with "cannot reach the hub"; a wrong
// address still fails at once.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, waitFor } from '@driftless/test';
import {
  api,
  connect,
  enroll,
  makeAgentKey,
  startHubProcess,
  type AgentStream,
  type HubProcess,
} from '../integration/hub/helpers.ts';
import { appStatus, REV } from '../browser/fleet.ts';

const CLI = resolve(import.meta.dirname, '../../hub/bin/driftless.ts');

describe('driftless wait across a hub restart', { timeout: 120_000 }, () => {
  let hub: HubProcess;
  let admin: string;
  let port: number;
  let identity: { keyPem: string; certPem: string };
  let stream: AgentStream | undefined;
  /** The agent's report seqs go on across connections, as a real agent's outbox does. */
  let agentSeq = 0n;
  let wait: ChildProcess | undefined;

  const startHub = (dataDir?: string) =>
    startHubProcess({
      ...(dataDir ? { dataDir } : {}),
      args: ['--http-address', `127.0.0.1:${port}`],
    });

  /** Connects the agent, says Hello and reports `web` synced and healthy at `revision`. */
  const report = async (revision: string) => {
    stream?.close();
    stream = connect(hub, identity);
    stream.send(0n, {
      $case: 'hello',
      value: {
        clusterName: 'edge',
        agentVersion: '0.1.0',
        lastAckedHubSeq: 0n,
        labels: {},
        apps: [],
        repoUrl: 'https://git.example.com/platform/fleet.git',
        branch: 'main',
      },
    });
    await stream.next(20_000);
    const seq = ++agentSeq;
    stream.send(seq, appStatus({ app: 'web', revision }));
    for (;;) {
      const m = await stream.next(20_000);
      if (m.body?.$case === 'ack' && m.body.value.agentSeq >= seq) return;
    }
  };

  /** Starts `driftless wait`; resolves with its exit code and output when it ends. */
  const startWait = (hubUrl: string, revision: string) => {
    const out = { stdout: '', stderr: '', code: null as number | null };
    const proc = spawn(
      process.execPath,
      [CLI, 'wait', '--revision', revision, '--cluster', 'edge', '--timeout', '90s'],
      {
        env: { ...process.env, DRIFTLESS_HUB: hubUrl, DRIFTLESS_TOKEN: admin },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    proc.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
    const ended = new Promise<number>((done) =>
      proc.once('exit', (code) => done((out.code = code ?? -1))),
    );
    return { proc, out, ended };
  };

  before(async () => {
    port = await freePort();
    hub = await startHub();
    admin = hub.bootstrapToken!;
    const t = await api(hub, admin, 'POST', '/api/v1/tokens', { cluster: 'edge' });
    const key = await makeAgentKey();
    const enrolled = await enroll(hub, {
      token: (t.body as { token: string }).token,
      clusterName: 'edge',
      csrPem: key.csrPem,
    });
    identity = { keyPem: key.keyPem, certPem: enrolled.certificatePem };
    await report(REV('a'));
  });
  after(async () => {
    wait?.kill('SIGTERM');
    stream?.close();
    await hub?.stop();
  });

  it('waits through the restart and ends 0 when the revision lands', async () => {
    const w = startWait(hub.http, REV('b').slice(0, 12));
    wait = w.proc;
    await waitFor('wait to say what it waits for', () => w.out.stderr.includes('waiting for'));

    await hub.stop();
    await waitFor(
      'wait to notice the hub is gone, or to end',
      () => w.out.stderr.includes('hub unavailable') || w.out.code !== null,
    );
    assert.equal(w.out.code, null, `wait ended while the hub restarted: ${w.out.stderr}`);

    hub = await startHub(hub.dataDir);
    await report(REV('b'));
    const code = await w.ended;
    assert.equal(code, 0, w.out.stderr);
    assert.match(w.out.stderr, /hub unavailable \(cannot reach the hub at .*\); trying again/);
    assert.match(w.out.stderr, /the hub answers again/);
    assert.match(w.out.stdout, /^edge\s+done\s+1 app synced and healthy$/m);
  });

  it('still fails at once, exit 1, when the hub was never there', async () => {
    const w = startWait(`http://127.0.0.1:${await freePort()}`, REV('b'));
    wait = w.proc;
    assert.equal(await w.ended, 1);
    assert.match(w.out.stderr, /^driftless: cannot reach the hub at /);
    assert.equal(w.out.stderr.trim().split('\n').length, 1, w.out.stderr);
  });
});
