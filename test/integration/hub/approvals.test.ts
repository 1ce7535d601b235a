/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   API answers are JSON checked field by field by the assertions. */
// Approvals on the hub: accepted only for the app's current pending plan (a short SHA resolves
// to it), refused with 409 otherwise, and shown stale when the agent could not use them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
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
  makeAgentKey,
  startHubProcess,
  type AgentStream,
  type HubProcess,
} from './helpers.ts';

const REV1 = '1a'.repeat(20);
const REV2 = '2b'.repeat(20);
const PLAN1 = 'sha256:' + '1'.repeat(64);
const PLAN2 = 'sha256:' + '2'.repeat(64);

/** The app status a manual app waiting for approval at `revision` sends. */
const waiting = (app: string, revision: string, planDigest: string): AgentMessageBody => ({
  $case: 'appStatus',
  value: {
    app,
    revision,
    syncStatus: SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
    health: HealthStatus.HEALTH_STATUS_HEALTHY,
    healthMessage: '',
    driftCount: 0,
    planDigest,
    pendingPlan: [],
    message: 'waiting for approval',
    lastSyncUnixMs: 0n,
    syncMode: SyncMode.SYNC_MODE_MANUAL,
  },
});

/** A sync result of `app` at `revision`. */
const result = (
  app: string,
  revision: string,
  outcome: SyncOutcome,
  extra: { approvalId?: string; error?: string; planDigest?: string; finishedMs?: number },
): AgentMessageBody => ({
  $case: 'syncResult',
  value: {
    syncId: `sync-${app}-${revision.slice(0, 6)}-${outcome}`,
    app,
    revision,
    result: outcome,
    error: extra.error ?? '',
    planDigest: extra.planDigest ?? '',
    objects: [],
    steps: [],
    traceId: '',
    startedUnixMs: BigInt(Date.now()),
    finishedUnixMs: BigInt(extra.finishedMs ?? Date.now()),
    health: HealthStatus.HEALTH_STATUS_HEALTHY,
    retryable: false,
    approvalId: extra.approvalId ?? '',
  },
});

describe('approvals on the hub', { timeout: 60_000 }, () => {
  let hub: HubProcess;
  let admin: string;
  let approver: string;
  let agent: AgentStream;
  let seq = 0n;
  /** Sends a report and waits for its ack, so the hub has stored it. */
  const report = async (body: AgentMessageBody) => {
    seq += 1n;
    agent.send(seq, body);
    for (;;) {
      const m = await agent.next();
      if (m.body?.$case === 'ack' && m.body.value.agentSeq === seq) return;
    }
  };
  const approve = (app: string, revision: string, planDigest: string) =>
    api(hub, approver, 'POST', '/api/v1/approvals', {
      cluster: 'prod-eu',
      app,
      revision,
      planDigest,
    });
  const approvalsOf = async (app: string) =>
    (await api(hub, admin, 'GET', '/api/v1/approvals?cluster=prod-eu')).body.items.filter(
      (a: { app: string }) => a.app === app,
    );

  before(async () => {
    hub = await startHubProcess({});
    admin = hub.bootstrapToken!;
    approver = (
      await api(hub, admin, 'POST', '/api/v1/api-tokens', { name: 'carol', role: 'approver' })
    ).body.token;
    const token = (await api(hub, admin, 'POST', '/api/v1/tokens', { cluster: 'prod-eu' })).body
      .token;
    const key = await makeAgentKey();
    const enrolled = await enroll(hub, { token, clusterName: 'prod-eu', csrPem: key.csrPem });
    agent = connect(hub, { keyPem: key.keyPem, certPem: enrolled.certificatePem });
    agent.send(0n, {
      $case: 'hello',
      value: {
        clusterName: 'prod-eu',
        agentVersion: 'test',
        lastAckedHubSeq: 0n,
        labels: {},
        apps: ['web', 'api', 'auto', 'twice', 'race', 'upper'],
        repoUrl: 'http://git.example/fleet.git',
        branch: 'main',
      },
    });
    await agent.next(); // the Hello's ack
  });
  after(async () => {
    agent?.close();
    await hub?.stop();
  });

  it('resolves a short SHA to the pending revision; refuses a revision or plan that is not pending with 409', async () => {
    await report(waiting('web', REV1, PLAN1));
    const other = await approve('web', REV2, PLAN1);
    assert.equal(other.status, 409, JSON.stringify(other.body));
    assert.match(
      other.body.error.message,
      /revision 2b2b2b2b2b2b is not pending; the app waits at 1a1a1a1a1a1a/,
    );
    const digest = await approve('web', REV1, PLAN2);
    assert.equal(digest.status, 409, JSON.stringify(digest.body));
    assert.match(digest.body.error.message, /plan sha256:2+ is not pending/);
    const ambiguous = await approve('web', '1a1a1a1b', PLAN1);
    assert.equal(ambiguous.status, 409, 'a prefix of no pending revision is refused');
    assert.equal((await approvalsOf('web')).length, 0, 'refused approvals are not stored');

    const short = await approve('web', REV1.slice(0, 7), PLAN1);
    assert.equal(short.status, 201, JSON.stringify(short.body));
    assert.equal(short.body.revision, REV1, 'stored under the full SHA the agent compares');
    const sent = await agent.next();
    assert.equal(sent.body?.$case, 'approval');
    if (sent.body?.$case === 'approval') assert.equal(sent.body.value.revision, REV1);
    assert.equal(short.body.state, 'delivered');
  });

  it('a second approval of the same pending plan returns the first (200); it is never stored twice', async () => {
    await report(waiting('twice', REV1, PLAN1));
    const first = await approve('twice', REV1, PLAN1);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    for (const revision of [REV1, REV1.slice(0, 7), REV1.toUpperCase()]) {
      const again = await approve('twice', revision, PLAN1);
      assert.equal(again.status, 200, `${revision}: ${JSON.stringify(again.body)}`);
      assert.equal(again.body.id, first.body.id);
      assert.notEqual(again.body.state, 'stale');
    }
    const stored = await approvalsOf('twice');
    assert.equal(stored.length, 1, JSON.stringify(stored));
    assert.notEqual(stored[0].state, 'stale');

    // Sent at the same moment: one is created, the other returns it.
    await report(waiting('race', REV1, PLAN1));
    const answers = await Promise.all([1, 2, 3].map(() => approve('race', REV1, PLAN1)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 201]);
    assert.equal(new Set(answers.map((a) => a.body.id)).size, 1);
    assert.equal((await approvalsOf('race')).length, 1);

    // A new plan at the same revision is a new approval.
    await report(waiting('twice', REV1, PLAN2));
    const next = await approve('twice', REV1, PLAN2);
    assert.equal(next.status, 201, JSON.stringify(next.body));
    assert.notEqual(next.body.id, first.body.id);
  });

  it('takes an upper-case SHA, full or short, as git does, and stores it lower-case', async () => {
    await report(waiting('upper', REV1, PLAN1));
    const short = await approve('upper', REV1.slice(0, 9).toUpperCase(), PLAN1);
    assert.equal(short.status, 201, JSON.stringify(short.body));
    assert.equal(short.body.revision, REV1);
    const bad = await approve('upper', 'G'.repeat(8), PLAN1);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /field "revision" is not a hex commit SHA/);

    // Refresh hints take a revision too: normalised, and a non-SHA is refused.
    const operator = (
      await api(hub, admin, 'POST', '/api/v1/api-tokens', { name: 'olga', role: 'operator' })
    ).body.token;
    const refresh = (revision: string) =>
      api(hub, operator, 'POST', '/api/v1/clusters/prod-eu/refresh', { revision });
    assert.equal((await refresh('main')).status, 400);
    const sent = await refresh(REV2.toUpperCase());
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    for (;;) {
      const m = await agent.next();
      if (m.body?.$case !== 'refreshHint') continue;
      assert.equal(m.body.value.revision, REV2);
      break;
    }
  });

  it('refuses an approval for an app that waits on no plan', async () => {
    await report({
      ...waiting('auto', REV1, PLAN1),
      value: {
        ...waiting('auto', REV1, PLAN1).value,
        syncStatus: SyncStatus.SYNC_STATUS_SYNCED,
        syncMode: SyncMode.SYNC_MODE_AUTO,
      },
    } as AgentMessageBody);
    const res = await approve('auto', REV1, PLAN1);
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.match(res.body.error.message, /no plan waiting for an approval/);
  });

  it('shows an approval stale when the app moved on, or when the agent refused it; applied when used', async () => {
    await report(waiting('api', REV1, PLAN1));
    const first = await approve('api', REV1, PLAN1);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    // A new commit lands before the agent applied it: the approval can no longer be used.
    await report(waiting('api', REV2, PLAN2));
    let [mine] = (await approvalsOf('api')).filter((a: { id: string }) => a.id === first.body.id);
    assert.equal(mine.state, 'stale');
    assert.match(mine.stateReason, /now waits at 2b2b2b2b2b2b/);

    // The agent says it could not use an approval (its plan differs): stale, with its reason.
    const second = await approve('api', REV2, PLAN2);
    assert.equal(second.status, 201, JSON.stringify(second.body));
    await report(
      result('api', REV2, SyncOutcome.SYNC_OUTCOME_APPROVAL_STALE, {
        error: 'approval is for plan sha256:2222, but the plan is sha256:3333',
      }),
    );
    [mine] = (await approvalsOf('api')).filter((a: { id: string }) => a.id === second.body.id);
    assert.equal(mine.state, 'stale');
    assert.match(mine.stateReason, /the plan is sha256:3333/);

    // An agent whose clock runs an hour ahead refuses an approval, naming it: only that one is
    // stale, not the approval given (by the hub's clock) "before" the refusal for the new plan.
    await report(waiting('skew', REV1, PLAN1));
    const refusedOne = await approve('skew', REV1, PLAN1);
    assert.equal(refusedOne.status, 201, JSON.stringify(refusedOne.body));
    await report(waiting('skew', REV1, PLAN2));
    const newer = await approve('skew', REV1, PLAN2);
    assert.equal(newer.status, 201, JSON.stringify(newer.body));
    await report(
      result('skew', REV1, SyncOutcome.SYNC_OUTCOME_APPROVAL_STALE, {
        approvalId: refusedOne.body.id,
        error: 'approval is for plan sha256:1111, but the plan is sha256:2222',
        finishedMs: Date.now() + 3_600_000,
      }),
    );
    const skew = await approvalsOf('skew');
    const stateOf = (id: string) => skew.find((a: { id: string }) => a.id === id)?.state;
    assert.equal(stateOf(refusedOne.body.id), 'stale');
    assert.equal(stateOf(newer.body.id), 'delivered', JSON.stringify(skew));

    // The web app's approval was used: applied.
    const [web] = await approvalsOf('web');
    await report(
      result('web', REV1, SyncOutcome.SYNC_OUTCOME_SUCCEEDED, {
        approvalId: web.id,
        planDigest: PLAN1,
      }),
    );
    const [used] = await approvalsOf('web');
    assert.equal(used.state, 'applied');

    // An approval is used once: the same plan waiting again (a hand edit undid it) is approved
    // anew, not answered with the one already applied.
    await report(waiting('web', REV1, PLAN1));
    const anew = await approve('web', REV1, PLAN1);
    assert.equal(anew.status, 201, JSON.stringify(anew.body));
    assert.notEqual(anew.body.id, web.id);
    assert.equal(anew.body.state, 'delivered');
  });
});
