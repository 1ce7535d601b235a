import 'reflect-metadata';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { createLogger } from '@driftless/common';
import { HubMessage, type AgentMessage, type HubMessageBody } from '@driftless/proto';
import type { Approval, AppStatusReport, SyncReport } from '../report/index.ts';
import { HubLink, type HubLinkOptions, type LinkStatus } from './hub-link.ts';
import { LinkStateMachine } from './link-state.ts';
import { generateKeyAndCsr, MemoryIdentityStore, type Identity } from './identity.ts';
import { Outbox } from './outbox.ts';
import { LinkReporter, syncTraceContext } from './reporter.ts';
import type { LinkStream, LinkTransport, StreamEnd, StreamHandlers } from './transport.ts';
import { GrpcCode } from './errors.ts';

/** A certificate for `keyPem`'s key, signed by a throwaway CA, valid `lifetimeMs` from now. */
async function identityFor(lifetimeMs = 3_600_000): Promise<Identity> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const key = await generateKeyAndCsr('edge');
  const csr = new x509.Pkcs10CertificateRequest(key.csrPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a',
    subject: 'CN=edge',
    issuer: 'CN=Test CA',
    notBefore: new Date(Date.now() - 1000),
    notAfter: new Date(Date.now() + lifetimeMs),
    signingKey: caKeys.privateKey as never,
    publicKey: csr.publicKey,
    signingAlgorithm: alg,
  });
  return { keyPem: key.keyPem, certPem: cert.toString('pem'), caPem: 'CA' };
}

/** One fake stream: records writes; the test plays the hub. */
class FakeStream implements LinkStream {
  written: AgentMessage[] = [];
  closed = false;
  readonly handlers: StreamHandlers;
  constructor(handlers: StreamHandlers) {
    this.handlers = handlers;
  }
  write(m: AgentMessage): boolean {
    this.written.push(m);
    return true;
  }
  close(): void {
    this.end({ code: GrpcCode.CANCELLED, details: 'closed' });
  }
  send(seq: bigint, body: HubMessageBody): void {
    this.handlers.onMessage(HubMessage.create({ seq, body }));
  }
  end(e: StreamEnd): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onEnd(e);
  }
  kinds(): string[] {
    return this.written.map((m) => `${m.seq}:${m.body?.$case}`);
  }
}

class FakeTransport implements LinkTransport {
  streams: FakeStream[] = [];
  enrollCalls = 0;
  #waiters: ((s: FakeStream) => void)[] = [];
  enroll(): never {
    this.enrollCalls++;
    throw Object.assign(new Error('no enrollment here'), { code: GrpcCode.UNAVAILABLE });
  }
  connect(_identity: Identity, handlers: StreamHandlers): LinkStream {
    const s = new FakeStream(handlers);
    this.streams.push(s);
    this.#waiters.shift()?.(s);
    return s;
  }
  /** The next stream opened (or the n-th, if already open). */
  stream(n: number): Promise<FakeStream> {
    const s = this.streams[n];
    if (s) return Promise.resolve(s);
    return new Promise((r) => this.#waiters.push(r));
  }
}

/** A logger whose lines the test reads back (parsed). */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'info', destination }), lines };
}

/** An Enroll failure as grpc-js reports it: `message` repeats `details` after the code. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${GrpcCode[code]}: ${details}`), { code, details });
}

const tick = () => new Promise((r) => setImmediate(r));

/** Resolves once `condition` holds; fails after 10 s of real time. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A clock whose time moves only when the test advances it. `onSleep` may end a wait at once
 * (returning true).
 */
class ManualClock {
  #now = Date.now();
  #timers: { at: number; resolve: () => void }[] = [];
  onSleep: (ms: number) => boolean = () => false;
  now(): number {
    return this.#now;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.onSleep(ms)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = { at: this.#now + ms, resolve };
      this.#timers.push(timer);
      signal?.addEventListener('abort', () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        reject(signal.reason as Error);
      });
    });
  }
  /** Moves time on by `ms`, ending every wait that is due. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#timers.filter((t) => t.at <= this.#now);
    this.#timers = this.#timers.filter((t) => t.at > this.#now);
    for (const t of due) t.resolve();
  }
}

const status = (app: string): AppStatusReport => ({
  app,
  mode: 'auto',
  revision: 'a'.repeat(40),
  syncStatus: 'Synced',
  health: 'Healthy',
  healthMessage: '',
  driftCount: 0,
  planDigest: '',
  pendingPlan: [],
  message: '',
  lastSyncAt: 1,
});

const syncReport = (id: string): SyncReport => ({
  syncId: id,
  app: 'web',
  revision: 'a'.repeat(40),
  outcome: 'succeeded',
  error: '',
  retryable: false,
  planDigest: 'sha256:x',
  objects: [
    {
      ref: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'web', name: 'web' },
      action: 'update',
      diff: [{ path: 'spec.replicas', before: 1, after: 2 }],
      wave: 0,
    },
  ],
  steps: [{ name: 'apply', durationMs: 12 }],
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  startedAt: 1_700_000_000_000,
  finishedAt: 1_700_000_000_500,
  health: 'Healthy',
  approvalId: '',
});

async function setup(overrides: Partial<HubLinkOptions> = {}) {
  const transport = new FakeTransport();
  const outbox = new Outbox();
  const approvals: Approval[] = [];
  let refreshes = 0;
  const clock = new ManualClock();
  // The waits the link made while backing off (heartbeats and renewals use the clock too).
  const delays: number[] = [];
  const link: HubLink = new HubLink({
    cluster: 'edge',
    agentVersion: '1.2.3',
    repoUrl: 'https://git.example/fleet.git',
    branch: 'main',
    labels: { env: 'test' },
    transport,
    identities: new MemoryIdentityStore(await identityFor()),
    outbox,
    hooks: {
      refresh: () => refreshes++,
      statuses: () => [status('web')],
      approvals: { add: (a) => approvals.push(a) },
    },
    logger: createLogger({ name: 'test', level: 'silent' }),
    clock,
    backoff: { random: () => 0.5 },
    ...overrides,
  });
  clock.onSleep = (ms) => {
    // Backoff waits end at once, as before: the tests count them, they do not wait them out.
    if (link.status.state !== 'backoff') return false;
    delays.push(ms);
    return true;
  };
  const states: LinkStatus['state'][] = [];
  link.onStatus((s) => states.push(s.state));
  return {
    transport,
    outbox,
    link,
    clock,
    approvals,
    delays,
    states,
    refreshes: () => refreshes,
    reporter: new LinkReporter(outbox),
  };
}

describe('HubLink', () => {
  it('says Hello, numbers queued reports above the hub’s Ack, and sends every app status', async () => {
    const t = await setup();
    t.reporter.syncResult(syncReport('s1')); // queued before any connection
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    const hello = s.written[0]!;
    assert.equal(hello.seq, 0n);
    assert.equal(hello.body?.$case, 'hello');
    if (hello.body?.$case === 'hello')
      assert.deepEqual(
        {
          ...hello.body.value,
          labels: { ...hello.body.value.labels },
        },
        {
          clusterName: 'edge',
          agentVersion: '1.2.3',
          lastAckedHubSeq: 0n,
          labels: { env: 'test' },
          apps: ['web'],
          repoUrl: 'https://git.example/fleet.git',
          branch: 'main',
        },
      );
    s.send(0n, { $case: 'ack', value: { agentSeq: 7n } });
    await tick();
    assert.deepEqual(s.kinds(), ['0:hello', '8:syncResult', '9:appStatus']);
    assert.equal(t.link.status.state, 'connected');
    t.reporter.drift({
      driftId: 'd1',
      app: 'web',
      ref: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'web', name: 'c' },
      type: 'modified',
      fields: [{ path: 'data.a', desired: '1', live: '2' }],
      changedBy: 'kubectl',
      detectedAt: 5,
      healed: false,
      healedAt: 0,
      message: '',
      lastSyncTraceId: '',
    });
    await tick();
    assert.deepEqual(s.kinds().at(-1), '10:driftReport');
    s.send(0n, { $case: 'ack', value: { agentSeq: 9n } });
    await tick();
    assert.equal(t.outbox.stats().held, 1);
    await t.link.stop();
    assert.equal(t.link.status.state, 'stopped');
  });

  it('reconnects with backoff after the stream breaks and resends what the hub lacks', async () => {
    const t = await setup();
    t.link.start();
    const s0 = await t.transport.stream(0);
    await tick();
    s0.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    await tick();
    t.reporter.syncResult(syncReport('s1'));
    t.reporter.syncResult(syncReport('s2'));
    await tick();
    assert.deepEqual(s0.kinds(), ['0:hello', '1:appStatus', '2:syncResult', '3:syncResult']);
    s0.send(0n, { $case: 'ack', value: { agentSeq: 2n } });
    await tick();
    s0.end({ code: GrpcCode.UNAVAILABLE, details: 'hub went away' });
    const s1 = await t.transport.stream(1);
    await tick();
    assert.deepEqual(t.delays, [1000], 'one backoff step, reset by the earlier connect');
    s1.send(0n, { $case: 'ack', value: { agentSeq: 2n } });
    await tick();
    // The unacked report again, under its seq, then every app's status (the contract asks
    // for it after each Hello so the hub's view is whole).
    assert.deepEqual(s1.kinds(), ['0:hello', '3:syncResult', '4:appStatus']);
    assert.ok(t.states.includes('backoff'));
    await t.link.stop();
  });

  it('flushes before a stop: waits until the hub acknowledged every queued report', async () => {
    const t = await setup();
    assert.equal(await t.link.flush(1_000), true, 'nothing queued');
    t.reporter.syncResult(syncReport('queued-offline'));
    assert.equal(await t.link.flush(1_000), false, 'not connected: the report stays queued');
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    s.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    await tick();
    assert.deepEqual(s.kinds(), ['0:hello', '1:syncResult', '2:appStatus']);
    const flushed = t.link.flush(5_000);
    await tick();
    assert.equal(t.outbox.stats().held, 2);
    s.send(0n, { $case: 'ack', value: { agentSeq: 2n } });
    assert.equal(await flushed, true);
    assert.equal(t.outbox.stats().held, 0);
    await t.link.stop();
  });

  it('acts on hub messages: approvals go to the book and are acked; hints refresh', async () => {
    const t = await setup();
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    s.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    s.send(3n, {
      $case: 'approval',
      value: {
        approvalId: 'ap-1',
        app: 'gated',
        revision: 'b'.repeat(40),
        planDigest: 'sha256:p',
        approvedBy: 'ana',
        approvedUnixMs: 1n,
      },
    });
    s.send(0n, { $case: 'refreshHint', value: { repoUrl: 'x', revision: '' } });
    s.send(0n, { $case: 'syncNow', value: { app: '' } });
    await tick();
    await tick();
    assert.deepEqual(t.approvals, [
      {
        approvalId: 'ap-1',
        app: 'gated',
        revision: 'b'.repeat(40),
        planDigest: 'sha256:p',
        approvedBy: 'ana',
      },
    ]);
    assert.equal(t.refreshes(), 2);
    const ack = s.written.find((m) => m.body?.$case === 'ack');
    assert.deepEqual(ack?.body, { $case: 'ack', value: { hubSeq: 3n } });
    await t.link.stop();
    // The next Hello names the last hub seq processed.
  });

  it('stops for good when the hub refuses the cluster (revoked)', async () => {
    const t = await setup();
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    s.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    s.end({ code: GrpcCode.PERMISSION_DENIED, details: 'cluster edge was revoked' });
    const refused = await t.link.waitFor('refused');
    assert.match(refused.error ?? '', /PERMISSION_DENIED: cluster edge was revoked/);
    await tick();
    assert.equal(t.transport.streams.length, 1, 'no reconnect');
    await t.link.stop();
  });
  it('heartbeats on the injected clock, only once connected', async () => {
    // The ack watch (its own test below) is pushed past the minutes this test advances.
    const t = await setup({ heartbeatIntervalMs: 15_000, ackTimeoutMs: 600_000 });
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    t.clock.advance(60_000);
    await tick();
    assert.deepEqual(s.kinds(), ['0:hello'], 'no heartbeat before the Hello is acked');
    s.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    await tick();
    const beats = () => s.written.filter((m) => m.body?.$case === 'heartbeat').length;
    t.clock.advance(14_999);
    await tick();
    assert.equal(beats(), 0);
    t.clock.advance(1);
    await tick();
    assert.equal(beats(), 1);
    t.clock.advance(15_000);
    await tick();
    assert.equal(beats(), 2);
    s.end({ code: GrpcCode.UNAVAILABLE, details: 'gone' });
    await tick();
    t.clock.advance(60_000);
    await tick();
    assert.equal(beats(), 2, 'no heartbeat on an ended stream');
    await t.link.stop();
  });

  it('asks for a new certificate at 2/3 of its lifetime and again when none comes', async () => {
    const lifetime = 3_000_000;
    const t = await setup({
      identities: new MemoryIdentityStore(await identityFor(lifetime)),
      renewRetryMs: 60_000,
    });
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    s.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    await tick();
    s.send(0n, { $case: 'ack', value: { agentSeq: 1n } }); // the app status, stored
    await tick();
    const asks = () => s.written.filter((m) => m.body?.$case === 'renewCertificate').length;
    assert.equal(asks(), 0);
    t.clock.advance((lifetime * 2) / 3);
    await until(() => asks() === 1); // key generation is async
    assert.equal(asks(), 1);
    t.clock.advance(60_000);
    await until(() => asks() === 2);
    assert.equal(asks(), 2, 'asked again after renewRetryMs without an answer');
    await t.link.stop();
  });

  it('reconnects to resend when reports stay unacknowledged, and holds back beyond its window', async () => {
    const t = await setup({ maxInFlight: 2, ackTimeoutMs: 30_000 });
    t.link.start();
    const s0 = await t.transport.stream(0);
    await tick();
    s0.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    await tick();
    t.reporter.syncResult(syncReport('s1'));
    t.reporter.syncResult(syncReport('s2'));
    await tick();
    assert.deepEqual(
      s0.kinds(),
      ['0:hello', '1:appStatus', '2:syncResult'],
      'two in flight at most',
    );
    s0.send(0n, { $case: 'ack', value: { agentSeq: 1n } });
    await tick();
    assert.deepEqual(s0.kinds().slice(1), ['1:appStatus', '2:syncResult', '3:syncResult']);
    t.clock.advance(29_999);
    await tick();
    assert.equal(t.transport.streams.length, 1);
    t.clock.advance(1); // no ack for 30 s with 2 and 3 in flight
    const s1 = await t.transport.stream(1);
    await tick();
    s1.send(0n, { $case: 'ack', value: { agentSeq: 1n } });
    await tick();
    assert.deepEqual(s1.kinds().slice(0, 3), ['0:hello', '2:syncResult', '3:syncResult']);
    await t.link.stop();
  });

  it("starts the ack clock again when the transport's durable store takes a report", async () => {
    const t = await setup({ maxInFlight: 2, ackTimeoutMs: 30_000 });
    t.link.start();
    const s0 = await t.transport.stream(0);
    await tick();
    s0.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    await tick();
    t.reporter.syncResult(syncReport('s1'));
    await tick();
    assert.deepEqual(s0.kinds(), ['0:hello', '1:appStatus', '2:syncResult']);
    t.clock.advance(20_000);
    s0.handlers.onStored?.(); // e.g. JetStream acked the publish of seq 2
    t.clock.advance(20_000);
    await tick();
    assert.equal(t.transport.streams.length, 1, '40 s after the writes, 20 s after the store');
    t.clock.advance(10_000); // 30 s since the store took it, still no ack from the hub
    const s1 = await t.transport.stream(1);
    await tick();
    s1.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    await tick();
    assert.deepEqual(s1.kinds().slice(0, 3), ['0:hello', '1:appStatus', '2:syncResult']);
    await t.link.stop();
  });

  it("waits for the transport's least ack timeout when it is longer than the link's", async () => {
    const t = await setup({ maxInFlight: 2, ackTimeoutMs: 30_000 });
    Object.assign(t.transport, { minAckTimeoutMs: 90_000 });
    t.link.start();
    const s0 = await t.transport.stream(0);
    await tick();
    s0.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    await tick();
    t.reporter.syncResult(syncReport('s1'));
    await tick();
    t.clock.advance(89_999);
    await tick();
    assert.equal(t.transport.streams.length, 1, 'not at the link’s 30 s');
    t.clock.advance(1);
    await t.transport.stream(1);
    await t.link.stop();
  });

  it('does not re-enroll a revoked cluster, even with an enrollment token', async () => {
    const t = await setup({ enrollment: { token: 'dl_et_x.secret', caPem: 'CA' } });
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    s.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    s.end({ code: GrpcCode.PERMISSION_DENIED, details: 'cluster edge was revoked' });
    const refused = await t.link.waitFor('refused');
    assert.match(refused.error ?? '', /revoked/);
    assert.equal(t.transport.enrollCalls, 0, 'no enrollment attempt after a revocation');
    await t.link.stop();
  });

  it('re-enrolls once with the token when the hub does not know the certificate', async () => {
    const t = await setup({ enrollment: { token: 'dl_et_x.secret', caPem: 'CA' } });
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    s.end({ code: GrpcCode.UNAUTHENTICATED, details: 'certificate 0A was not issued by this hub' });
    await t.link.waitFor('backoff');
    assert.equal(t.transport.enrollCalls, 1);
    await t.link.stop();
  });
});

describe('HubLink messages', () => {
  /** A link that enrolls with a token, its Enroll failing with `code` and `details`; its log. */
  const enrollFailing = async (code: number, details: string) => {
    const { logger, lines } = capturingLogger();
    const t = await setup({
      identities: new MemoryIdentityStore(),
      enrollment: { token: 'et_x.secret', caPem: 'CA' },
      logger,
    });
    t.transport.enroll = () => {
      throw grpcError(code, details);
    };
    t.link.start();
    return { t, lines, first: await t.link.settled() };
  };

  it('an expired token: one refusal naming the cluster once and the hub’s reason once, no log line of its own', async () => {
    const {
      t,
      lines,
      first: refused,
    } = await enrollFailing(
      GrpcCode.UNAUTHENTICATED,
      'enroll cluster edge: enrollment token et_x expired at 2026-12-01T09:00:00.000Z',
    );
    assert.equal(refused.state, 'refused');
    assert.equal(
      refused.error,
      'enroll cluster edge: the hub answered UNAUTHENTICATED: enrollment token et_x expired at 2026-12-01T09:00:00.000Z',
    );
    assert.equal(t.link.enrolled, false);
    // The agent stops on a refused token and says so itself; the link adds no second line.
    assert.deepEqual(
      lines.filter((l) => l['level'] === 'error' || l['level'] === 'warn'),
      [],
    );
    await t.link.stop();
  });

  it('an unreachable hub while enrolling is retried, said once', async () => {
    const { t, lines, first } = await enrollFailing(
      GrpcCode.UNAVAILABLE,
      'No connection established. Last error: connect ECONNREFUSED',
    );
    assert.equal(first.state, 'backoff');
    assert.equal(
      first.error,
      'enroll cluster edge: No connection established. Last error: connect ECONNREFUSED',
    );
    const warn = lines.find((l) => l['level'] === 'warn');
    assert.match(
      String(warn?.['msg']),
      /^hub link: enroll cluster edge: No connection established\. Last error: connect ECONNREFUSED; retrying in /,
    );
    await t.link.stop();
  });

  it('a stream the hub ends: its reason once', async () => {
    const t = await setup();
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    s.end({
      code: GrpcCode.UNAVAILABLE,
      details: 'Connection dropped',
      error: grpcError(GrpcCode.UNAVAILABLE, 'Connection dropped'),
    });
    const b = await t.link.waitFor('backoff');
    assert.equal(b.error, 'hub stream of cluster edge ended: UNAVAILABLE: Connection dropped');
    await t.link.stop();
  });

  it('a revoked cluster: says how to bring it back, with the real command and the identity Secret', async () => {
    const { logger, lines } = capturingLogger();
    const identities = Object.assign(new MemoryIdentityStore(await identityFor()), {
      where: 'driftless/driftless-agent-identity',
    });
    const t = await setup({ identities, logger });
    t.link.start();
    const s = await t.transport.stream(0);
    await tick();
    s.send(0n, { $case: 'ack', value: { agentSeq: 0n } });
    s.end({ code: GrpcCode.PERMISSION_DENIED, details: 'cluster edge was revoked' });
    await t.link.waitFor('refused');
    const errors = lines.filter((l) => l['level'] === 'error');
    assert.equal(errors.length, 1);
    const msg = String(errors[0]?.['msg']);
    assert.match(msg, /"driftless cluster allow-enroll edge"/);
    assert.match(msg, /"driftless token create --cluster edge"/);
    assert.match(msg, /delete the Secret driftless\/driftless-agent-identity/);
    assert.match(msg, /keeps reconciling from Git/);
    await t.link.stop();
  });
});

describe('LinkStateMachine', () => {
  it('allows the transitions of its table and refuses the others', () => {
    const clock = new ManualClock();
    const m = new LinkStateMachine(clock);
    m.move({ state: 'connecting' });
    m.move({ state: 'connected' });
    m.move({ state: 'refused', error: 'revoked' });
    assert.throws(() => m.move({ state: 'connecting' }), /cannot go from refused to connecting/);
    m.move({ state: 'stopped' });
    assert.throws(() => m.move({ state: 'idle' }), /cannot go from stopped to idle/);
  });
});

describe('LinkReporter', () => {
  it('carries the sync root span as W3C context and maps the report to the contract', () => {
    assert.equal(
      syncTraceContext(syncReport('s')).traceparent,
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    );
    const outbox = new Outbox();
    new LinkReporter(outbox).syncResult(syncReport('s1'));
    outbox.resume(0n);
    const m = outbox.takeUnsent()!;
    assert.equal(m.trace?.traceparent, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    assert.equal(m.body?.$case, 'syncResult');
    if (m.body?.$case !== 'syncResult') return;
    const v = m.body.value;
    assert.equal(v.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.deepEqual(v.objects[0]?.object, {
      group: 'apps',
      version: 'v1',
      kind: 'Deployment',
      namespace: 'web',
      name: 'web',
    });
    assert.deepEqual(v.objects[0]?.diff, [
      { path: 'spec.replicas', beforeJson: '1', afterJson: '2' },
    ]);
    assert.equal(v.finishedUnixMs, 1_700_000_000_500n);
  });

  it('never throws into the engine', () => {
    const outbox = new Outbox();
    const r = new LinkReporter(outbox);
    assert.doesNotThrow(() => r.syncResult({ ...syncReport('s'), startedAt: Number.NaN }));
  });
});

describe('renewAtMs', () => {
  it('renews at 2/3 of the lifetime, counted from receipt when notBefore is backdated', async () => {
    const { renewAtMs } = await import('./identity.ts');
    const info = { notBeforeMs: 0, notAfterMs: 300_000 + 45_000, serial: '1', subject: '' };
    assert.equal(renewAtMs(info), 230_000);
    assert.equal(renewAtMs(info, 2 / 3, 300_000), 330_000);
  });
});
