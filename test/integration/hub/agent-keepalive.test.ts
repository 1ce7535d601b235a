// The agent's side of keepalive.test.ts: an agent keeps its stream to a hub whose event loop is
// held up (here: the hub process stopped with SIGSTOP) for longer than the agent's old 10 s ping
// timeout. The agent's transport (GrpcTransport, as `driftless-agent run` uses it, with its
// defaults) pings every 20 s; a 35 s stop spans at least one ping that then goes unanswered for
// at least 15 s. With the old timeout the agent dropped the connection, and at fleet size every
// agent of a busy hub reconnected at once (docs/benchmarks.md, "Hub at fleet scale").
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { GrpcTransport, type LinkStream, type StreamEnd } from '@driftless/agent';
import { AgentMessage, type AgentMessageBody, type HubMessage } from '@driftless/proto';
import { waitFor } from '@driftless/test';
import { api, enroll, makeAgentKey, startHubProcess, type HubProcess } from './helpers.ts';

/** Longer than the agent's ping interval plus its old ping timeout (20 s + 10 s). */
const STALL_MS = 35_000;

describe('an agent keeps its stream to a hub that answers its pings late', () => {
  let hub: HubProcess;
  let stream: LinkStream;
  const acks: bigint[] = [];
  /** How the stream ended, once it has. */
  const link: { ended?: StreamEnd } = {};
  const endOf = (): StreamEnd | undefined => link.ended;

  before(async () => {
    hub = await startHubProcess({});
    const created = await api(hub, hub.bootstrapToken, 'POST', '/api/v1/tokens', {
      cluster: 'patient',
    });
    const { token } = created.body as { token: string };
    const key = await makeAgentKey();
    const res = await enroll(hub, { token, clusterName: 'patient', csrPem: key.csrPem });
    stream = new GrpcTransport({ address: hub.grpc }).connect(
      { keyPem: key.keyPem, certPem: res.certificatePem, caPem: hub.caPem },
      {
        onMessage: (m: HubMessage) => {
          if (m.body?.$case === 'ack') acks.push(m.body.value.agentSeq);
        },
        onDrain: () => undefined,
        onEnd: (e) => (link.ended = e),
      },
    );
  });
  after(async () => {
    hub?.proc.kill('SIGCONT');
    stream?.close();
    await hub?.stop();
  });

  const send = (seq: bigint, body: AgentMessageBody) =>
    stream.write(AgentMessage.create({ seq, body, sentAtUnixMs: BigInt(Date.now()) }));

  it('still has its reports stored and acked after the hub was stopped for 35 s', async () => {
    send(0n, {
      $case: 'hello',
      value: {
        clusterName: 'patient',
        agentVersion: 'test',
        lastAckedHubSeq: 0n,
        labels: {},
        apps: [],
        repoUrl: '',
        branch: '',
      },
    });
    await waitFor('the ack of the Hello', () => acks.length > 0 || link.ended !== undefined);
    assert.equal(link.ended, undefined, `the stream ended before the stall: ${endOf()?.details}`);
    hub.proc.kill('SIGSTOP');
    // The stall itself, not a wait for an event: the hub cannot answer for this long.
    await sleep(STALL_MS);
    hub.proc.kill('SIGCONT');
    send(1n, {
      $case: 'reportsDropped',
      value: { firstSeq: 0n, lastSeq: 0n, count: 1n, summary: 'test' },
    });
    await waitFor('the ack of report 1, or the end of the stream', () =>
      acks.includes(1n) || link.ended !== undefined ? true : undefined,
    );
    assert.equal(link.ended, undefined, `the agent dropped the stream: ${endOf()?.details}`);
    assert.ok(acks.includes(1n));
    const cluster = await api(hub, hub.bootstrapToken, 'GET', '/api/v1/clusters/patient');
    assert.equal((cluster.body as { connected: boolean }).connected, true);
  });
});
