// The contract over a real wire: a @grpc/grpc-js server implementing AgentService on loopback
// and the generated client, so encoding, the service paths and the TypeScript shapes that hub
// and agent rely on (bigint seqs, oneof unions, enum values) are checked end to end.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServerDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  AgentService,
  AgentServiceClient,
  ChangeAction,
  HealthStatus,
  SyncOutcome,
  UNSEQUENCED,
  fromUnixMs,
  isSequenced,
  objectRefString,
  toUnixMs,
  type AgentMessage,
  type AgentServiceServer,
  type EnrollRequest,
  type EnrollResponse,
  type HubMessage,
} from './index.ts';

const TOKEN = 'dlt_enroll_test_token';
// Above 2^53, so a seq that went through a JS number on the way would come back changed.
const BIG_SEQ = 2n ** 60n + 42n;
const SENT_AT = toUnixMs(new Date('2026-01-02T03:04:05.678Z'));
const HUB_STORED_UP_TO = 41n;
const APPROVAL_SEQ = 7n;

/** What the stub hub saw, for assertions after the exchange. */
const received: AgentMessage[] = [];
const enrolled: EnrollRequest[] = [];

/** A minimal hub: enrolls one token, and on Connect follows the handshake of the contract. */
const hub: AgentServiceServer = {
  enroll(call, callback) {
    if (call.request.token !== TOKEN) {
      callback({ code: status.UNAUTHENTICATED, details: 'enrollment token is not valid' });
      return;
    }
    enrolled.push(call.request);
    callback(null, {
      certificatePem: '-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n',
      caBundlePem: '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n',
      notAfterUnixMs: SENT_AT + 86_400_000n,
    });
  },
  connect(call) {
    serveConnect(call).catch((err: unknown) => call.destroy(err as Error));
  },
};

async function serveConnect(call: ServerDuplexStream<AgentMessage, HubMessage>): Promise<void> {
  for await (const message of call as AsyncIterable<AgentMessage>) {
    received.push(message);
    const body = message.body;
    switch (body?.$case) {
      case 'hello':
        // Tell the agent where to resume, then push a hint and an approval it must ack.
        call.write({
          seq: UNSEQUENCED,
          body: { $case: 'ack', value: { agentSeq: HUB_STORED_UP_TO } },
        });
        call.write({
          seq: UNSEQUENCED,
          body: {
            $case: 'refreshHint',
            value: { repoUrl: 'https://git.example/fleet.git', revision: 'a'.repeat(40) },
          },
        });
        call.write({
          seq: APPROVAL_SEQ,
          body: {
            $case: 'approval',
            value: {
              approvalId: 'appr-1',
              app: 'podinfo',
              revision: 'a'.repeat(40),
              planDigest: 'sha256:plan',
              approvedBy: 'alice',
              approvedUnixMs: SENT_AT,
            },
          },
        });
        break;
      case undefined:
        break;
      default:
        if (isSequenced(message)) {
          call.write({
            seq: UNSEQUENCED,
            body: { $case: 'ack', value: { agentSeq: message.seq } },
          });
        }
    }
  }
  call.end();
}

let server: Server;
let client: AgentServiceClient;

before(async () => {
  server = new Server();
  server.addService(AgentService, hub);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  client = new AgentServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
});

after(async () => {
  client.close();
  await new Promise<void>((resolve) =>
    server.tryShutdown((err) => {
      if (err) server.forceShutdown();
      resolve();
    }),
  );
});

function enroll(request: EnrollRequest): Promise<EnrollResponse> {
  return new Promise((resolve, reject) =>
    client.enroll(request, new Metadata(), { deadline: Date.now() + 5_000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

describe('AgentService.Enroll', () => {
  test('signs a certificate for a valid token and carries the labels map', async () => {
    const res = await enroll({
      token: TOKEN,
      clusterName: 'prod-eu',
      csrPem: '-----BEGIN CERTIFICATE REQUEST-----\ncsr\n-----END CERTIFICATE REQUEST-----\n',
      agentVersion: '0.1.0',
      labels: { env: 'prod', region: 'eu-west' },
    });
    assert.match(res.certificatePem, /BEGIN CERTIFICATE/);
    assert.match(res.caBundlePem, /BEGIN CERTIFICATE/);
    assert.equal(res.notAfterUnixMs, SENT_AT + 86_400_000n);
    assert.equal(typeof res.notAfterUnixMs, 'bigint');
    assert.deepEqual(enrolled.at(-1)?.labels, { env: 'prod', region: 'eu-west' });
    assert.equal(enrolled.at(-1)?.clusterName, 'prod-eu');
  });

  test('an invalid token fails with UNAUTHENTICATED', async () => {
    await assert.rejects(
      enroll({ token: 'wrong', clusterName: 'prod-eu', csrPem: '', agentVersion: '', labels: {} }),
      (err: ServiceError) => err.code === status.UNAUTHENTICATED,
    );
  });
});

describe('AgentService.Connect', () => {
  test('Hello is acked, hub messages reach the agent, reports round-trip exactly', async () => {
    const call = client.connect();
    const inbox = call[Symbol.asyncIterator]() as AsyncIterator<HubMessage>;
    const next = async (): Promise<HubMessage> => {
      const r = await inbox.next();
      assert.ok(!r.done, 'hub closed the stream early');
      return r.value;
    };
    const trace = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: '',
    };

    call.write({
      seq: UNSEQUENCED,
      trace,
      sentAtUnixMs: SENT_AT,
      body: {
        $case: 'hello',
        value: {
          clusterName: 'prod-eu',
          agentVersion: '0.1.0',
          lastAckedHubSeq: 0n,
          labels: { env: 'prod' },
          apps: ['infrastructure', 'podinfo'],
          repoUrl: 'http://git.example/fleet.git',
          branch: 'main',
        },
      },
    });

    // Hello → Ack naming what the hub already stored.
    const ack = await next();
    assert.equal(ack.seq, 0n);
    assert.deepEqual(ack.body, { $case: 'ack', value: { agentSeq: HUB_STORED_UP_TO } });

    // Hub → agent: a hint (unsequenced) and an approval (sequenced, must be acked).
    const hint = await next();
    assert.equal(hint.body?.$case, 'refreshHint');
    if (hint.body?.$case === 'refreshHint') {
      assert.equal(hint.body.value.repoUrl, 'https://git.example/fleet.git');
      assert.equal(hint.body.value.revision, 'a'.repeat(40));
    }
    const approval = await next();
    assert.equal(approval.seq, APPROVAL_SEQ);
    assert.equal(typeof approval.seq, 'bigint');
    assert.ok(approval.body?.$case === 'approval');
    assert.equal(approval.body.value.planDigest, 'sha256:plan');
    assert.equal(
      fromUnixMs(approval.body.value.approvedUnixMs)?.toISOString(),
      '2026-01-02T03:04:05.678Z',
    );
    call.write({
      seq: UNSEQUENCED,
      sentAtUnixMs: SENT_AT,
      body: { $case: 'ack', value: { hubSeq: approval.seq } },
    });

    // A report with a seq beyond 2^53 and enums in nested messages; the hub acks it exactly.
    const report: AgentMessage = {
      seq: BIG_SEQ,
      trace,
      sentAtUnixMs: SENT_AT,
      body: {
        $case: 'syncResult',
        value: {
          syncId: 'sync-1',
          app: 'podinfo',
          revision: 'a'.repeat(40),
          result: SyncOutcome.SYNC_OUTCOME_WAITING_APPROVAL,
          error: '',
          planDigest: 'sha256:plan',
          objects: [
            {
              object: {
                group: 'apps',
                version: 'v1',
                kind: 'Deployment',
                namespace: 'podinfo',
                name: 'web',
              },
              action: ChangeAction.CHANGE_ACTION_UPDATE,
              diff: [{ path: 'spec.replicas', beforeJson: '2', afterJson: '3' }],
              wave: -1,
            },
          ],
          steps: [{ name: 'plan', durationMs: 12 }],
          traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
          startedUnixMs: SENT_AT - 1_000n,
          finishedUnixMs: SENT_AT,
          health: HealthStatus.HEALTH_STATUS_PROGRESSING,
          retryable: false,
          approvalId: '',
        },
      },
    };
    call.write(report);
    const reportAck = await next();
    assert.deepEqual(reportAck.body, { $case: 'ack', value: { agentSeq: BIG_SEQ } });

    // The agent closes its side; the hub ends the stream in turn.
    call.end();
    assert.equal((await inbox.next()).done, true);

    assert.deepEqual(
      received.map((m) => [m.seq, m.body?.$case]),
      [
        [0n, 'hello'],
        [0n, 'ack'],
        [BIG_SEQ, 'syncResult'],
      ],
    );
    assert.deepEqual(received[0]?.trace, trace);
    assert.deepEqual(received[1]?.body, { $case: 'ack', value: { hubSeq: APPROVAL_SEQ } });
    // Everything the agent sent, enums and nested oneof included, arrives as it was written.
    assert.deepEqual(received[2], report);
    const sync = received[2]?.body?.$case === 'syncResult' ? received[2].body.value : undefined;
    assert.equal(sync?.result, 4);
    assert.equal(objectRefString(sync?.objects[0]?.object), 'apps/v1 Deployment podinfo/web');
  });
});

describe('helpers', () => {
  test('objectRefString names core-group and cluster-scoped objects as kubectl users read them', () => {
    assert.equal(
      objectRefString({
        group: '',
        version: 'v1',
        kind: 'Service',
        namespace: 'podinfo',
        name: 'web',
      }),
      'v1 Service podinfo/web',
    );
    assert.equal(
      objectRefString({
        group: '',
        version: 'v1',
        kind: 'Namespace',
        namespace: '',
        name: 'podinfo',
      }),
      'v1 Namespace podinfo',
    );
    assert.equal(objectRefString(undefined), '(no object)');
  });

  test('unix ms conversions and sequencing', () => {
    assert.equal(fromUnixMs(0n), undefined);
    assert.equal(fromUnixMs(SENT_AT)?.getTime(), Number(SENT_AT));
    assert.throws(() => toUnixMs(Number.NaN), RangeError);
    assert.equal(isSequenced({ seq: 0n }), false);
    assert.equal(isSequenced({ seq: 1n }), true);
  });
});
