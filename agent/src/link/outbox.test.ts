import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DriftType, SyncOutcome, type AgentMessage } from '@driftless/proto';
import { Outbox, type ReportBody } from './outbox.ts';

const clock = { now: () => 1_700_000_000_000, sleep: () => Promise.resolve() };

const status = (app: string, revision = 'r1'): ReportBody => ({
  $case: 'appStatus',
  value: {
    app,
    revision,
    syncStatus: 1,
    health: 1,
    healthMessage: '',
    driftCount: 0,
    planDigest: '',
    pendingPlan: [],
    message: '',
    lastSyncUnixMs: 0n,
    syncMode: 1,
  },
});
const sync = (app: string, id: string): ReportBody => ({
  $case: 'syncResult',
  value: {
    syncId: id,
    app,
    revision: 'r1',
    result: SyncOutcome.SYNC_OUTCOME_SUCCEEDED,
    error: '',
    planDigest: '',
    objects: [],
    steps: [],
    traceId: '',
    startedUnixMs: 0n,
    finishedUnixMs: 0n,
    health: 1,
    retryable: false,
    approvalId: '',
  },
});
const drift = (app: string, id: string, name = 'web'): ReportBody => ({
  $case: 'driftReport',
  value: {
    driftId: id,
    app,
    object: { group: 'apps', version: 'v1', kind: 'Deployment', namespace: app, name },
    type: DriftType.DRIFT_TYPE_MODIFIED,
    fields: [],
    changedBy: 'kubectl',
    detectedUnixMs: 0n,
    healed: false,
    healedUnixMs: 0n,
    message: '',
    lastSyncTraceId: '',
  },
});

/** Everything the outbox would write now, as "seq:kind:id". */
function drain(o: Outbox): string[] {
  const out: string[] = [];
  for (let m = o.takeUnsent(); m; m = o.takeUnsent()) out.push(describeMessage(m));
  return out;
}

function describeMessage(m: AgentMessage): string {
  const b = m.body!;
  switch (b.$case) {
    case 'appStatus':
      return `${m.seq}:status:${b.value.app}@${b.value.revision}`;
    case 'syncResult':
      return `${m.seq}:sync:${b.value.syncId}`;
    case 'driftReport':
      return `${m.seq}:drift:${b.value.driftId}`;
    case 'reportsDropped':
      return `${m.seq}:dropped:${b.value.count}[${b.value.firstSeq}-${b.value.lastSeq}]`;
    default:
      return `${m.seq}:${b.$case}`;
  }
}

describe('Outbox', () => {
  it('numbers nothing until the hub says where it stopped, then continues above it', () => {
    const o = new Outbox({ clock });
    o.push(sync('web', 's1'));
    o.push(drift('web', 'd1'));
    assert.equal(o.takeUnsent(), undefined, 'no seq is known before the first Ack');
    o.resume(41n); // a restarted agent: the hub has 41 from its previous life
    assert.deepEqual(drain(o), ['42:sync:s1', '43:drift:d1']);
    o.push(sync('web', 's2'));
    assert.deepEqual(drain(o), ['44:sync:s2']);
    assert.equal(o.stats().lastSeq, 44n);
  });

  it('keeps reports until acked and resends, in order, everything after the Ack to a Hello', () => {
    const o = new Outbox({ clock });
    o.resume(0n);
    for (const id of ['a', 'b', 'c', 'd']) o.push(sync('web', id));
    assert.deepEqual(drain(o), ['1:sync:a', '2:sync:b', '3:sync:c', '4:sync:d']);
    o.ack(2n); // the hub stored a and b, then the stream died
    o.disconnected();
    o.push(sync('web', 'e'));
    // The new stream's Hello is answered: the hub got c before the old stream died.
    o.resume(3n);
    assert.deepEqual(drain(o), ['4:sync:d', '5:sync:e']);
    o.ack(5n);
    assert.equal(o.stats().held, 0, 'acked reports are released');
  });

  it('never numbers a report twice, nor reuses a seq after a restart-like jump', () => {
    const o = new Outbox({ clock });
    o.resume(10n);
    o.push(sync('web', 'a')); // 11, sent
    assert.deepEqual(drain(o), ['11:sync:a']);
    o.disconnected();
    o.push(sync('web', 'b')); // 12, never sent
    // The hub claims 20 (another process used this identity): what we sent is taken as
    // stored; what we never sent is renumbered above 20 so it cannot be mistaken for a duplicate.
    o.resume(20n);
    assert.deepEqual(drain(o), ['21:sync:b']);
  });

  it('replaces an unsent AppStatus by a newer one of the same app', () => {
    const o = new Outbox({ clock });
    o.push(status('web', 'r1'));
    o.push(status('api', 'r1'));
    o.push(status('web', 'r2'));
    o.resume(0n);
    assert.deepEqual(drain(o), ['1:status:api@r1', '2:status:web@r2']);
    // A status in flight is kept (the hub may be storing it); the newer one follows it.
    o.push(status('api', 'r2'));
    assert.deepEqual(drain(o), ['3:status:api@r2']);
    assert.equal(o.stats().coalesced, 1);
    assert.deepEqual([...o.pendingStatusApps()].sort(), ['api', 'web']);
  });

  it('summarises the oldest sync results and drift beyond the bound, keeping every latest AppStatus', () => {
    const o = new Outbox({ clock, maxMessages: 4 });
    o.push(status('web'));
    o.push(sync('web', 's1'));
    o.push(drift('web', 'd1', 'a'));
    o.push(drift('web', 'd2', 'b'));
    o.push(status('api'));
    o.push(sync('api', 's2'));
    o.push(drift('web', 'd3', 'c'));
    o.push(drift('web', 'd4', 'd'));
    const st = o.stats();
    assert.equal(st.dropped, 4);
    o.resume(100n);
    const sent: AgentMessage[] = [];
    for (let m = o.takeUnsent(); m; m = o.takeUnsent()) sent.push(m);
    assert.deepEqual(sent.map(describeMessage), [
      '101:status:web@r1',
      '102:dropped:4[102-102]',
      '103:status:api@r1',
      '104:drift:d3',
      '105:drift:d4',
    ]);
    const gap = sent[1]!.body;
    assert.equal(gap?.$case, 'reportsDropped');
    if (gap?.$case === 'reportsDropped')
      assert.equal(
        gap.value.summary,
        '2 drift reports on web (apps/v1 Deployment web/a, apps/v1 Deployment web/b), 1 sync result on web, 1 sync result on api',
      );
    // Seqs stay contiguous: the hub acks only a contiguous prefix, so a hole would stall it.
    const seqs = sent.map((m) => m.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => 101n + BigInt(i)),
    );
  });

  it('summarises under one seq once numbering runs, the later reports closing up behind it', () => {
    const o = new Outbox({ clock, maxMessages: 2 });
    o.resume(0n);
    o.push(sync('web', 'a')); // 1
    o.push(sync('web', 'b')); // 2
    o.push(sync('web', 'c')); // a dropped, the summary takes seq 1, c moves up to 2
    o.push(sync('web', 'd')); // b dropped into the same summary, d gets 3
    assert.deepEqual(drain(o), ['1:dropped:2[1-1]', '2:sync:c', '3:sync:d']);
    // A summary once written is frozen, and so is every report written once (the hub may
    // have stored it under its seq): only reports never sent are summarised.
    o.disconnected();
    o.push(sync('web', 'e')); // 4 → over the bound; c and d were sent, so e is summarised
    o.resume(1n);
    assert.deepEqual(drain(o), ['2:sync:c', '3:sync:d', '4:dropped:1[4-4]']);
  });

  it('never drops AppStatus, even past the bound', () => {
    const o = new Outbox({ clock, maxMessages: 2 });
    for (const app of ['a', 'b', 'c']) o.push(status(app));
    o.resume(0n);
    assert.equal(drain(o).length, 3);
    assert.equal(o.stats().dropped, 0);
  });

  it('tells listeners about every push and stamps the queue time', () => {
    const o = new Outbox({ clock });
    let pushes = 0;
    const off = o.onPush(() => pushes++);
    o.push(sync('web', 'a'), { traceparent: '00-x-y-01', tracestate: '' });
    off();
    o.push(sync('web', 'b'));
    assert.equal(pushes, 1);
    o.resume(0n);
    const m = o.takeUnsent()!;
    assert.equal(m.sentAtUnixMs, 1_700_000_000_000n);
    assert.equal(m.trace?.traceparent, '00-x-y-01');
  });

  it('keeps seqs contiguous when an unsent AppStatus is replaced while numbering runs', () => {
    const o = new Outbox({ clock });
    o.resume(0n);
    o.push(status('web', 'r1')); // 1
    o.push(sync('web', 's1')); // 2
    o.push(status('web', 'r2')); // replaces 1: s1 moves to 1, the new status is 2
    assert.deepEqual(drain(o), ['1:sync:s1', '2:status:web@r2']);
  });

  it('counts what is in flight on the current stream', () => {
    const o = new Outbox({ clock });
    o.resume(0n);
    for (const id of ['a', 'b', 'c']) o.push(sync('web', id));
    o.takeUnsent();
    o.takeUnsent();
    assert.equal(o.inFlight, 2);
    o.ack(1n);
    assert.equal(o.inFlight, 1);
    o.disconnected();
    assert.equal(o.inFlight, 0);
  });

  it('carries unacknowledged reports across a restart through its snapshot', () => {
    const before = new Outbox({ clock, maxMessages: 3 });
    before.resume(10n);
    before.push(sync('web', 'a')); // 11, sent
    assert.deepEqual(drain(before), ['11:sync:a']);
    before.push(sync('web', 'b'));
    before.push(sync('web', 'c'));
    before.push(status('web')); // over the bound: b is summarised
    const snapshot = JSON.parse(JSON.stringify(before.snapshot())) as ReturnType<
      Outbox['snapshot']
    >;
    const after = new Outbox({ clock, maxMessages: 3, restore: snapshot });
    assert.equal(after.takeUnsent(), undefined, 'nothing is written before the hub’s Ack');
    assert.equal(after.stats().dropped, 1);
    after.resume(10n); // the hub never stored 11
    assert.deepEqual(drain(after), [
      '11:sync:a',
      '12:dropped:1[12-12]',
      '13:sync:c',
      '14:status:web@r1',
    ]);
    const again = new Outbox({ clock, restore: after.snapshot() });
    again.resume(12n); // this time the hub had stored up to the summary
    assert.deepEqual(drain(again), ['13:sync:c', '14:status:web@r1']);
  });

  it('rejects a nonsensical bound', () => {
    assert.throws(() => new Outbox({ maxMessages: 0 }), RangeError);
  });
});
