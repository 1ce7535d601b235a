// Group commit of agents' reports on real SQLite and PostgreSQL: the store's ingestMany keeps
// each report's outcome apart in one transaction, and through the link's ingest a batch with
// one report the database refuses (a trigger raising on it) commits the others, acks exactly
// those, and answers the bad one with its error and no ack, as one transaction per report does.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '@driftless/common';
import {
  AgentMessage,
  HealthStatus,
  SyncMode,
  SyncStatus,
  type HubMessage,
} from '@driftless/proto';
import { startPostgres, type PostgresServer } from '@driftless/test';
import { EventBus, type HubEvent } from '../../../hub/src/events.ts';
import { IngestBatcher } from '../../../hub/src/link/ingest-batch.ts';
import { ingestReport } from '../../../hub/src/link/ingest.ts';
import { createMetrics } from '../../../hub/src/metrics.ts';
import type { Db } from '../../../hub/src/store/db.ts';
import type { IngestItem, Report, Store } from '../../../hub/src/store/index.ts';
import { ReportOutOfOrderError } from '../../../hub/src/store/index.ts';
import { openPostgresDb } from '../../../hub/src/store/postgres.ts';
import { openSqliteDb } from '../../../hub/src/store/sqlite.ts';
import { createSqlStore } from '../../../hub/src/store/store.ts';
import { enrollCluster } from '../../../hub/test/enrolled-store.ts';

/** A trigger that makes the database refuse any write of an app named `poison`. */
const POISON: Record<Db['dialect'], string> = {
  sqlite: `CREATE TRIGGER poison_app BEFORE INSERT ON apps WHEN NEW.app = 'poison'
           BEGIN SELECT RAISE(ABORT, 'poisoned app'); END;`,
  postgres: `CREATE FUNCTION poison_app() RETURNS trigger AS $$
             BEGIN IF NEW.app = 'poison' THEN RAISE EXCEPTION 'poisoned app'; END IF; RETURN NEW; END
             $$ LANGUAGE plpgsql;
             CREATE TRIGGER poison_app BEFORE INSERT ON apps FOR EACH ROW EXECUTE FUNCTION poison_app();`,
};

const app = (name: string): Report => ({
  kind: 'app',
  app: {
    app: name,
    revision: 'abc',
    syncStatus: 'synced',
    syncMode: 'auto',
    health: 'healthy',
    healthMessage: '',
    driftCount: 0,
    planDigest: '',
    pendingPlan: [],
    message: '',
    lastSyncMs: 1,
  },
});

const appStatus = (seq: number, name: string) =>
  AgentMessage.create({
    seq: BigInt(seq),
    body: {
      $case: 'appStatus',
      value: {
        app: name,
        revision: 'a'.repeat(40),
        syncStatus: SyncStatus.SYNC_STATUS_SYNCED,
        health: HealthStatus.HEALTH_STATUS_HEALTHY,
        healthMessage: '',
        driftCount: 0,
        planDigest: '',
        pendingPlan: [],
        message: '',
        lastSyncUnixMs: 1n,
        syncMode: SyncMode.SYNC_MODE_AUTO,
      },
    },
  });

function suite(dialect: Db['dialect'], openDb: () => Db) {
  describe(`ingest batch on ${dialect}`, () => {
    let db: Db;
    let store: Store;
    before(async () => {
      db = openDb();
      store = await createSqlStore(db);
      await db.exec(POISON[dialect]);
      for (const c of ['m-a', 'm-b', 'm-c', 'r-a', 'r-b', 'l-a', 'l-bad', 'l-c'])
        await enrollCluster(store, c);
    });
    after(() => store.close());

    it('ingestMany stores in order and gives each report its own outcome', async () => {
      const items: IngestItem[] = [
        { cluster: 'm-a', seq: 1, report: app('web'), nowMs: 10 },
        { cluster: 'm-b', seq: 1, report: app('web'), nowMs: 10 },
        { cluster: 'm-a', seq: 2, report: app('api'), nowMs: 11 },
        { cluster: 'm-a', seq: 1, report: app('replayed'), nowMs: 12 },
        { cluster: 'm-c', seq: 3, report: app('web'), nowMs: 12 },
        { cluster: 'nope', seq: 1, report: app('web'), nowMs: 12 },
      ];
      const out = await store.ingestMany(items);
      assert.deepEqual(out.slice(0, 4), [
        { ok: true, result: { applied: true, lastSeq: 1 } },
        { ok: true, result: { applied: true, lastSeq: 1 } },
        { ok: true, result: { applied: true, lastSeq: 2 } },
        { ok: true, result: { applied: false, lastSeq: 2 } },
      ]);
      assert.ok(!out[4]!.ok && out[4]!.error instanceof ReportOutOfOrderError);
      assert.ok(!out[5]!.ok && /cluster nope: not found/.test(out[5]!.error.message));
      const apps = await store.listApps({ cluster: 'm-a' });
      assert.deepEqual(
        apps.map((a) => a.app),
        ['api', 'web'],
      );
      assert.equal((await store.getCluster('m-a'))?.lastAgentSeq, 2);
      assert.equal((await store.getCluster('m-c'))?.lastAgentSeq, 0);
      assert.deepEqual(await store.ingestMany([]), []);
    });

    it('ingestMany rolls every report back when the database refuses one write', async () => {
      await assert.rejects(
        store.ingestMany([
          { cluster: 'r-a', seq: 1, report: app('web'), nowMs: 1 },
          { cluster: 'r-b', seq: 1, report: app('poison'), nowMs: 1 },
        ]),
        (err: Error) => err.name === 'StoreError' && /poisoned app/.test(err.message),
      );
      assert.equal((await store.getCluster('r-a'))?.lastAgentSeq, 0);
      assert.deepEqual(await store.listApps({ cluster: 'r-a' }), []);
    });

    it('through the link ingest, a batch with one bad report commits and acks the others', async () => {
      const sizes: number[] = [];
      const spied: Pick<Store, 'ingest' | 'ingestMany'> = {
        ingest: (...a) => store.ingest(...a),
        ingestMany: (items) => {
          sizes.push(items.length);
          return store.ingestMany(items);
        },
      };
      const events = new EventBus();
      const published: HubEvent[] = [];
      events.subscribe((e) => void published.push(e));
      const deps = {
        store,
        events,
        metrics: createMetrics(),
        clock: systemClock,
        batch: new IngestBatcher({ store: spied }),
      };
      const acks = new Map<string, bigint[]>();
      const session = (cluster: string) => ({
        send: (m: HubMessage) => {
          if (m.body?.$case === 'ack')
            acks.set(cluster, [...(acks.get(cluster) ?? []), m.body.value.agentSeq]);
          return true;
        },
      });
      const results = await Promise.allSettled([
        ingestReport(deps, 'l-a', appStatus(1, 'web'), session('l-a')),
        ingestReport(deps, 'l-bad', appStatus(1, 'poison'), session('l-bad')),
        ingestReport(deps, 'l-c', appStatus(1, 'web'), session('l-c')),
      ]);
      assert.deepEqual(sizes, [3], 'the three reports shared one transaction');
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.match(String((results[1] as PromiseRejectedResult).reason), /poisoned app/);
      assert.deepEqual(Object.fromEntries(acks), { 'l-a': [1n], 'l-c': [1n] });
      assert.equal((await store.getCluster('l-bad'))?.lastAgentSeq, 0);
      assert.deepEqual(
        (await store.listApps({})).filter((a) => a.cluster.startsWith('l-')).map((a) => a.cluster),
        ['l-a', 'l-c'],
      );
      assert.deepEqual(
        published.filter((e) => e.type === 'app.updated').map((e) => e.cluster),
        ['l-a', 'l-c'],
      );
      // The agent resends the refused report (still refused) and then the next ones go on.
      await assert.rejects(ingestReport(deps, 'l-bad', appStatus(1, 'poison'), session('l-bad')));
      await ingestReport(deps, 'l-a', appStatus(2, 'api'), session('l-a'));
      assert.deepEqual(acks.get('l-a'), [1n, 2n]);
    });
  });
}

suite('sqlite', () =>
  openSqliteDb({ path: join(mkdtempSync(join(tmpdir(), 'driftless-batch-')), 'hub.db') }),
);

const pg: PostgresServer = await startPostgres();
after(() => pg.stop());
const pgUrl = pg.connectionString;
suite('postgres', () => openPostgresDb({ connectionString: pgUrl }));
