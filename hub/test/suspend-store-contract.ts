// The break-glass pause store contract, run once per implementation: SQLite in the unit tests
// (hub/src/store/suspensions.test.ts) and PostgreSQL in
// test/integration/hub/suspend-store-postgres.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NotFoundError } from '../src/errors.ts';
import type { Store } from '../src/store/index.ts';

const T0 = 1_800_000_000_000;
const MIN = 60_000;

/** Registers the pause store tests; `open` gives a fresh, empty store. */
export function suspensionStoreSuite(name: string, open: () => Promise<Store>): void {
  void describe(`suspension store: ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await open();
      await store.createEnrollmentToken(
        {
          id: 'et_dev',
          secretHash: 'h'.repeat(64),
          cluster: 'dev',
          labels: {},
          createdMs: T0,
          createdBy: 'alice',
          expiresMs: T0 + 60 * MIN,
          maxUses: 1,
          uses: 0,
          revokedMs: 0,
          lastUsedMs: 0,
        },
        { actor: 'alice', action: 'token.create', target: 'token/et_dev' },
      );
      await store.completeEnrollment({
        tokenId: 'et_dev',
        cluster: 'dev',
        labels: {},
        adminLabels: {},
        agentVersion: '1',
        certificate: { serial: 's-dev', issuedMs: T0, notAfterMs: T0 + 1 },
        nowMs: T0,
      });
    });
    after(async () => {
      await store.close();
    });

    const pause = (id: string, app: string, sinceMs: number, untilMs: number) =>
      store.suspend(
        { id, cluster: 'dev', app, reason: `why ${id}`, actor: 'olga (at_1)', sinceMs, untilMs },
        { actor: 'olga (at_1)', action: 'cluster.suspend', target: `cluster/dev/app/${app}` },
      );

    void it('keeps a pause until its end, audited with it', async () => {
      assert.equal(await store.everSuspended('dev'), false);
      const { suspension, replaced } = await pause('su_1', 'web', T0, T0 + 30 * MIN);
      assert.deepEqual(replaced, []);
      assert.equal(suspension.endedMs, 0);
      assert.equal(await store.everSuspended('dev'), true);
      const active = await store.activeSuspensions({ cluster: 'dev', nowMs: T0 + 29 * MIN });
      assert.deepEqual(
        active.map((s) => [s.id, s.app, s.reason, s.untilMs]),
        [['su_1', 'web', 'why su_1', T0 + 30 * MIN]],
      );
      assert.deepEqual(await store.activeSuspensions({ nowMs: T0 + 30 * MIN }), [], 'ended');
      const audit = await store.listAudit({});
      assert.ok(audit.some((e) => e.action === 'cluster.suspend' && e.atMs === T0));
    });

    void it('a new pause of the same scope replaces the one in force; other scopes stay', async () => {
      await pause('su_c', '', T0 + MIN, T0 + 60 * MIN);
      const { replaced } = await pause('su_2', 'web', T0 + 2 * MIN, T0 + 90 * MIN);
      assert.deepEqual(
        replaced.map((s) => [s.id, s.endedMs]),
        [['su_1', T0 + 2 * MIN]],
      );
      const active = await store.activeSuspensions({ cluster: 'dev', nowMs: T0 + 3 * MIN });
      assert.deepEqual(active.map((s) => s.id).sort(), ['su_2', 'su_c']);
    });

    void it('resume ends the pauses of one scope only, and audits only what it ended', async () => {
      const before = (await store.listAudit({})).length;
      const ended = await store.resume(
        { cluster: 'dev', app: 'web', actor: 'olga (at_1)', nowMs: T0 + 4 * MIN },
        { actor: 'olga (at_1)', action: 'cluster.resume', target: 'cluster/dev/app/web' },
      );
      assert.deepEqual(
        ended.map((s) => [s.id, s.endedBy]),
        [['su_2', 'olga (at_1)']],
      );
      const active = await store.activeSuspensions({ cluster: 'dev', nowMs: T0 + 5 * MIN });
      assert.deepEqual(
        active.map((s) => s.id),
        ['su_c'],
      );
      const none = await store.resume(
        { cluster: 'dev', app: 'web', actor: 'olga (at_1)', nowMs: T0 + 5 * MIN },
        { actor: 'olga (at_1)', action: 'cluster.resume', target: 'cluster/dev/app/web' },
      );
      assert.deepEqual(none, []);
      assert.equal((await store.listAudit({})).length, before + 1, 'one resume audited');
    });

    void it('refuses a pause of an unknown cluster and writes nothing', async () => {
      const before = (await store.listAudit({})).length;
      await assert.rejects(
        store.suspend(
          {
            id: 'su_x',
            cluster: 'nope',
            app: '',
            reason: 'x',
            actor: 'a',
            sinceMs: T0,
            untilMs: T0 + MIN,
          },
          { actor: 'a', action: 'cluster.suspend', target: 'cluster/nope' },
        ),
        NotFoundError,
      );
      assert.equal((await store.listAudit({})).length, before);
      assert.equal(await store.everSuspended('nope'), false);
    });
  });
}
