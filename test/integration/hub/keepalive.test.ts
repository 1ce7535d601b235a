// An agent whose event loop is held up (here: its process stopped with SIGSTOP) for longer than
// the old 10 s ping timeout keeps its stream. The hub pings every connection every 30 s and drops
// one whose ping goes unanswered; at fleet size a CPU-starved hub or simulator answered late, and
// the hub dropped agents as fast as they connected (docs/benchmarks.md, "Hub at fleet scale").
// A 45 s stop spans at least one ping (30 s apart) that then waits at least 15 s for its answer.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@driftless/test';
import { api, enroll, makeAgentKey, startHubProcess, type HubProcess } from './helpers.ts';

const STALL_AGENT = resolve(import.meta.dirname, 'stall-agent.ts');
/** Longer than the old ping timeout plus the ping interval (10 s + 30 s). */
const STALL_MS = 45_000;

describe('a hub keeps the stream of an agent that answers its pings late', () => {
  let hub: HubProcess;
  let agent: ChildProcess;
  let out = '';

  before(async () => {
    hub = await startHubProcess({});
    const created = await api(hub, hub.bootstrapToken, 'POST', '/api/v1/tokens', {
      cluster: 'slow',
    });
    const { token } = created.body as { token: string };
    const key = await makeAgentKey();
    const res = await enroll(hub, { token, clusterName: 'slow', csrPem: key.csrPem });
    const file = join(mkdtempSync(join(tmpdir(), 'driftless-stall-')), 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({
        hub: { grpc: hub.grpc, caPem: hub.caPem },
        identity: { keyPem: key.keyPem, certPem: res.certificatePem },
        cluster: 'slow',
      }),
    );
    agent = spawn(process.execPath, [STALL_AGENT, file], { stdio: ['pipe', 'pipe', 'inherit'] });
    agent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  });
  after(async () => {
    agent?.kill('SIGCONT');
    agent?.kill('SIGKILL');
    await hub?.stop();
  });

  it('still stores and acks its reports after it was stopped for 45 s', async () => {
    await waitFor('the ack of the Hello', () => out.includes('ack 0\n'));
    agent.kill('SIGSTOP');
    // The stall itself, not a wait for an event: the agent cannot answer for this long.
    await sleep(STALL_MS);
    agent.kill('SIGCONT');
    agent.stdin!.write('report 1\n');
    await waitFor('the ack of report 1, or the end of the stream', () =>
      /ack 1\n|ended /.test(out),
    );
    assert.doesNotMatch(out, /ended /, 'the hub dropped the stream');
    assert.match(out, /ack 1\n/);
    const cluster = await api(hub, hub.bootstrapToken, 'GET', '/api/v1/clusters/slow');
    assert.equal((cluster.body as { connected: boolean }).connected, true);
  });
});
