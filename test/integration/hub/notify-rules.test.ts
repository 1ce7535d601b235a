/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-explicit-any --
   API answers are JSON checked field by field by the assertions. */
// Notification rules, selectors, rate limits, retries and the delivery log, through two real
// hub processes on one real PostgreSQL fed by a scripted agent: each notification goes out once
// whichever replica ingests the report, and secrets never come back out of the API.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HealthStatus, SyncOutcome, type AgentMessageBody } from '@driftless/proto';
import {
  LOOPBACK_DESTINATIONS,
  startPostgres,
  startReceivers,
  waitFor,
  type PostgresServer,
  type Receivers,
} from '@driftless/test';
import {
  api,
  connect,
  enroll,
  makeAgentKey,
  startHubProcess,
  type AgentKey,
  type AgentStream,
  type HubProcess,
} from './helpers.ts';

const HMAC_KEY = 'h'.repeat(40);
const REPO = 'https://github.com/acme/fleet.git';
const rev = (c: string) => c.repeat(40);

const hello = (cluster: string): AgentMessageBody => ({
  $case: 'hello',
  value: {
    clusterName: cluster,
    agentVersion: '0.1.0-test',
    lastAckedHubSeq: 0n,
    labels: {},
    apps: [],
    repoUrl: REPO,
    branch: 'main',
  },
});

const sync = (syncId: string, app: string, revision: string, error = ''): AgentMessageBody => ({
  $case: 'syncResult',
  value: {
    syncId,
    app,
    revision,
    result: error ? SyncOutcome.SYNC_OUTCOME_FAILED : SyncOutcome.SYNC_OUTCOME_SUCCEEDED,
    error,
    planDigest: 'sha256:p',
    objects: [],
    steps: [],
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    startedUnixMs: BigInt(Date.now() - 100),
    finishedUnixMs: BigInt(Date.now()),
    health: HealthStatus.HEALTH_STATUS_HEALTHY,
    retryable: false,
    approvalId: '',
  },
});

describe('notifications through two hub replicas on PostgreSQL', { timeout: 180_000 }, () => {
  let pg: PostgresServer;
  let r: Receivers;
  let a: HubProcess;
  let b: HubProcess;
  let admin: string;
  const agents: Record<string, AgentKey & { certPem: string }> = {};
  const seqs: Record<string, bigint> = {};

  const hubArgs = [
    // The receivers listen on loopback, which the hub refuses unless allowed.
    '--allow-private-destinations',
    LOOPBACK_DESTINATIONS.join(','),
    '--public-url',
    'http://driftless.test',
    '--trace-url-template',
    'http://jaeger.test/trace/{traceId}',
    '--notify-retry-initial',
    '200ms',
  ];

  before(async () => {
    [pg, r] = await Promise.all([startPostgres(), startReceivers({ webhookHmacKey: HMAC_KEY })]);
    a = await startHubProcess({
      store: 'postgres',
      databaseUrl: pg.connectionString,
      args: hubArgs,
    });
    admin = a.bootstrapToken!;
    // Replicas share the CA (docs/hub.md), copied as an operator would, so an agent
    // enrolled on one connects to either.
    const dataB = mkdtempSync(join(tmpdir(), 'driftless-hub-it-'));
    for (const f of ['ca.crt', 'ca.key']) copyFileSync(join(a.dataDir, f), join(dataB, f));
    b = await startHubProcess({
      store: 'postgres',
      databaseUrl: pg.connectionString,
      dataDir: dataB,
      args: hubArgs,
    });
    for (const [cluster, labels] of [
      ['prod-eu', 'env=prod,region=eu'],
      ['dev-us', 'env=dev'],
    ] as const) {
      const t = await api(a, admin, 'POST', '/api/v1/tokens', { cluster, labels });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      const key = await makeAgentKey();
      const res = await enroll(a, {
        token: t.body.token,
        clusterName: cluster,
        csrPem: key.csrPem,
      });
      agents[cluster] = { ...key, certPem: res.certificatePem };
      seqs[cluster] = 0n;
    }
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await r?.stop();
    await pg?.stop();
  });

  /** Connects `cluster` to `hub`, sends the reports in order and waits for their acks. */
  const report = async (hub: HubProcess, cluster: string, bodies: AgentMessageBody[]) => {
    const s: AgentStream = connect(hub, agents[cluster]!);
    try {
      s.send(0n, hello(cluster));
      await Promise.race([
        s.next(),
        s.status.then((st) => {
          throw new Error(`Connect ended: ${st.code} ${st.details}; ${hub.stderr().slice(-2000)}`);
        }),
      ]);
      for (const body of bodies) {
        seqs[cluster]! += 1n;
        s.send(seqs[cluster]!, body);
        const ack = await s.next();
        assert.equal(ack.body?.$case, 'ack');
      }
    } finally {
      s.close();
    }
  };

  it('destinations and rules are created by admins, audited, and never show their secrets', async () => {
    const created = [
      await api(a, admin, 'POST', '/api/v1/notifications/destinations', {
        name: 'prod-slack',
        kind: 'slack',
        secret: { webhookUrl: r.slackWebhookUrl('prod-secret-path') },
      }),
      await api(a, admin, 'POST', '/api/v1/notifications/destinations', {
        name: 'dev-hook',
        kind: 'webhook',
        secret: { url: r.webhookUrl('dev'), hmacKey: HMAC_KEY },
      }),
      await api(a, admin, 'POST', '/api/v1/notifications/rules', {
        id: 'prod-failures',
        destination: 'prod-slack',
        selector: 'env=prod',
        events: ['sync.failed', 'sync.succeeded'],
        minSeverity: 'error',
      }),
      await api(a, admin, 'POST', '/api/v1/notifications/rules', {
        id: 'dev-all',
        destination: 'dev-hook',
        selector: 'env=dev',
        rateLimit: { max: 1, windowSeconds: 2 },
      }),
    ];
    for (const c of created) assert.equal(c.status, 201, JSON.stringify(c.body));
    const bad = await api(a, admin, 'POST', '/api/v1/notifications/rules', {
      destination: 'prod-slack',
      selector: 'bad key=x',
    });
    assert.equal(bad.status, 400);
    const missing = await api(a, admin, 'POST', '/api/v1/notifications/destinations', {
      name: 'half',
      kind: 'slack',
      secret: { token: 'xoxb-1' },
    });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /channel/);
    assert.ok(!JSON.stringify(missing.body).includes('xoxb-1'));

    const list = await api(b, admin, 'GET', '/api/v1/notifications/destinations');
    assert.deepEqual(
      list.body.items.map((d: any) => [d.name, d.kind, d.hasSecret, d.host]),
      [
        ['dev-hook', 'webhook', true, new URL(r.url).host],
        ['prod-slack', 'slack', true, new URL(r.url).host],
      ],
    );
    const audit = await api(a, admin, 'GET', '/api/v1/audit');
    const everything = JSON.stringify([list.body, audit.body]);
    for (const secret of ['prod-secret-path', HMAC_KEY])
      assert.ok(!everything.includes(secret), secret);
    assert.ok(audit.body.items.some((x: any) => x.action === 'notify.destination.create'));
    assert.ok(audit.body.items.some((x: any) => x.action === 'notify.rule.create'));
  });

  it('a failure is announced once whichever replica ingests the repeats, and its recovery once', async () => {
    await report(a, 'prod-eu', [
      sync('s1', 'web', rev('1')), // a plain success is info: below the rule's minimum
      sync('s2', 'web', rev('2'), 'apply Deployment web/web: admission webhook denied'),
    ]);
    // The agent moves to the other replica and reports the same failure again, then the fix.
    await report(b, 'prod-eu', [
      sync('s3', 'web', rev('2'), 'apply Deployment web/web: admission webhook denied'),
      sync('s4', 'web', rev('3')),
    ]);
    const msgs = await waitFor('the failure and the recovery in Slack', () => {
      const got = r.valid('slack-webhook', 'prod-secret-path');
      return got.length >= 2 && got;
    });
    const texts = msgs.map((m) => JSON.stringify(m.body));
    assert.equal(msgs.length, 2, texts.join('\n'));
    assert.match(texts[0]!, /Sync failed: prod-eu\/web at 2222222/);
    assert.match(texts[0]!, /admission webhook denied/);
    assert.ok(texts[0]!.includes(`https://github.com/acme/fleet/commit/${rev('2')}`));
    assert.ok(texts[0]!.includes('http://driftless.test/#/clusters/prod-eu/apps/web'));
    assert.ok(texts[0]!.includes('http://jaeger.test/trace/4bf92f3577b34da6a3ce929d0e0e4736'));
    assert.match(texts[1]!, /Sync recovered: prod-eu\/web at 3333333/);
    assert.equal(r.valid('webhook', 'dev').length, 0, 'the dev rule selects env=dev only');
  });

  it('beyond a rule’s rate limit messages are held back and summarised once', async () => {
    await report(b, 'dev-us', [
      sync('d1', 'a', rev('a'), 'boom a'),
      sync('d2', 'b', rev('a'), 'boom b'),
      sync('d3', 'c', rev('a'), 'boom c'),
    ]);
    const got = await waitFor('one message and one summary at the webhook', () => {
      const v = r.valid('webhook', 'dev');
      return v.length >= 2 && v;
    });
    const bodies = got.map((g) => g.body as Record<string, string>);
    assert.deepEqual(
      bodies.map((x) => x['kind']),
      ['sync.failed', 'notify.summary'],
    );
    assert.equal(bodies[0]!['app'], 'a');
    assert.match(bodies[1]!['title']!, /2 notifications held back by rule dev-all/);
    assert.match(bodies[1]!['message']!, /1× sync.failed dev-us\/b/);
    assert.match(bodies[1]!['message']!, /1× sync.failed dev-us\/c/);
    // The receiver has both; the hub records each as sent right after its answer.
    const statuses = await waitFor('the summary recorded as sent', async () => {
      const log = await api(
        a,
        admin,
        'GET',
        '/api/v1/notifications/deliveries?destination=dev-hook',
      );
      const all: string[] = log.body.items.map((d: any) => d.status).sort();
      return !all.includes('pending') && all;
    });
    assert.deepEqual(statuses, ['held', 'held', 'sent', 'sent']);
  });

  it('a failing destination is retried with backoff; the log shows the failures, then sent', async () => {
    r.fail('prod-secret-path', 2, 500);
    await report(a, 'prod-eu', [sync('s5', 'web', rev('4'), 'image pull failed')]);
    const delivered = await waitFor('the retried delivery sent', async () => {
      const log = await api(b, admin, 'GET', '/api/v1/notifications/deliveries?rule=prod-failures');
      const d = log.body.items.find((x: any) => x.title.includes('4444444'));
      return d?.status === 'sent' && d;
    });
    assert.deepEqual(
      delivered.attempts.map((x: any) => x.outcome),
      ['failed', 'failed', 'sent'],
    );
    assert.match(delivered.attempts[0].error, /: HTTP 500$/);
    assert.ok(!delivered.attempts[0].error.includes('prod-secret-path'));
    // What the destination answered: its own field, for admins only; never in the error.
    assert.equal(delivered.attempts[0].answer, 'failing on purpose');
    const viewer = await api(a, admin, 'POST', '/api/v1/api-tokens', {
      name: 'notify-viewer',
      role: 'viewer',
    });
    const seen = await api(
      b,
      viewer.body.token,
      'GET',
      '/api/v1/notifications/deliveries?rule=prod-failures',
    );
    const same = seen.body.items.find((x: any) => x.id === delivered.id);
    assert.deepEqual(
      same.attempts.map((x: any) => [x.error, x.answer]),
      delivered.attempts.map((x: any) => [x.error, '']),
    );
    assert.ok(!JSON.stringify(seen.body).includes('failing on purpose'));
    assert.equal(
      r
        .valid('slack-webhook', 'prod-secret-path')
        .filter((m) => JSON.stringify(m.body).includes('4444444')).length,
      1,
    );
  });

  it('a test message goes straight to the destination', async () => {
    const res = await api(a, admin, 'POST', '/api/v1/notifications/destinations/dev-hook/test');
    assert.deepEqual(res.body, { sent: true, error: '', answer: '' });
    assert.ok(r.valid('webhook', 'dev').some((m) => (m.body as any).kind === 'notify.test'));
    const none = await api(a, admin, 'POST', '/api/v1/notifications/destinations/nope/test');
    assert.equal(none.status, 404);
  });
});
