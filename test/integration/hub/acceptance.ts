/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument --
   API answers are JSON checked field by field by the assertions; typing each would add nothing. */
// The hub's acceptance tests (issue: token enrollment, mTLS identities, fleet state, API),
// run against the real `driftless-hub` process once per store.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import {
  DriftType,
  HealthStatus,
  SyncMode,
  SyncOutcome,
  SyncStatus,
  type AgentMessageBody,
} from '@driftless/proto';
import {
  api,
  connect,
  enroll,
  foreignClientCert,
  makeAgentKey,
  startHubProcess,
  type AgentKey,
  type HubProcess,
} from './helpers.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const REVISION = 'a'.repeat(40);

const appStatus = (revision: string): AgentMessageBody => ({
  $case: 'appStatus',
  value: {
    app: 'podinfo',
    revision,
    syncStatus: SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
    health: HealthStatus.HEALTH_STATUS_HEALTHY,
    healthMessage: '',
    driftCount: 1,
    planDigest: 'sha256:plan1',
    pendingPlan: [],
    message: 'waiting for approval',
    lastSyncUnixMs: 1_700_000_000_000n,
    syncMode: SyncMode.SYNC_MODE_MANUAL,
  },
});
const driftReport = (live: string): AgentMessageBody => ({
  $case: 'driftReport',
  value: {
    driftId: 'drift-1',
    app: 'podinfo',
    object: { group: 'apps', version: 'v1', kind: 'Deployment', namespace: 'podinfo', name: 'web' },
    type: DriftType.DRIFT_TYPE_MODIFIED,
    fields: [{ path: 'spec.replicas', desiredJson: '3', liveJson: live }],
    changedBy: 'kubectl-edit',
    detectedUnixMs: 1_700_000_001_000n,
    healed: false,
    healedUnixMs: 0n,
    message: '',
    lastSyncTraceId: TRACE_ID,
  },
});
const syncResult = (syncId: string, traceId: string): AgentMessageBody => ({
  $case: 'syncResult',
  value: {
    syncId,
    app: 'podinfo',
    revision: REVISION,
    result: SyncOutcome.SYNC_OUTCOME_SUCCEEDED,
    error: '',
    planDigest: 'sha256:plan0',
    objects: [],
    steps: [
      { name: 'fetch', durationMs: 120 },
      { name: 'apply/wave-0', durationMs: 340 },
    ],
    traceId,
    startedUnixMs: 1_700_000_000_000n,
    finishedUnixMs: 1_700_000_000_500n,
    health: HealthStatus.HEALTH_STATUS_HEALTHY,
    retryable: false,
    approvalId: '',
  },
});
const hello = (cluster: string): AgentMessageBody => ({
  $case: 'hello',
  value: {
    clusterName: cluster,
    agentVersion: '0.1.0-test',
    lastAckedHubSeq: 0n,
    labels: { team: 'web' },
    apps: ['podinfo'],
    repoUrl: 'http://git.example/fleet.git',
    branch: 'main',
  },
});

/** Registers the acceptance suite for one store; `database` gives the PostgreSQL URL if any. */
export function hubAcceptance(
  store: 'sqlite' | 'postgres',
  database: () => Promise<{ url: string | undefined; stop(): Promise<void> } | undefined>,
): void {
  describe(`hub acceptance (${store})`, { timeout: 120_000 }, () => {
    let db: { url: string | undefined; stop(): Promise<void> } | undefined;
    let hub: HubProcess;
    let admin: string;
    const secrets: string[] = []; // every token and key text, none of which may be stored
    const tokens: Record<string, string> = {};
    const agents: Record<string, AgentKey & { certPem: string }> = {};
    const start = (dataDir?: string) =>
      startHubProcess({
        store,
        dataDir,
        databaseUrl: db?.url,
        args: [
          '--enroll-max-failures',
          '8',
          '--enroll-failure-window',
          '3s',
          '--client-cert-ttl',
          '1h',
          // The scripted reports carry fixed 2023 timestamps: keep history whatever its age.
          '--history-max-age',
          '0',
        ],
      });

    before(async () => {
      db = await database();
      hub = await start();
      admin = hub.bootstrapToken!;
      assert.ok(admin, 'a first start prints a bootstrap admin token');
      secrets.push(admin.split('.')[1]!);
    });
    after(async () => {
      await hub?.stop();
      await db?.stop();
    });

    const createToken = async (cluster: string, extra: Record<string, unknown> = {}) => {
      const res = await api(hub, admin, 'POST', '/api/v1/tokens', { cluster, ...extra });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      secrets.push(res.body.token.split('.')[1]);
      return res.body as { id: string; token: string };
    };
    const enrollAgent = async (cluster: string, token: string) => {
      const key = await makeAgentKey();
      secrets.push(key.keyPem, key.keyPem.split('\n')[1]!);
      const res = await enroll(hub, {
        token,
        clusterName: cluster,
        csrPem: key.csrPem,
        labels: { team: 'web' },
      });
      agents[cluster] = { ...key, certPem: res.certificatePem };
      return res;
    };
    const grpcCode = async (p: Promise<unknown>) => {
      try {
        await p;
        return 'OK';
      } catch (err) {
        return grpc.status[(err as grpc.ServiceError).code];
      }
    };

    it('1. token lifecycle: good tokens enroll once; expired, used, revoked, wrong-cluster refused; brute force limited', async () => {
      const good = await createToken('prod-eu', { labels: 'env=prod,region=eu', ttl: '1h' });
      const res = await enrollAgent('prod-eu', good.token);
      assert.match(res.certificatePem, /BEGIN CERTIFICATE/);
      assert.equal(res.caBundlePem, hub.caPem);
      assert.ok(Number(res.notAfterUnixMs) <= Date.now() + 3_600_000 + 1000);
      tokens['prod-eu'] = good.token;
      const dev = await createToken('dev-us', { labels: { env: 'dev', region: 'us' } });
      await enrollAgent('dev-us', dev.token);

      const csr = (await makeAgentKey()).csrPem;
      assert.equal(
        await grpcCode(enroll(hub, { token: good.token, clusterName: 'prod-eu', csrPem: csr })),
        'UNAUTHENTICATED',
        'used',
      );
      const expired = await createToken('prod-eu', { ttl: '1ms' });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(
        await grpcCode(enroll(hub, { token: expired.token, clusterName: 'prod-eu', csrPem: csr })),
        'UNAUTHENTICATED',
        'expired',
      );
      const revoked = await createToken('prod-eu');
      assert.equal(
        (await api(hub, admin, 'POST', `/api/v1/tokens/${revoked.id}/revoke`)).status,
        200,
      );
      assert.equal(
        await grpcCode(enroll(hub, { token: revoked.token, clusterName: 'prod-eu', csrPem: csr })),
        'UNAUTHENTICATED',
        'revoked',
      );
      const other = await createToken('staging');
      assert.equal(
        await grpcCode(enroll(hub, { token: other.token, clusterName: 'prod-eu', csrPem: csr })),
        'PERMISSION_DENIED',
        'wrong cluster',
      );
      const weak = await makeAgentKey('rsa1024');
      await assert.rejects(
        enroll(hub, { token: other.token, clusterName: 'staging', csrPem: weak.csrPem }),
        (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
          assert.match(err.details, /too weak: RSA 1024 bits/);
          return true;
        },
      );

      // 4 failures so far; 4 more guesses reach the limit of 8, then even a good token waits.
      for (let i = 0; i < 4; i++) {
        const guess = `et_${'0'.repeat(15)}${i}.${'A'.repeat(43)}`;
        assert.equal(
          await grpcCode(enroll(hub, { token: guess, clusterName: 'staging', csrPem: csr })),
          'UNAUTHENTICATED',
        );
      }
      assert.equal(
        await grpcCode(enroll(hub, { token: other.token, clusterName: 'staging', csrPem: csr })),
        'RESOURCE_EXHAUSTED',
      );
      await new Promise((r) => setTimeout(r, 3100));
      const list = await api(hub, admin, 'GET', '/api/v1/tokens');
      const states = Object.fromEntries(
        list.body.items.map((t: { id: string; state: string }) => [t.id, t.state]),
      );
      assert.equal(states[good.id], 'used');
      assert.equal(states[revoked.id], 'revoked');
      assert.equal(states[expired.id], 'expired');
      assert.equal(states[other.id], 'active', 'refused attempts do not use a token up');
      assert.ok(
        list.body.items.every(
          (t: Record<string, unknown>) => !('token' in t) && !('secretHash' in t),
        ),
      );
    });

    it('2/3. an enrolled agent connects; ingest then query; replays change nothing; trace ids kept', async () => {
      const s = connect(hub, agents['prod-eu']!);
      s.send(0n, hello('prod-eu'));
      const ack0 = await s.next();
      assert.deepEqual(ack0.body, { $case: 'ack', value: { agentSeq: 0n } });
      s.send(1n, appStatus(REVISION), TRACEPARENT);
      s.send(2n, driftReport('5'), TRACEPARENT);
      s.send(3n, syncResult('sync-1', ''), TRACEPARENT); // empty trace_id: taken from the W3C context
      s.send(4n, syncResult('sync-2', 'b'.repeat(32)));
      for (const seq of [1n, 2n, 3n, 4n])
        assert.deepEqual((await s.next()).body, { $case: 'ack', value: { agentSeq: seq } });
      // Replays of stored seqs with different content: acked, ignored.
      s.send(2n, driftReport('99'));
      s.send(1n, appStatus('c'.repeat(40)));
      assert.deepEqual((await s.next()).body, { $case: 'ack', value: { agentSeq: 4n } });
      assert.deepEqual((await s.next()).body, { $case: 'ack', value: { agentSeq: 4n } });
      s.send(0n, { $case: 'heartbeat', value: {} });

      const clusters = await api(hub, admin, 'GET', '/api/v1/clusters?selector=env=prod');
      assert.deepEqual(
        clusters.body.items.map((c: { name: string }) => c.name),
        ['prod-eu'],
      );
      const c = clusters.body.items[0];
      assert.equal(c.connected, true);
      assert.deepEqual(c.labels, { env: 'prod', region: 'eu', team: 'web' });
      const detail = await api(hub, admin, 'GET', '/api/v1/clusters/prod-eu');
      assert.equal(detail.body.apps.length, 1);
      assert.equal(detail.body.apps[0].revision, REVISION);
      assert.equal(detail.body.apps[0].syncStatus, 'out-of-sync');
      assert.equal(detail.body.apps[0].syncMode, 'manual');
      assert.equal(detail.body.apps[0].driftCount, 1);
      const drift = await api(hub, admin, 'GET', '/api/v1/drift?selector=env=prod,region=eu');
      assert.equal(drift.body.items.length, 1);
      assert.deepEqual(drift.body.items[0].fields, [
        { path: 'spec.replicas', desired: 3, live: 5 },
      ]);
      assert.equal(drift.body.items[0].changedBy, 'kubectl-edit');
      assert.equal(drift.body.items[0].objectRef, 'apps/v1 Deployment podinfo/web');
      assert.equal(
        (await api(hub, admin, 'GET', '/api/v1/drift?selector=env=dev')).body.items.length,
        0,
      );
      const history = await api(hub, admin, 'GET', '/api/v1/history?cluster=prod-eu');
      const byId = Object.fromEntries(
        history.body.items.map((h: { syncId: string }) => [h.syncId, h]),
      );
      assert.equal(byId['sync-1'].traceId, TRACE_ID);
      assert.equal(byId['sync-2'].traceId, 'b'.repeat(32));
      assert.deepEqual(byId['sync-1'].steps, [
        { name: 'fetch', durationMs: 120 },
        { name: 'apply/wave-0', durationMs: 340 },
      ]);
      assert.equal(byId['sync-1'].durationMs, 500);

      // Approvals go down the open stream at once, under a hub seq; the agent acks them.
      const approver = await api(hub, admin, 'POST', '/api/v1/api-tokens', {
        name: 'carol',
        role: 'approver',
      });
      secrets.push(approver.body.token.split('.')[1]);
      const ap = await api(hub, approver.body.token, 'POST', '/api/v1/approvals', {
        cluster: 'prod-eu',
        app: 'podinfo',
        revision: REVISION,
        planDigest: 'sha256:plan1',
      });
      assert.equal(ap.status, 201, JSON.stringify(ap.body));
      const msg = await s.next();
      assert.equal(msg.seq, 1n);
      assert.equal(msg.body?.$case, 'approval');
      if (msg.body?.$case === 'approval') {
        assert.equal(msg.body.value.planDigest, 'sha256:plan1');
        assert.equal(msg.body.value.approvedBy, 'carol');
      }
      s.send(0n, { $case: 'ack', value: { hubSeq: 1n } });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(
        (await api(hub, admin, 'GET', '/api/v1/approvals?pending=true')).body.items.length,
        0,
      );
      s.close();
      await s.status;
    });

    it('2. a certificate from another CA is refused; a revoked cluster is cut off and cannot return', async () => {
      const evil = await foreignClientCert('prod-eu');
      const e = connect(hub, evil);
      e.send(0n, hello('prod-eu'));
      const st = await e.status;
      assert.notEqual(st.code, grpc.status.OK);

      const s = connect(hub, agents['prod-eu']!);
      s.send(0n, hello('prod-eu'));
      await s.next();
      const rv = await api(hub, admin, 'POST', '/api/v1/clusters/prod-eu/revoke');
      assert.equal(rv.status, 200);
      assert.equal(rv.body.revoked, true);
      const closed = await s.status;
      assert.equal(closed.code, grpc.status.PERMISSION_DENIED);
      assert.match(closed.details, /revoked/);
      const again = connect(hub, agents['prod-eu']!);
      again.send(0n, hello('prod-eu'));
      assert.equal((await again.status).code, grpc.status.PERMISSION_DENIED);
    });

    it('4. each role is refused what it may not do; every write is audited', async () => {
      const mk = async (name: string, role: string) => {
        const r = await api(hub, admin, 'POST', '/api/v1/api-tokens', { name, role });
        secrets.push(r.body.token.split('.')[1]);
        return r.body.token as string;
      };
      const viewer = await mk('vera', 'viewer');
      const operator = await mk('otto', 'operator');
      const approver = await mk('april', 'approver');
      const approval = { cluster: 'dev-us', app: 'podinfo', revision: REVISION, planDigest: 'x' };
      const checks: [string | undefined, string, string, unknown, number][] = [
        [undefined, 'GET', '/api/v1/clusters', undefined, 401],
        ['at_0000000000000000.' + 'A'.repeat(43), 'GET', '/api/v1/clusters', undefined, 401],
        [viewer, 'GET', '/api/v1/clusters', undefined, 200],
        [viewer, 'POST', '/api/v1/tokens', { cluster: 'x' }, 403],
        [viewer, 'POST', '/api/v1/clusters/dev-us/sync', {}, 403],
        [viewer, 'GET', '/api/v1/tokens', undefined, 403],
        [operator, 'POST', '/api/v1/approvals', approval, 403],
        [operator, 'POST', '/api/v1/clusters/dev-us/sync', {}, 409], // allowed, but not connected
        [approver, 'POST', '/api/v1/clusters/dev-us/revoke', undefined, 403],
        [approver, 'POST', '/api/v1/api-tokens', { name: 'x', role: 'admin' }, 403],
        [approver, 'GET', '/api/v1/audit', undefined, 403],
        [operator, 'POST', '/api/v1/tokens', { cluster: 'x' }, 403],
      ];
      for (const [token, method, path, body, status] of checks) {
        const res = await api(hub, token, method, path, body);
        assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
        if (status >= 400) assert.match(res.body.error.message, /\w/);
      }
      const audit = await api(hub, admin, 'GET', '/api/v1/audit?limit=1000');
      const actions = audit.body.items.map((a: { action: string }) => a.action);
      for (const a of [
        'token.create',
        'token.revoke',
        'api-token.create',
        'approval.create',
        'cluster.revoke',
      ])
        assert.ok(actions.includes(a), `audit has ${a}`);
      const revoke = audit.body.items.find(
        (a: { action: string }) => a.action === 'cluster.revoke',
      );
      assert.match(revoke.actor, /^bootstrap-admin \(at_/);
      assert.equal(revoke.target, 'cluster/prod-eu');
      assert.ok(revoke.at);
      // Refused writes leave no trace in the audit log; allowed ones each leave one.
      const created = audit.body.items.filter(
        (a: { action: string }) => a.action === 'token.create',
      );
      assert.equal(created.length, 5);
    });

    it('6. malformed requests get 4xx / INVALID_ARGUMENT with a clear message, and the hub survives', async () => {
      const bad: [string, string, unknown, number, RegExp][] = [
        ['POST', '/api/v1/tokens', '{not json', 400, /not valid JSON/],
        ['POST', '/api/v1/tokens', '[1]', 400, /must be a JSON object/],
        ['POST', '/api/v1/tokens', {}, 400, /"cluster" is required/],
        ['POST', '/api/v1/tokens', { cluster: 'Bad_Name' }, 400, /cluster name/],
        ['POST', '/api/v1/tokens', { cluster: 'ok', ttl: 'soon' }, 400, /invalid duration/],
        ['POST', '/api/v1/tokens', { cluster: 'ok', uses: 0 }, 400, /uses/],
        ['POST', '/api/v1/tokens', { cluster: 'ok', labels: 'novalue' }, 400, /not key=value/],
        ['GET', '/api/v1/clusters?selector=a=b=c,,', undefined, 400, /label selector/],
        ['GET', '/api/v1/drift?state=weird', undefined, 400, /state/],
        ['GET', '/api/v1/history?limit=-1', undefined, 400, /limit/],
        ['GET', '/api/v1/clusters/nope', undefined, 404, /cluster nope: not found/],
        ['GET', '/api/v1/nothing', undefined, 404, /no such endpoint/],
        ['PUT', '/api/v1/clusters', undefined, 405, /not allowed/],
        [
          'POST',
          '/api/v1/approvals',
          { cluster: 'dev-us', app: 'podinfo', revision: 'main', planDigest: 'x' },
          400,
          /not a hex commit/,
        ],
        ['POST', '/api/v1/approvals', { cluster: 'dev-us', app: 5 }, 400, /must be a string/],
        ['POST', '/api/v1/api-tokens', { name: 'x', role: 'root' }, 400, /role/],
        ['POST', '/api/v1/tokens/et_nope/revoke', undefined, 404, /not found/],
        ['POST', '/api/v1/clusters/nope/revoke', undefined, 404, /not found/],
      ];
      for (const [method, path, body, status, message] of bad) {
        const res = await api(hub, admin, method, path, body);
        assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.error.message, message, `${method} ${path}`);
      }
      const csr = (await makeAgentKey()).csrPem;
      const other = await createToken('rpc-bad');
      const invalid = async (req: Parameters<typeof enroll>[1], message: RegExp) =>
        assert.rejects(enroll(hub, req), (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT, err.details);
          assert.match(err.details, message);
          return true;
        });
      await invalid({ token: '', clusterName: 'rpc-bad', csrPem: csr }, /token is empty/);
      await invalid({ token: other.token, clusterName: '', csrPem: csr }, /cluster name/);
      await invalid({ token: other.token, clusterName: 'rpc-bad', csrPem: '' }, /csr_pem is empty/);
      await invalid(
        { token: other.token, clusterName: 'rpc-bad', csrPem: 'garbage' },
        /not a PEM PKCS#10/,
      );
      await invalid(
        { token: other.token, clusterName: 'rpc-bad', csrPem: csr, labels: { 'bad key!': 'x' } },
        /label/,
      );

      const dev = agents['dev-us']!;
      const streams: [AgentMessageBody, bigint, RegExp][] = [
        [appStatus(REVISION), 1n, /first message must be a Hello/],
        [hello('someone-else'), 0n, /Hello names cluster/],
      ];
      for (const [body, seq, message] of streams) {
        const s = connect(hub, dev);
        s.send(seq, body);
        const st = await s.status;
        assert.ok(
          [grpc.status.INVALID_ARGUMENT, grpc.status.PERMISSION_DENIED].includes(st.code),
          st.details,
        );
        assert.match(st.details, message);
      }
      const s = connect(hub, dev);
      s.send(0n, hello('dev-us'));
      await s.next();
      s.send(0n, appStatus(REVISION));
      const st = await s.status;
      assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
      assert.match(st.details, /seq > 0/);
      const s2 = connect(hub, dev);
      s2.send(0n, hello('dev-us'));
      await s2.next();
      s2.send(1n, {
        $case: 'syncResult',
        value: { ...(syncResult('', '') as { value: object }).value },
      } as AgentMessageBody);
      const st2 = await s2.status;
      assert.equal(st2.code, grpc.status.INVALID_ARGUMENT);
      assert.match(st2.details, /sync_id is empty/);

      assert.equal((await api(hub, undefined, 'GET', '/healthz')).status, 200);
      assert.equal((await api(hub, undefined, 'GET', '/readyz')).status, 200);
      const metrics = await api(hub, undefined, 'GET', '/metrics');
      assert.match(
        String(metrics.body),
        /driftless_hub_reports_ingested_total\{type="drift",result="applied"\} 1/,
      );
      assert.match(String(metrics.body), /process_resident_memory_bytes/);
      assert.equal(hub.proc.exitCode, null, 'the hub is still running');
    });

    it('5. the hub restarts and keeps everything', async () => {
      const beforeState = {
        clusters: (await api(hub, admin, 'GET', '/api/v1/clusters')).body,
        apps: (await api(hub, admin, 'GET', '/api/v1/apps')).body,
        drift: (await api(hub, admin, 'GET', '/api/v1/drift?state=all')).body,
        history: (await api(hub, admin, 'GET', '/api/v1/history')).body,
        approvals: (await api(hub, admin, 'GET', '/api/v1/approvals')).body,
        tokens: (await api(hub, admin, 'GET', '/api/v1/tokens')).body,
        audit: (await api(hub, admin, 'GET', '/api/v1/audit?limit=1000')).body,
      };
      const dataDir = hub.dataDir;
      await hub.stop();
      hub = await start(dataDir);
      assert.equal(hub.bootstrapToken, undefined, 'no second bootstrap token');
      const afterState = {
        clusters: (await api(hub, admin, 'GET', '/api/v1/clusters')).body,
        apps: (await api(hub, admin, 'GET', '/api/v1/apps')).body,
        drift: (await api(hub, admin, 'GET', '/api/v1/drift?state=all')).body,
        history: (await api(hub, admin, 'GET', '/api/v1/history')).body,
        approvals: (await api(hub, admin, 'GET', '/api/v1/approvals')).body,
        tokens: (await api(hub, admin, 'GET', '/api/v1/tokens')).body,
        audit: (await api(hub, admin, 'GET', '/api/v1/audit?limit=1000')).body,
      };
      // Nothing is connected right after a restart; everything else is as it was.
      for (const c of beforeState.clusters.items) c.connected = false;
      assert.deepEqual(afterState, beforeState);
      // Pages of one app, each naming the next, add up to the whole list.
      const paged: unknown[] = [];
      let next: string | undefined = '';
      while (next !== undefined) {
        const page = await api(
          hub,
          admin,
          'GET',
          `/api/v1/apps?limit=1${next ? `&after=${encodeURIComponent(next)}` : ''}`,
        );
        assert.equal(page.status, 200);
        paged.push(...page.body.items);
        next = page.body.next;
      }
      assert.deepEqual(paged, afterState.apps.items);
      const badCursor = await api(hub, admin, 'GET', '/api/v1/apps?limit=1&after=nocluster');
      assert.equal(badCursor.status, 400);
      assert.match(
        badCursor.body.error.message,
        /after "nocluster": not a cursor of the form cluster\/app/,
      );
      // The CA survived: the old certificate still connects, and its seq is remembered.
      const s = connect(hub, agents['dev-us']!);
      s.send(0n, hello('dev-us'));
      assert.equal((await s.next()).body?.$case, 'ack');
      s.close();
      await s.status;
    });

    it('7. the store holds no kubeconfig, no cluster token and no agent private key', async () => {
      await hub.stop();
      let text: string;
      if (store === 'sqlite') {
        const sqlite = new DatabaseSync(join(hub.dataDir, 'hub.db'), { readOnly: true });
        const tables = sqlite
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
          .all() as { name: string }[];
        text = JSON.stringify(tables.map((t) => sqlite.prepare(`SELECT * FROM "${t.name}"`).all()));
        sqlite.close();
      } else {
        const client = new pg.Client({ connectionString: db!.url });
        await client.connect();
        const tables = await client.query<{ tablename: string }>(
          "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        );
        const rows = [];
        for (const t of tables.rows)
          rows.push((await client.query(`SELECT * FROM "${t.tablename}"`)).rows);
        await client.end();
        text = JSON.stringify(rows);
      }
      assert.ok(
        text.includes('prod-eu') && text.includes('kubectl-edit'),
        'the dump does hold fleet state',
      );
      assert.doesNotMatch(text, /kubeconfig|PRIVATE KEY|client-key-data/i);
      for (const s of secrets)
        assert.ok(!text.includes(s.trim()), 'a secret was found in the store');
      // The data directory holds the database and the CA; only ca.key is a private key.
      for (const f of readdirSync(hub.dataDir)) {
        const content = readFileSync(join(hub.dataDir, f), 'latin1');
        for (const a of Object.values(agents))
          assert.ok(!content.includes(a.keyPem.split('\n')[1]!), `${f} holds an agent key`);
        if (f === 'ca.key') assert.equal(statSync(join(hub.dataDir, f)).mode & 0o777, 0o600);
      }
    });
  });
}
