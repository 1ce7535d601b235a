/**
 * No gRPC or NATS message ends the hub (issue: "the hub dies on input"): malformed, oversized,
 * out-of-order and garbage gRPC messages on an authenticated Connect stream and on Enroll,
 * and NATS messages on the agents' subjects (garbage payloads, an unknown cluster's subject,
 * another cluster's subject) and on the hubs' fan-out subjects. Against the real hub process
 * and nats-server; afterwards the hub answers, and a well-behaved agent still reports.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect, headers, jwtAuthenticator, type NatsConnection } from 'nats';
import { AgentMessage } from '@driftless/proto';
import { api, startHub, waitFor, type HubProcess } from '../integration/link/helpers.ts';
import {
  enrollmentToken,
  startLinkAgent,
  startRestartableNats,
  storedSyncIds,
  type LinkAgent,
  type RestartableNats,
} from '../integration/link/link-fixtures.ts';
import { NatsAuthority } from '../../hub/src/enroll/nats-auth.ts';

const HUB_BIN = path.resolve(import.meta.dirname, '../../hub/bin/driftless-hub.ts');
const CONNECT = '/driftless.v1.AgentService/Connect';
const ENROLL = '/driftless.v1.AgentService/Enroll';
const raw = (b: Buffer) => b;

describe('no gRPC or NATS message ends the hub', { timeout: 300_000 }, () => {
  let nats: RestartableNats;
  let hub: HubProcess;
  let admin: string;
  let dataDir: string;
  const dirs: string[] = [];
  const agents: LinkAgent[] = [];
  let grpcIdentity: { keyPem: string; certPem: string; caPem: string };
  let natsIdentity: { nats: { jwt: string; seed: string } };

  const alive = async () => {
    assert.equal(hub.proc.exitCode, null, `the hub exited: ${hub.stderr().slice(-3000)}`);
    assert.equal((await fetch(`${hub.http}/healthz`)).status, 200);
  };

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-fuzz-hub-'));
    dirs.push(dataDir);
    const config = execFileSync(process.execPath, [HUB_BIN, 'nats-config', '--data-dir', dataDir], {
      encoding: 'utf8',
    });
    nats = await startRestartableNats(config);
    hub = await startHub({ dataDir, args: ['--nats-url', nats.url] });
    admin = hub.bootstrapToken!;
    for (const [name, natsUrl] of [
      ['fuzz-grpc', undefined],
      ['fuzz-nats', nats.url],
    ] as const) {
      const workDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-fuzz-agent-'));
      dirs.push(workDir);
      const agent = startLinkAgent({
        hub,
        cluster: name,
        workDir,
        token: await enrollmentToken(hub, admin, name),
        ...(natsUrl ? { natsUrl } : {}),
      });
      agents.push(agent);
      await agent.waitState('connected');
      const identity = JSON.parse(
        await readFile(path.join(workDir, 'identity.json'), 'utf8'),
      ) as typeof grpcIdentity & typeof natsIdentity;
      if (natsUrl) natsIdentity = identity;
      else grpcIdentity = identity;
    }
  });
  after(async () => {
    for (const a of agents) await a.kill();
    await hub?.stop();
    await nats?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** Opens Connect with the enrolled identity, writes `frames` raw, and waits for its end. */
  const connectWith = (frames: Buffer[]) =>
    new Promise<string>((resolve) => {
      const creds = grpc.credentials.createSsl(
        Buffer.from(grpcIdentity.caPem),
        Buffer.from(grpcIdentity.keyPem),
        Buffer.from(grpcIdentity.certPem),
      );
      const client = new grpc.Client(hub.grpc, creds, {
        'grpc.ssl_target_name_override': 'localhost',
      });
      const call = client.makeBidiStreamRequest(CONNECT, raw, raw);
      let answer = 'ended';
      call.on('data', () => undefined);
      call.on(
        'error',
        (err: grpc.ServiceError) => (answer = grpc.status[err.code] ?? String(err.code)),
      );
      call.on('close', () => {
        client.close();
        resolve(answer);
      });
      for (const f of frames) call.write(f);
      call.end();
    });
  // Loosely typed on purpose: the cases include messages the contract does not allow.
  const encode = (m: Record<string, unknown>) =>
    Buffer.from(AgentMessage.encode(AgentMessage.create(m as never)).finish());
  const hello = (over: Record<string, unknown> = {}) =>
    encode({
      body: {
        $case: 'hello',
        value: {
          clusterName: 'fuzz-grpc',
          agentVersion: 'x',
          lastAckedHubSeq: 0n,
          labels: {},
          apps: [],
          repoUrl: 'https://git.example/x.git',
          branch: 'main',
          ...over,
        },
      },
    });

  it('gRPC: garbage, bodiless, oversized, out-of-order and lying messages are refused', async () => {
    const cases: [string, Buffer[]][] = [
      ['garbage bytes', [randomBytes(64), randomBytes(4096)]],
      ['no body', [encode({ seq: 1n })]],
      ['a report before the Hello', [encode({ seq: 1n, body: { $case: 'heartbeat', value: {} } })]],
      ['a Hello naming another cluster', [hello({ clusterName: 'someone-else' })]],
      ['100,000 apps', [hello({ apps: Array.from({ length: 100_000 }, (_, i) => `a${i}`) })]],
      ['3 MiB of labels', [hello({ labels: { k: 'v'.repeat(3 * 1024 * 1024) } })]],
      ['two Hellos', [hello(), hello()]],
      [
        'a report far ahead of the stored seq',
        [
          hello(),
          encode({
            seq: 1_000_000n,
            body: {
              $case: 'reportsDropped',
              value: { count: 1n, firstSeq: 1_000_000n, lastSeq: 1_000_000n, summary: 'x' },
            },
          }),
        ],
      ],
      [
        'a seq above 2^53',
        [
          hello(),
          encode({
            seq: 2n ** 60n,
            body: {
              $case: 'reportsDropped',
              value: { count: 1n, firstSeq: 0n, lastSeq: 0n, summary: '' },
            },
          }),
        ],
      ],
      [
        'a renewal with a garbage CSR',
        [hello(), encode({ body: { $case: 'renewCertificate', value: { csrPem: 'x' } } })],
      ],
    ];
    for (const [what, frames] of cases) {
      const answer = await connectWith(frames);
      assert.ok(!['OK', 'DEADLINE_EXCEEDED'].includes(answer), `${what}: ${answer}`);
      await alive();
    }
    // Enroll with garbage and with an enormous request.
    for (const body of [randomBytes(256), Buffer.alloc(3 * 1024 * 1024, 1)]) {
      const client = new grpc.Client(
        hub.grpc,
        grpc.credentials.createSsl(Buffer.from(grpcIdentity.caPem)),
        {
          'grpc.ssl_target_name_override': 'localhost',
        },
      );
      const code = await new Promise<number>((resolve) =>
        client.makeUnaryRequest(
          ENROLL,
          raw,
          raw,
          body,
          new grpc.Metadata(),
          { deadline: Date.now() + 15_000 },
          (err) => resolve(err?.code ?? 0),
        ),
      );
      client.close();
      assert.notEqual(code, grpc.status.OK);
      await alive();
    }
  });

  it('NATS: garbage on its own subjects, an unknown cluster’s and another cluster’s subjects, and fan-out', async () => {
    const agentNc = await connect({
      servers: nats.url,
      authenticator: jwtAuthenticator(
        natsIdentity.nats.jwt,
        new TextEncoder().encode(natsIdentity.nats.seed),
      ),
      inboxPrefix: '_INBOX.fuzz-nats',
    });
    for (const kind of ['hello', 'ack', 'renew', 'heartbeat', 'up', 'nonsense'])
      for (const payload of [randomBytes(32), Buffer.alloc(0), randomBytes(512 * 1024)])
        agentNc.publish(`driftless.agent.fuzz-nats.${kind}`, payload);
    // Reports together with a count that does not match, lengths past the end, garbage inside.
    const frames = (lengths: number[], body = randomBytes(64)) =>
      Buffer.concat(
        lengths.map((n) => {
          const b = Buffer.alloc(4);
          b.writeUInt32BE(n);
          return Buffer.concat([b, body.subarray(0, Math.min(n, body.length))]);
        }),
      );
    for (const [count, payload] of [
      ['2', frames([8, 8], randomBytes(8))],
      ['3', frames([8, 8], randomBytes(8))],
      ['1', frames([0xffffffff])],
      ['0', randomBytes(32)],
      ['-1', randomBytes(32)],
      ['99999', randomBytes(32)],
      ['x', randomBytes(32)],
    ] as const) {
      const h = headers();
      h.set('Driftless-Reports', count);
      agentNc.publish('driftless.agent.fuzz-nats.up', payload, { headers: h });
    }
    // Another cluster's subjects: the server refuses them (the credentials name one cluster).
    agentNc.publish('driftless.agent.fuzz-grpc.up', randomBytes(16));
    agentNc.publish('driftless.hubs.events', Buffer.from('{'));
    await agentNc.flush();
    await agentNc.close();
    // With the hub's own account: an unknown cluster's reports and garbage fan-out.
    const { auth } = await NatsAuthority.loadOrCreate(dataDir);
    const creds = await auth.hubCredentials();
    const hubNc: NatsConnection = await connect({
      servers: nats.url,
      authenticator: jwtAuthenticator(creds.jwt, creds.seed),
    });
    const js = hubNc.jetstream();
    await js.publish('driftless.agent.ghost.up', randomBytes(64));
    await js.publish(
      'driftless.agent.ghost.up',
      encode({ seq: 1n, body: { $case: 'heartbeat', value: {} } }),
    );
    for (const subject of [
      'driftless.hubs.events',
      'driftless.hubs.sessions',
      'driftless.hubs.approvals',
      'driftless.hubs.hints',
      'driftless.hubs.revocations',
      'driftless.agent.ghost.hello',
      'driftless.agent.ghost.heartbeat',
    ])
      for (const payload of [
        '{',
        'null',
        '[]',
        '{"cluster":{"x":1}}',
        randomBytes(64).toString('latin1'),
      ])
        hubNc.publish(subject, Buffer.from(payload, 'latin1'));
    await hubNc.flush();
    await hubNc.close();
    await alive();
  });

  it('afterwards the hub still serves: both agents’ reports are stored', async () => {
    for (const a of agents) a.send('sync after-fuzz');
    for (const name of ['fuzz-grpc', 'fuzz-nats'])
      await waitFor(
        `a report of ${name} after the fuzzing`,
        async () => ((await storedSyncIds(hub, admin, name)).has('after-fuzz') ? true : undefined),
        60_000,
      );
    await alive();
    const clusters = await api(hub, admin, 'GET', '/api/v1/clusters');
    assert.equal(clusters.status, 200);
  });
});
