// The store contract, run once per implementation: SQLite in the unit tests
// (hub/src/store/store.test.ts) and PostgreSQL in test/integration/hub/store-postgres.test.ts.
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { parseSelector, type Store } from '../src/store/index.ts';
import type { Report } from '../src/store/types.ts';
import * as build from './reports.ts';

const audit = { actor: 'alice (at_1)', action: 'test.write', target: 'test/1' };

/** Registers the store contract tests; `open` gives a fresh, empty store each call. */
export function storeSuite(name: string, open: () => Promise<Store>): void {
  void describe(`store contract: ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store.close();
    });

    const enroll = (cluster: string, labels: Record<string, string>) =>
      build.enrollCluster(store, cluster, labels);

    void it('enrolls once per single-use token and records the certificate', async () => {
      assert.equal(await enroll('prod-eu', { env: 'prod', region: 'eu' }), true);
      assert.equal(
        await store.completeEnrollment({
          tokenId: 'et_prod-eu',
          cluster: 'prod-eu',
          labels: {},
          adminLabels: {},
          agentVersion: '1',
          certificate: { serial: 'other', issuedMs: 1, notAfterMs: 2 },
          nowMs: Date.now(),
        }),
        false,
        'a used token must not enroll again',
      );
      assert.equal((await store.getCertificate('serial-prod-eu'))?.cluster, 'prod-eu');
      assert.equal(await store.getCertificate('other'), undefined);
      const c = await store.getCluster('prod-eu');
      assert.deepEqual(c?.labels, { env: 'prod', region: 'eu' });
      assert.equal((await store.getEnrollmentToken('et_prod-eu'))?.uses, 1);
    });

    void it('selects clusters by labels', async () => {
      await enroll('prod-us', { env: 'prod', region: 'us' });
      await enroll('dev-eu', { env: 'dev', region: 'eu' });
      const names = async (s: string) =>
        (await store.listClusters(parseSelector(s))).map((c) => c.name);
      assert.deepEqual(await names('env=prod'), ['prod-eu', 'prod-us']);
      assert.deepEqual(await names('env=prod,region=eu'), ['prod-eu']);
      assert.deepEqual(await names('region!=eu'), ['prod-us']);
      assert.deepEqual(await names('!gpu'), ['dev-eu', 'prod-eu', 'prod-us']);
      assert.deepEqual(await names(''), ['dev-eu', 'prod-eu', 'prod-us']);
    });

    void it('ingests idempotently by sequence number', async () => {
      const app: Report = {
        kind: 'app',
        app: {
          app: 'podinfo',
          revision: 'abc',
          syncStatus: 'synced',
          syncMode: 'auto',
          health: 'healthy',
          healthMessage: '',
          driftCount: 1,
          planDigest: '',
          pendingPlan: [],
          message: '',
          lastSyncMs: 5,
        },
      };
      assert.deepEqual(await store.ingest('prod-eu', 1, app, 10), { applied: true, lastSeq: 1 });
      const drift: Report = {
        kind: 'drift',
        drift: {
          driftId: 'd1',
          app: 'podinfo',
          object: { group: 'apps', version: 'v1', kind: 'Deployment', namespace: 'p', name: 'web' },
          objectRef: 'apps/v1 Deployment p/web',
          type: 'modified',
          fields: [{ path: 'spec.replicas', desiredJson: '3', liveJson: '5' }],
          changedBy: 'kubectl-edit',
          detectedMs: 20,
          healed: false,
          healedMs: 0,
          message: '',
          lastSyncTraceId: 't'.repeat(32),
        },
      };
      assert.equal((await store.ingest('prod-eu', 2, drift, 20)).applied, true);
      // A replay of seq 1 carrying different content must change nothing.
      const replay: Report = { kind: 'app', app: { ...app.app, revision: 'zzz' } };
      assert.deepEqual(await store.ingest('prod-eu', 1, replay, 30), {
        applied: false,
        lastSeq: 2,
      });
      const apps = await store.listApps({ cluster: 'prod-eu' });
      assert.equal(apps.length, 1);
      assert.equal(apps[0]?.revision, 'abc');
      const sync: Report = {
        kind: 'sync',
        sync: {
          syncId: 's1',
          app: 'podinfo',
          revision: 'abc',
          result: 'succeeded',
          error: '',
          planDigest: 'pd',
          objects: [],
          steps: [{ name: 'fetch', durationMs: 12 }],
          traceId: 'a'.repeat(32),
          startedMs: 1,
          finishedMs: 2,
          health: 'healthy',
          retryable: false,
          approvalId: '',
        },
      };
      assert.equal((await store.ingest('prod-eu', 3, sync, 40)).applied, true);
      const history = await store.listHistory({ selector: parseSelector('region=eu') });
      assert.equal(history.length, 1);
      assert.deepEqual(history[0]?.steps, [{ name: 'fetch', durationMs: 12 }]);
      const drifts = await store.listDrift({ selector: parseSelector('env=prod'), open: true });
      assert.equal(drifts.length, 1);
      assert.equal(drifts[0]?.fields[0]?.liveJson, '5');
      assert.equal((await store.listDrift({ selector: parseSelector('env=dev') })).length, 0);
      // Healing is an upsert of the same drift id under a new seq.
      const healed: Report = {
        kind: 'drift',
        drift: { ...drift.drift, healed: true, healedMs: 50 },
      };
      await store.ingest('prod-eu', 4, healed, 50);
      assert.equal((await store.listDrift({ open: true })).length, 0);
      assert.equal((await store.listDrift({ open: false }))[0]?.healedMs, 50);
      await assert.rejects(store.ingest('nope', 1, app, 1), /cluster nope: not found/);
      // Only a contiguous prefix is stored: a report after a hole is refused, never skipped to.
      await assert.rejects(
        store.ingest('prod-eu', 6, app, 60),
        /report seq 6 from cluster prod-eu is out of order: the hub has every report up to seq 4/,
      );
      assert.equal((await store.getCluster('prod-eu'))?.lastAgentSeq, 4);
    });

    void it('prunes sync history by age and by count per app', async () => {
      await enroll('history', {});
      const sync = (id: string, finishedMs: number): Report => ({
        kind: 'sync',
        sync: {
          syncId: id,
          app: 'web',
          revision: 'r',
          result: 'succeeded',
          error: '',
          planDigest: '',
          objects: [],
          steps: [],
          traceId: '',
          startedMs: finishedMs,
          finishedMs,
          health: 'healthy',
          retryable: false,
          approvalId: '',
        },
      });
      for (const [i, t] of [10, 20, 30, 40, 50].entries())
        await store.ingest('history', i + 1, sync(`h${t}`, t), t);
      const ids = async () =>
        (await store.listHistory({ cluster: 'history' })).map((h) => h.syncId);
      // The store is shared with the other contract tests: their history counts too.
      assert.ok((await store.pruneHistory({ olderThanMs: 25, keepPerApp: 0 })) >= 2);
      assert.deepEqual(await ids(), ['h50', 'h40', 'h30']);
      assert.ok((await store.pruneHistory({ olderThanMs: 0, keepPerApp: 2 })) >= 1);
      assert.deepEqual(await ids(), ['h50', 'h40']);
    });

    void it('marks apps gone when Hello no longer lists them', async () => {
      await store.recordHello(
        'prod-eu',
        {
          agentVersion: '1.1',
          labels: { env: 'prod', region: 'eu' },
          apps: [],
          repoUrl: 'https://ci:s3cret@git.example.com/fleet.git',
          branch: 'main',
        },
        60,
      );
      // An empty list: the agent does not know its apps yet, so nothing is gone.
      assert.equal((await store.listApps({ cluster: 'prod-eu' }))[0]?.gone, false);
      await store.recordHello(
        'prod-eu',
        {
          agentVersion: '1.1',
          labels: { env: 'prod', region: 'eu' },
          apps: ['something-else'],
          repoUrl: 'https://ci:s3cret@git.example.com/fleet.git',
          branch: 'main',
        },
        60,
      );
      assert.equal((await store.listApps({ cluster: 'prod-eu' }))[0]?.gone, true);
      await store.recordHello(
        'prod-eu',
        {
          agentVersion: '1.1',
          labels: { env: 'prod', region: 'eu' },
          apps: ['podinfo'],
          repoUrl: 'https://ci:s3cret@git.example.com/fleet.git',
          branch: 'main',
        },
        61,
      );
      const c = await store.getCluster('prod-eu');
      assert.equal(c?.agentVersion, '1.1');
      // The repository is kept for the webhook receiver and people, never its credentials.
      assert.equal(c?.repoUrl, 'https://git.example.com/fleet.git');
      assert.equal(c?.branch, 'main');
      assert.equal(c?.connected, true);
      assert.equal((await store.listApps({ cluster: 'prod-eu' }))[0]?.gone, false);
    });

    void it("records a Hello's labels under the token's, its ack and the stored seq", async () => {
      await enroll('hello-labels', { env: 'prod' });
      const hello = (labels: Record<string, string>, ackedHubSeq?: number) =>
        store.recordHello(
          'hello-labels',
          { agentVersion: '2.0', labels, apps: [], repoUrl: '', branch: 'main', ackedHubSeq },
          70,
        );
      const names = async (s: string) =>
        (await store.listClusters(parseSelector(s)))
          .map((c) => c.name)
          .filter((n) => n === 'hello-labels');
      // The token's labels win over the agent's.
      assert.deepEqual(await hello({ env: 'dev', team: 'a' }), { lastAgentSeq: 0 });
      assert.deepEqual((await store.getCluster('hello-labels'))?.labels, {
        env: 'prod',
        team: 'a',
      });
      assert.deepEqual(await names('env=prod,team=a'), ['hello-labels']);
      assert.deepEqual(await names('env=dev'), []);
      // A label the agent no longer sends leaves the index; a new one joins it.
      await store.ingest(
        'hello-labels',
        1,
        { kind: 'gap', gap: { firstSeq: 1, lastSeq: 1, count: 1, summary: '' } },
        71,
      );
      assert.deepEqual(await hello({ tier: 'web' }), { lastAgentSeq: 1 });
      assert.deepEqual((await store.getCluster('hello-labels'))?.labels, {
        env: 'prod',
        tier: 'web',
      });
      assert.deepEqual(await names('team=a'), []);
      assert.deepEqual(await names('env=prod,tier=web'), ['hello-labels']);
      // The Hello's ack counts as ackHubSeq's would: never beyond what was handed out.
      assert.equal(await store.nextHubSeq('hello-labels'), 1);
      await hello({ tier: 'web' }, 5);
      assert.equal((await store.getCluster('hello-labels'))?.ackedHubSeq, 0);
      await hello({ tier: 'web' }, 1);
      assert.equal((await store.getCluster('hello-labels'))?.ackedHubSeq, 1);
      await hello({ tier: 'web' }, 0);
      assert.equal((await store.getCluster('hello-labels'))?.ackedHubSeq, 1);
      await assert.rejects(
        store.recordHello(
          'no-such-cluster',
          { agentVersion: '', labels: {}, apps: [], repoUrl: '', branch: '' },
          1,
        ),
        { name: 'NotFoundError' },
      );
    });

    void it('a heartbeat marks a cluster connected again after a reset (another replica started)', async () => {
      await store.resetConnected();
      assert.equal((await store.getCluster('prod-eu'))?.connected, false);
      await store.touch('prod-eu', 70);
      const c = await store.getCluster('prod-eu');
      assert.equal(c?.connected, true);
      assert.equal(c?.lastSeenMs, 70);
      await store.setConnected('prod-eu', false, 71);
      assert.equal((await store.getCluster('prod-eu'))?.connected, false);
    });

    void it('numbers approvals per cluster and tracks acks', async () => {
      const a = await store.createApproval(
        {
          id: 'ap1',
          cluster: 'prod-eu',
          app: 'podinfo',
          revision: 'abc',
          planDigest: 'pd',
          approvedBy: 'alice',
          approvedMs: 70,
        },
        { ...audit, action: 'approval.create' },
      );
      assert.equal(a.hubSeq, 1);
      assert.equal((await store.unackedApprovals('prod-eu', 0)).length, 1);
      assert.equal(await store.nextHubSeq('prod-eu'), 2);
      await store.ackHubSeq('prod-eu', 99); // beyond what was handed out: ignored
      assert.equal((await store.listApprovals({ pending: true })).length, 1);
      await store.ackHubSeq('prod-eu', 1);
      assert.equal((await store.listApprovals({ pending: true })).length, 0);
      assert.equal((await store.listApprovals({}))[0]?.acked, true);
      // An agent that acked it has nothing to receive; one that restarted and says 0 gets it again.
      assert.equal((await store.unackedApprovals('prod-eu', 1)).length, 0);
      assert.deepEqual(
        (await store.unackedApprovals('prod-eu', 0)).map((x) => x.id),
        ['ap1'],
      );
      // Only the newest approval of an app is delivered.
      await store.createApproval(
        {
          id: 'ap2',
          cluster: 'prod-eu',
          app: 'podinfo',
          revision: 'def',
          planDigest: 'pd2',
          approvedBy: 'bob',
          approvedMs: 71,
        },
        { ...audit, action: 'approval.create' },
      );
      assert.deepEqual(
        (await store.unackedApprovals('prod-eu', 0)).map((x) => x.id),
        ['ap2'],
      );
    });

    void it('revokes a cluster and all its certificates, audited', async () => {
      await store.revokeCluster('prod-us', 80, { ...audit, action: 'cluster.revoke' });
      assert.notEqual((await store.getCertificate('serial-prod-us'))?.revokedMs, 0);
      assert.notEqual((await store.getCluster('prod-us'))?.revokedMs, 0);
      await assert.rejects(store.revokeCluster('ghost', 1, audit), /cluster ghost: not found/);
      const log = await store.listAudit({});
      assert.ok(log.some((e) => e.action === 'cluster.revoke'));
      assert.ok(log.some((e) => e.action === 'approval.create'));
    });

    void it('makes a revocation stick: open tokens revoked, enrollment refused until allowed', async () => {
      const token = (id: string, maxUses: number) => ({
        id,
        secretHash: 'h'.repeat(64),
        cluster: 'stuck',
        labels: {},
        createdMs: Date.now(),
        createdBy: 'alice',
        expiresMs: Date.now() + 60_000,
        maxUses,
        uses: 0,
        revokedMs: 0,
        lastUsedMs: 0,
      });
      const complete = (tokenId: string, serial: string) =>
        store.completeEnrollment({
          tokenId,
          cluster: 'stuck',
          labels: {},
          adminLabels: {},
          agentVersion: '1',
          certificate: { serial, issuedMs: 1, notAfterMs: Date.now() + 1000 },
          nowMs: Date.now(),
        });
      await store.createEnrollmentToken(token('et_stuck', 5), audit);
      assert.equal(await complete('et_stuck', 'stuck-1'), true);
      await store.recordNatsUser({
        publicKey: 'UABC',
        cluster: 'stuck',
        issuedMs: 1,
        revokedMs: 0,
      });
      await store.revokeCluster('stuck', 90, { ...audit, action: 'cluster.revoke' });
      assert.equal((await store.getEnrollmentToken('et_stuck'))?.revokedMs, 90, 'uses left');
      assert.equal((await store.getCluster('stuck'))?.enrollmentBlocked, true);
      assert.deepEqual(
        (await store.listRevokedNatsUsers()).map((u) => u.publicKey),
        ['UABC'],
      );
      const entry = (await store.listAudit({})).find((e) => e.target === 'test/1' && e.atMs === 90);
      assert.equal(entry?.details['enrollmentTokensRevoked'], 1);
      // A token made after the revocation (e.g. by a script) cannot enroll the name either.
      await store.createEnrollmentToken(token('et_stuck2', 1), audit);
      assert.equal(await complete('et_stuck2', 'stuck-2'), false);
      await store.allowEnrollment('stuck', 100, { ...audit, action: 'cluster.allow-enrollment' });
      await assert.rejects(store.allowEnrollment('stuck', 101, audit), /is not blocked/);
      await assert.rejects(store.allowEnrollment('ghost', 101, audit), /not found/);
      assert.equal(await complete('et_stuck2', 'stuck-2'), true);
      const c = await store.getCluster('stuck');
      assert.equal(c?.revokedMs, 0);
      assert.equal(c?.enrollmentBlocked, false);
    });

    void it('keeps API tokens and enrollment token revocation', async () => {
      await store.createApiToken(
        {
          id: 'at_x',
          secretHash: 'x'.repeat(64),
          name: 'bob',
          role: 'viewer',
          createdMs: 1,
          createdBy: 'alice',
          revokedMs: 0,
        },
        audit,
      );
      assert.equal(await store.countApiTokens(), 1);
      await store.revokeApiToken('at_x', 2, audit);
      await assert.rejects(store.revokeApiToken('at_x', 3, audit), /already revoked/);
      await store.revokeEnrollmentToken('et_dev-eu', 4, audit);
      assert.equal((await store.getEnrollmentToken('et_dev-eu'))?.revokedMs, 4);
      await assert.rejects(store.revokeEnrollmentToken('et_none', 4, audit), /not found/);
    });

    void it('pages apps by (cluster, app) and lists drift newest first, as the rows say', async () => {
      // A seeded generator, so a failure repeats.
      let seed = 42;
      const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
      const clusters = { 'scale-a': 'prod', 'scale-b': 'dev', 'scale-c': 'prod' } as const;
      const seqs: Record<string, number> = {};
      const expected = new Map<
        string,
        { cluster: string; driftId: string; detectedMs: number; healed: boolean }
      >();
      for (const [cluster, env] of Object.entries(clusters)) {
        await enroll(cluster, { env, tier: 'scale' });
        seqs[cluster] = 0;
      }
      const names = Object.keys(clusters);
      for (let k = 0; k < 300; k++) {
        const cluster = names[random(names.length)]!;
        const app = `app-${random(7)}`;
        const report: Report =
          random(2) === 0
            ? {
                kind: 'app',
                app: {
                  app,
                  revision: 'r',
                  syncStatus: 'synced',
                  syncMode: 'auto',
                  health: 'healthy',
                  healthMessage: '',
                  driftCount: random(3),
                  planDigest: '',
                  pendingPlan: [],
                  message: '',
                  lastSyncMs: k,
                },
              }
            : {
                kind: 'drift',
                drift: {
                  driftId: `d${random(40)}`,
                  app,
                  object: {
                    group: '',
                    version: 'v1',
                    kind: 'ConfigMap',
                    namespace: 'n',
                    name: app,
                  },
                  objectRef: `v1 ConfigMap n/${app}`,
                  type: 'modified',
                  fields: [],
                  changedBy: 'kubectl',
                  // Few distinct times, so ties are ordered by cluster and drift id.
                  detectedMs: 1000 + random(25),
                  healed: random(3) === 0,
                  healedMs: 0,
                  message: '',
                  lastSyncTraceId: '',
                },
              };
        seqs[cluster]!++;
        await store.ingest(cluster, seqs[cluster]!, report, 5000 + k);
        if (report.kind === 'drift')
          expected.set(`${cluster}/${report.drift.driftId}`, {
            cluster,
            driftId: report.drift.driftId,
            detectedMs: report.drift.detectedMs,
            healed: report.drift.healed,
          });
      }

      // Pages of 4 put together are the whole list, in order, each app once.
      const all = (await store.listApps({})).map((a) => `${a.cluster}/${a.app}`);
      const paged: string[] = [];
      let after: { cluster: string; app: string } | undefined;
      for (;;) {
        const page = await store.listApps({ limit: 4, after });
        paged.push(...page.map((a) => `${a.cluster}/${a.app}`));
        if (page.length < 4) break;
        after = page.at(-1)!;
      }
      assert.deepEqual(paged, all);
      const one = await store.listApps({ cluster: 'scale-a', app: 'app-3' });
      assert.deepEqual(
        one.map((a) => a.app),
        (await store.listApps({ cluster: 'scale-a' }))
          .filter((a) => a.app === 'app-3')
          .map((a) => a.app),
      );

      // The drift list matches what was ingested, filtered and ordered the documented way.
      const want = (open: boolean | undefined, env: string | undefined, limit: number) =>
        [...expected.values()]
          .filter((d) => open === undefined || d.healed !== open)
          .filter((d) => !env || clusters[d.cluster as keyof typeof clusters] === env)
          .sort(
            (a, b) =>
              b.detectedMs - a.detectedMs ||
              (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0) ||
              (a.driftId < b.driftId ? -1 : a.driftId > b.driftId ? 1 : 0),
          )
          .slice(0, limit)
          .map((d) => `${d.cluster}/${d.driftId}`);
      for (const open of [true, false, undefined])
        for (const env of ['prod', 'dev'])
          for (const limit of [5, 500]) {
            const got = await store.listDrift({
              selector: parseSelector(`tier=scale,env=${env}`),
              open,
              limit,
            });
            assert.deepEqual(
              got.map((d) => `${d.cluster}/${d.driftId}`),
              want(open, env, limit),
              `open=${open} env=${env} limit=${limit}`,
            );
          }
    });

    void it('ingestMany in one transaction gives what one report at a time gives', async () => {
      await enroll('batch-a', {});
      await enroll('batch-b', {});
      const appReport = (name: string, health: 'healthy' | 'degraded') =>
        build.appReport(name, { health, healthMessage: health });
      const driftReport = (fight: boolean) =>
        build.driftReport({
          message: fight ? 'fighting' : 'after',
          fight: fight ? { manager: 'hpa', paths: ['spec.replicas'], periodMs: 1000 } : null,
        });
      const syncReport = (error: string) => build.syncReport('s1', { error });
      const item = (cluster: string, seq: number, report: Report) => ({
        cluster,
        seq,
        report,
        nowMs: 100 + seq,
      });
      const out = await store.ingestMany([
        item('batch-a', 1, appReport('web', 'healthy')),
        // The same app and the same drift twice in one batch: the later report is stored.
        item('batch-a', 2, appReport('web', 'degraded')),
        item('batch-a', 3, driftReport(true)),
        item('batch-a', 4, driftReport(false)),
        item('batch-a', 2, appReport('web', 'healthy')),
        item('batch-a', 6, appReport('web', 'healthy')),
        item('batch-b', 1, appReport('api', 'healthy')),
        // A config that no longer lists api marks it gone after its report in this batch.
        item('batch-b', 2, {
          kind: 'config',
          config: {
            revision: 'c1',
            valid: true,
            error: '',
            file: 'driftless.yaml',
            line: 0,
            appliedRevision: 'c1',
            checkedMs: 1,
            apps: ['other'],
          },
        }),
        item('batch-b', 3, appReport('other', 'healthy')),
        item('batch-none', 1, appReport('web', 'healthy')),
        item('batch-a', 5, syncReport('first')),
        // A second copy of a sync id is the same result: the first stays.
        item('batch-a', 6, syncReport('second')),
      ]);
      assert.deepEqual(
        out.map((o) => (o.ok ? o.result : o.error.name)),
        [
          { applied: true, lastSeq: 1 },
          { applied: true, lastSeq: 2 },
          { applied: true, lastSeq: 3 },
          { applied: true, lastSeq: 4 },
          { applied: false, lastSeq: 4 },
          'ReportOutOfOrderError',
          { applied: true, lastSeq: 1 },
          { applied: true, lastSeq: 2 },
          { applied: true, lastSeq: 3 },
          'NotFoundError',
          { applied: true, lastSeq: 5 },
          { applied: true, lastSeq: 6 },
        ],
      );
      assert.equal((await store.getCluster('batch-a'))?.lastAgentSeq, 6);
      assert.equal((await store.getCluster('batch-a'))?.lastSeenMs, 106);
      assert.equal((await store.getCluster('batch-b'))?.lastAgentSeq, 3);
      assert.deepEqual(
        (await store.listApps({ cluster: 'batch-a' })).map((a) => [a.app, a.health, a.updatedMs]),
        [['web', 'degraded', 102]],
      );
      assert.deepEqual(
        (await store.listApps({ cluster: 'batch-b' })).map((a) => [a.app, a.gone]),
        [
          ['api', true],
          ['other', false],
        ],
      );
      const [d] = await store.listDrift({ cluster: 'batch-a' });
      // The fight ended with the second report, and the record remembers there was one.
      assert.deepEqual([d?.message, d?.fight, d?.fought], ['after', null, true]);
      const syncs = await store.listHistory({ cluster: 'batch-a' });
      assert.deepEqual(
        syncs.map((h) => [h.syncId, h.error]),
        [['s1', 'first']],
      );
      // A later batch naming no fight keeps `fought`; one more app report updates the row.
      await store.ingestMany([
        item('batch-a', 7, driftReport(false)),
        item('batch-a', 8, appReport('web', 'healthy')),
      ]);
      const [again] = await store.listDrift({ cluster: 'batch-a' });
      assert.equal(again?.fought, true);
      assert.equal((await store.appHealth('batch-a', 'web'))?.health, 'healthy');
    });

    void it('ingestMany of reports in order stores each kind as one at a time would', async () => {
      await enroll('order-a', {});
      await enroll('order-b', {});
      const app = (name: string, health: 'healthy' | 'degraded') =>
        build.appReport(name, {
          health,
          healthMessage: `it's "${health}"`,
          pendingPlan: [{ kind: 'ConfigMap', name: 'c' }],
          lastSyncMs: 1_733_000_000_000,
        });
      const sync = (syncId: string, error: string) =>
        build.syncReport(syncId, {
          result: error ? 'failed' : 'succeeded',
          error,
          retryable: error !== '',
        });
      const drift = (healed: boolean) => build.driftReport({ healed, healedMs: healed ? 5 : 0 });
      const gap: Report = {
        kind: 'gap',
        gap: { firstSeq: 1, lastSeq: 2, count: 2, summary: 'dropped' },
      };
      const item = (cluster: string, seq: number, report: Report) => ({
        cluster,
        seq,
        report,
        nowMs: 1000 + seq,
      });
      const out = await store.ingestMany([
        item('order-a', 1, app('web', 'healthy')),
        item('order-b', 1, gap),
        item('order-a', 2, drift(false)),
        item('order-a', 3, sync('s1', 'boom')),
        item('order-b', 2, app('api', 'degraded')),
        item('order-a', 4, app('web', 'degraded')),
        item('order-a', 5, sync('s1', 'again')),
        item('order-a', 6, drift(true)),
      ]);
      assert.deepEqual(
        out.map((o) => (o.ok ? o.result.lastSeq : o.error.name)),
        [1, 1, 2, 3, 2, 4, 5, 6],
      );
      assert.ok(out.every((o) => o.ok && o.result.applied));
      assert.equal((await store.getCluster('order-a'))?.lastAgentSeq, 6);
      assert.equal((await store.getCluster('order-a'))?.lastSeenMs, 1006);
      assert.equal((await store.getCluster('order-b'))?.lastAgentSeq, 2);
      const [web] = await store.listApps({ cluster: 'order-a' });
      assert.deepEqual(
        [web?.health, web?.healthMessage, web?.pendingPlan, web?.lastSyncMs, web?.updatedMs],
        [
          'degraded',
          `it's "degraded"`,
          [{ kind: 'ConfigMap', name: 'c' }],
          1_733_000_000_000,
          1004,
        ],
      );
      assert.deepEqual(
        (await store.listHistory({ cluster: 'order-a' })).map((h) => [
          h.syncId,
          h.error,
          h.retryable,
        ]),
        [['s1', 'boom', true]],
      );
      const [d] = await store.listDrift({ cluster: 'order-a' });
      assert.deepEqual([d?.healed, d?.healedMs, d?.updatedMs], [true, 5, 1006]);
      // The next batch starts with a replay: each report gets what it would alone.
      const next = await store.ingestMany([
        item('order-b', 2, app('api', 'healthy')),
        item('order-a', 7, app('web', 'healthy')),
        item('order-b', 3, app('api', 'healthy')),
      ]);
      assert.deepEqual(
        next.map((o) => (o.ok ? o.result : o.error.name)),
        [
          { applied: false, lastSeq: 2 },
          { applied: true, lastSeq: 7 },
          { applied: true, lastSeq: 3 },
        ],
      );
      assert.equal((await store.appHealth('order-b', 'api'))?.health, 'healthy');
      // One report alone: the next, a replay, one too far ahead.
      assert.deepEqual(await store.ingest('order-a', 8, app('web', 'degraded'), 2000), {
        applied: true,
        lastSeq: 8,
      });
      assert.deepEqual(await store.ingest('order-a', 8, app('web', 'healthy'), 2001), {
        applied: false,
        lastSeq: 8,
      });
      await assert.rejects(store.ingest('order-a', 10, app('web', 'healthy'), 2002), {
        name: 'ReportOutOfOrderError',
      });
      assert.equal((await store.appHealth('order-a', 'web'))?.health, 'degraded');
    });

    void it('reads one app health, one sync by its id, and counts an app open drift', async () => {
      await enroll('one-read', {});
      const drift = (driftId: string, over: Partial<Extract<Report, { kind: 'drift' }>['drift']>) =>
        build.driftReport({
          driftId,
          object: { group: '', version: 'v1', kind: 'ConfigMap', namespace: 'n', name: driftId },
          objectRef: `v1 ConfigMap n/${driftId}`,
          ...over,
        });
      const sync = (syncId: string) =>
        build.syncReport(syncId, {
          revision: syncId.repeat(2),
          finishedMs: Number(syncId.slice(1)),
        });
      const reports: Report[] = [
        build.appReport('web', {
          revision: 'r1',
          health: 'degraded',
          healthMessage: 'pod crashing',
        }),
        drift('d1', {}),
        drift('d2', { healed: true }),
        drift('d3', { app: 'api' }),
        ...Array.from({ length: 25 }, (_, i) => sync(`s${i + 1}`)),
      ];
      for (const [i, r] of reports.entries()) await store.ingest('one-read', i + 1, r, 100);
      assert.deepEqual(await store.appHealth('one-read', 'web'), {
        health: 'degraded',
        healthMessage: 'pod crashing',
        revision: 'r1',
        gone: false,
      });
      assert.equal(await store.appHealth('one-read', 'nope'), undefined);
      // Asked in one turn (one statement), each gets its own answer.
      const together = await Promise.all(
        ['web', 'nope', 'web', 'api'].map((app) => store.appHealth('one-read', app)),
      );
      assert.deepEqual(
        together.map((h) => h?.health),
        ['degraded', undefined, 'degraded', undefined],
      );
      assert.deepEqual(await store.driftState('one-read', 'web'), { open: 1, fighting: false });
      assert.deepEqual(await store.driftState('one-read', 'none'), { open: 0, fighting: false });
      await store.ingest(
        'one-read',
        reports.length + 1,
        drift('d4', { fight: { manager: 'hpa', paths: ['spec.replicas'], periodMs: 1000 } }),
        100,
      );
      assert.deepEqual(await store.driftState('one-read', 'web'), { open: 2, fighting: true });
      // The oldest sync, beyond the newest 20 of the app, is read by its id.
      const [s1] = await store.listHistory({ cluster: 'one-read', app: 'web', syncId: 's1' });
      assert.deepEqual([s1?.syncId, s1?.revision], ['s1', 's1s1']);
      assert.deepEqual(
        await store.listHistory({ cluster: 'one-read', app: 'web', syncId: 'gone' }),
        [],
      );
    });

    void it('rolls back a transaction that fails half-way', async () => {
      const now = Date.now();
      await store.createEnrollmentToken(
        {
          id: 'et_multi',
          secretHash: 'h'.repeat(64),
          cluster: 'prod-eu',
          labels: {},
          createdMs: now,
          createdBy: 'alice',
          expiresMs: now + 60_000,
          maxUses: 2,
          uses: 0,
          revokedMs: 0,
          lastUsedMs: 0,
        },
        audit,
      );
      // The certificate serial already exists, so the insert fails after the token update.
      await assert.rejects(
        store.completeEnrollment({
          tokenId: 'et_multi',
          cluster: 'prod-eu',
          labels: {},
          adminLabels: {},
          agentVersion: '9',
          certificate: { serial: 'serial-prod-eu', issuedMs: 1, notAfterMs: 2 },
          nowMs: now,
        }),
      );
      assert.equal((await store.getEnrollmentToken('et_multi'))?.uses, 0);
      assert.equal((await store.getCluster('prod-eu'))?.agentVersion, '1.1');
    });
  });
}
