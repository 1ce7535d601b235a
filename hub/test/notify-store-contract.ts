// The notification store contract (hub/src/store/notifications.ts), run on SQLite in
// hub/src/store/notifications.test.ts and on PostgreSQL in
// test/integration/hub/notify-store-postgres.test.ts. `open` gives a store on the same
// database each call, so two calls act as two hub replicas; SQLite serves one hub only
// (`replicas: false`), where both handles are one store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../src/store/index.ts';

const audit = { actor: 'alice (at_1)', action: 'test.write', target: 'test/1' };
const limit = { max: 0, windowMs: 0 };

/** Registers the notification store contract tests. */
export function notificationStoreSuite(
  name: string,
  open: () => Promise<Store>,
  options: { replicas: boolean },
): void {
  void describe(`notification store contract: ${name}`, () => {
    let a: Store;
    let b: Store;
    before(async () => {
      a = await open();
      b = options.replicas ? await open() : a;
    });
    after(async () => {
      await a.close();
      if (b !== a) await b.close();
    });

    const destination = (n: string) => ({
      name: n,
      kind: 'webhook' as const,
      config: {},
      sealedSecret: 'v1:00000000:sealed',
      createdMs: 1,
      createdBy: 'alice',
    });
    const rule = (id: string, dest: string, extra = {}) => ({
      id,
      destination: dest,
      events: ['sync.failed'],
      selector: 'env=prod',
      apps: [],
      minSeverity: 'warning' as const,
      rateLimitMax: 0,
      rateLimitWindowMs: 0,
      createdMs: 1,
      createdBy: 'alice',
      ...extra,
    });

    void it('stores destinations and rules with their audit rows, and refuses duplicates', async () => {
      await a.createDestination(destination('ops'), audit);
      await assert.rejects(a.createDestination(destination('ops'), audit), /already exists/);
      await a.createRule(rule('r1', 'ops'), audit);
      await assert.rejects(a.createRule(rule('r1', 'ops'), audit), /already exists/);
      await assert.rejects(a.createRule(rule('r2', 'nope'), audit), /destination nope not found/);
      assert.deepEqual(
        (await b.listDestinations()).map((d) => [d.name, d.sealedSecret]),
        [['ops', 'v1:00000000:sealed']],
      );
      const [r] = await b.listRules({ destination: 'ops' });
      assert.deepEqual(
        [r?.events, r?.selector, r?.minSeverity],
        [['sync.failed'], 'env=prod', 'warning'],
      );
      assert.ok((await a.listAudit({})).filter((x) => x.action === 'test.write').length >= 2);
    });

    void it('deleting a destination deletes its rules; unknown names are NotFound', async () => {
      await a.createDestination(destination('gone'), audit);
      await a.createRule(rule('gone-r', 'gone'), audit);
      await a.deleteDestination('gone', 2, audit);
      assert.equal((await a.listRules({ destination: 'gone' })).length, 0);
      await assert.rejects(a.deleteDestination('gone', 2, audit), /not found/);
      await assert.rejects(a.deleteRule('gone-r', 2, audit), /not found/);
    });

    void it('a transition is seen by exactly one of two replicas, and counts episodes', async () => {
      const first = await Promise.all([
        a.transition('drift:c/x', 'drifted', 10),
        b.transition('drift:c/x', 'drifted', 10),
      ]);
      assert.equal(first.filter((t) => t.changed).length, 1);
      assert.deepEqual(await a.transition('drift:c/x', 'drifted', 11), {
        changed: false,
        previous: 'drifted',
        episode: 1,
      });
      const healed = await b.transition('drift:c/x', 'clean', 12);
      assert.deepEqual(healed, { changed: true, previous: 'drifted', episode: 2 });
      const again = await Promise.all([
        a.transition('drift:c/x', 'drifted', 13),
        b.transition('drift:c/x', 'drifted', 13),
      ]);
      assert.equal(again.filter((t) => t.changed).length, 1);
      assert.equal(await a.getState('drift:c/x'), 'drifted');
      assert.equal(await a.getState('nothing'), '');
    });

    void it('transitions asked together decide as they would one at a time', async () => {
      await a.transition('group:changes', 'old', 1);
      await a.transition('group:stays', 'same', 1);
      // Asked in one turn, so they share a transaction; then the same with a subject twice.
      const together = await Promise.all([
        a.transition('group:new', 'x', 2),
        a.transition('group:changes', 'new', 2),
        a.transition('group:stays', 'same', 2),
        b.transition('group:new', 'x', 2),
      ]);
      assert.deepEqual(together.slice(0, 3), [
        { changed: together[0].changed, previous: '', episode: 1 },
        { changed: true, previous: 'old', episode: 2 },
        { changed: false, previous: 'same', episode: 1 },
      ]);
      // The other replica asked for the same new subject: exactly one of them made it.
      assert.equal([together[0], together[3]].filter((t) => t.changed).length, 1);
      const twice = await Promise.all([
        a.transition('group:twice', 'one', 3),
        a.transition('group:twice', 'two', 3),
        a.transition('group:changes', 'newer', 3),
      ]);
      assert.deepEqual(twice, [
        { changed: true, previous: '', episode: 1 },
        { changed: true, previous: 'one', episode: 2 },
        { changed: true, previous: 'new', episode: 3 },
      ]);
      assert.equal(await b.getState('group:twice'), 'two');
      assert.equal(await b.getState('group:new'), 'x');
    });

    void it('a delivery is queued once per event and rule, claimed by one replica, and logged', async () => {
      await a.createDestination(destination('hook'), audit);
      await a.createRule(rule('hook-r', 'hook'), audit);
      const d = {
        eventKey: 'sync:c/x#1:sync.failed',
        ruleId: 'hook-r',
        destination: 'hook',
        event: { kind: 'sync.failed' },
      };
      const queued = await Promise.all([
        a.enqueueDelivery(d, limit, 100),
        b.enqueueDelivery(d, limit, 100),
      ]);
      assert.deepEqual(queued.sort(), ['duplicate', 'queued']);
      const claims = await Promise.all([
        a.claimDeliveries({ owner: 'A', nowMs: 100, leaseMs: 1000, limit: 10 }),
        b.claimDeliveries({ owner: 'B', nowMs: 100, leaseMs: 1000, limit: 10 }),
      ]);
      const mine = claims.flat().filter((c) => c.ruleId === 'hook-r');
      assert.equal(mine.length, 1);
      const owner = claims[0].some((c) => c.ruleId === 'hook-r') ? 'A' : 'B';
      const id = mine[0]!.id;
      // The other replica cannot record over the claim.
      assert.equal(
        await a.recordAttempt(
          id,
          owner === 'A' ? 'B' : 'A',
          { atMs: 101, outcome: 'sent', error: '', answer: '' },
          { status: 'sent', nextAttemptMs: 0 },
        ),
        false,
      );
      assert.equal(
        await a.recordAttempt(
          id,
          owner,
          {
            atMs: 101,
            outcome: 'failed',
            error: 'webhook hook: HTTP 500',
            answer: 'upstream broke',
          },
          { status: 'pending', nextAttemptMs: 200 },
        ),
        true,
      );
      // Not due before its retry time; due after it, claimable again.
      assert.equal(
        (await b.claimDeliveries({ owner: 'B', nowMs: 150, leaseMs: 1000, limit: 10 })).length,
        0,
      );
      const [retry] = await b.claimDeliveries({ owner: 'B', nowMs: 200, leaseMs: 1000, limit: 10 });
      assert.equal(retry?.id, id);
      await b.recordAttempt(
        id,
        'B',
        { atMs: 201, outcome: 'sent', error: '', answer: '' },
        { status: 'sent', nextAttemptMs: 0 },
      );
      const [logged] = await a.listDeliveries({ destination: 'hook' });
      assert.equal(logged?.status, 'sent');
      assert.deepEqual(
        logged?.attempts.map((x) => x.outcome),
        ['failed', 'sent'],
      );
      // What the destination answered is kept apart from the error, per attempt.
      assert.deepEqual(
        logged?.attempts.map((x) => [x.error, x.answer]),
        [
          ['webhook hook: HTTP 500', 'upstream broke'],
          ['', ''],
        ],
      );
      assert.equal(logged?.lastAnswer, '');
    });

    void it('an expired lease lets another replica take the delivery over', async () => {
      const d = { eventKey: 'lease#1', ruleId: 'hook-r', destination: 'hook', event: {} };
      assert.equal(await a.enqueueDelivery(d, limit, 1000), 'queued');
      const [mine] = await a.claimDeliveries({ owner: 'A', nowMs: 1000, leaseMs: 500, limit: 10 });
      assert.ok(mine);
      assert.equal(
        (await b.claimDeliveries({ owner: 'B', nowMs: 1200, leaseMs: 500, limit: 10 })).length,
        0,
      );
      const [taken] = await b.claimDeliveries({ owner: 'B', nowMs: 1600, leaseMs: 500, limit: 10 });
      assert.equal(taken?.id, mine.id);
      assert.equal(
        await a.recordAttempt(
          mine.id,
          'A',
          { atMs: 1601, outcome: 'sent', error: '', answer: '' },
          { status: 'sent', nextAttemptMs: 0 },
        ),
        false,
      );
      assert.equal(
        await b.recordAttempt(
          mine.id,
          'B',
          { atMs: 1601, outcome: 'sent', error: '', answer: '' },
          { status: 'sent', nextAttemptMs: 0 },
        ),
        true,
      );
    });

    void it('pruning deletes finished deliveries older than the retention, never pending ones', async () => {
      const d = { eventKey: 'prune#1', ruleId: 'hook-r', destination: 'hook', event: {} };
      assert.equal(await a.enqueueDelivery(d, limit, 3000), 'queued');
      const before = (await a.listDeliveries({ destination: 'hook', limit: 1000 })).length;
      // Everything sent above was last updated before 2000; the new one is pending.
      const pruned = await a.pruneDeliveries(2000);
      assert.ok(pruned >= 2, `pruned ${pruned}`);
      const left = await a.listDeliveries({ destination: 'hook', limit: 1000 });
      assert.equal(left.length, before - pruned);
      assert.ok(left.some((x) => x.eventKey === 'prune#1' && x.status === 'pending'));
      assert.ok(left.every((x) => x.status !== 'sent' || x.updatedMs >= 2000));
    });

    void it('beyond the rate limit deliveries are held, then summarised once after the window', async () => {
      await a.createRule(
        rule('limited', 'hook', { rateLimitMax: 2, rateLimitWindowMs: 1000 }),
        audit,
      );
      const lim = { max: 2, windowMs: 1000 };
      const results = [];
      for (let i = 0; i < 5; i++)
        results.push(
          await a.enqueueDelivery(
            {
              eventKey: `rl#${i}`,
              ruleId: 'limited',
              destination: 'hook',
              event: { kind: 'sync.failed', cluster: 'c', app: `x${i}` },
            },
            lim,
            5000 + i,
          ),
        );
      assert.deepEqual(results, ['queued', 'queued', 'held', 'held', 'held']);
      assert.equal((await a.heldForSummary(5500)).size, 0, 'not before the window passed');
      const held = (await a.heldForSummary(6100)).get('limited');
      assert.equal(held?.length, 3);
      const done = await Promise.all([
        a.enqueueSummary(
          { id: 'limited', destination: 'hook' },
          held,
          { kind: 'notify.summary' },
          6100,
        ),
        b.enqueueSummary(
          { id: 'limited', destination: 'hook' },
          held,
          { kind: 'notify.summary' },
          6100,
        ),
      ]);
      assert.deepEqual(done.sort(), [false, true]);
      assert.equal((await a.heldForSummary(7000)).size, 0);
      const log = await a.listDeliveries({ ruleId: 'limited' });
      const summary = log.find((x) => x.event['kind'] === 'notify.summary');
      assert.equal(summary?.status, 'pending');
      assert.deepEqual(
        log.filter((x) => x.status === 'held').map((x) => x.summaryId),
        [summary.id, summary.id, summary.id],
      );
    });
  });
}
