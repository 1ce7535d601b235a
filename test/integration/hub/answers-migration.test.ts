/**
 * Hub store migration 11 on SQLite and a real PostgreSQL: rows written before it carried what a
 * destination or Git host answered inside the error text; after it, the error is the hub's own
 * words and the answer is in its own column (shown to admins only, docs/notifications.md).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startPostgres, type PostgresServer } from '@driftless/test';
import { MIGRATIONS, migrate, openStore, type Store } from '../../../hub/src/store/index.ts';
import type { Db } from '../../../hub/src/store/db.ts';
import { openPostgresDb } from '../../../hub/src/store/postgres.ts';
import { openSqliteDb } from '../../../hub/src/store/sqlite.ts';

const SLACK = 'Slack destination team: chat.postMessage: channel_not_found';
const HTTP = 'webhook destination ops: HTTP 500: internal-only page 10.0.0.7';
const UNREACHABLE = 'webhook destination ops: cannot reach the destination (ECONNREFUSED)';
const HOST = 'post pending status to github 10.0.0.9 for acme/fleet@1a2b3c4: HTTP 404: Not Found';

/** Writes rows as the hub wrote them before migration 11. */
async function writeLegacyRows(db: Db): Promise<void> {
  await migrate(
    db,
    MIGRATIONS.filter((m) => m.version < 11),
  );
  const attempts = [
    { atMs: 1, outcome: 'failed', error: HTTP },
    { atMs: 2, outcome: 'failed', error: UNREACHABLE },
    { atMs: 3, outcome: 'failed', error: SLACK },
  ];
  for (const [key, last] of [
    ['k1', SLACK],
    ['k2', UNREACHABLE],
  ] as const)
    await db.run(
      `INSERT INTO notify_deliveries (event_key, rule_id, destination, event_json, status,
         attempts_json, last_error, created_ms, updated_ms)
       VALUES (?, 'r', 'ops', '{}', 'failed', ?, ?, 1, 3)`,
      [key, JSON.stringify(attempts), last],
    );
  await db.run(
    `INSERT INTO commit_statuses (repo_url, sha, context, host, repo_path, state, description,
       target_url, version, attempts, last_error, created_ms, updated_ms)
     VALUES ('https://git.test/acme/fleet', ?, 'driftless/prod', 'github', 'acme/fleet',
       'pending', 'syncing', '', 1, 1, ?, 1, 1)`,
    ['1a2b3c4'.padEnd(40, '0'), HOST],
  );
  await db.run(
    `INSERT INTO commit_status_posts (at_ms, repo_url, sha, context, host, state, description,
       result, http_status, error, attempt)
     VALUES (1, 'https://git.test/acme/fleet', ?, 'driftless/prod', 'github', 'pending',
       'syncing', 'failed', 404, ?, 1)`,
    ['1a2b3c4'.padEnd(40, '0'), HOST],
  );
  await db.close();
}

async function checkUpgraded(store: Store): Promise<void> {
  const deliveries = await store.listDeliveries({ destination: 'ops' });
  const byKey = new Map(deliveries.map((d) => [d.eventKey, d]));
  assert.deepEqual(
    byKey.get('k1')!.attempts.map((a) => [a.error, a.answer]),
    [
      ['webhook destination ops: HTTP 500', 'internal-only page 10.0.0.7'],
      [UNREACHABLE, ''],
      ['Slack destination team: chat.postMessage refused the message', 'channel_not_found'],
    ],
  );
  assert.deepEqual(
    [byKey.get('k1')!.lastError, byKey.get('k1')!.lastAnswer],
    ['Slack destination team: chat.postMessage refused the message', 'channel_not_found'],
  );
  assert.deepEqual([byKey.get('k2')!.lastError, byKey.get('k2')!.lastAnswer], [UNREACHABLE, '']);
  const wanted = 'post pending status to github 10.0.0.9 for acme/fleet@1a2b3c4: HTTP 404';
  const [status] = await store.listCommitStatuses({ context: 'driftless/prod' });
  assert.deepEqual([status!.lastError, status!.lastAnswer], [wanted, 'Not Found']);
  const [post] = await store.listStatusPosts({});
  assert.deepEqual([post!.error, post!.answer], [wanted, 'Not Found']);
}

describe('store migration 11 moves answers out of old error texts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'driftless-answers-'));
  let pg: PostgresServer | undefined;
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await pg?.stop();
  });

  it('on SQLite', async () => {
    const path = join(dir, 'hub.db');
    await writeLegacyRows(openSqliteDb({ path }));
    const store = await openStore({ kind: 'sqlite', path });
    try {
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
  });

  it('on PostgreSQL', async () => {
    pg = await startPostgres();
    await writeLegacyRows(openPostgresDb({ connectionString: pg.connectionString }));
    const store = await openStore({ kind: 'postgres', connectionString: pg.connectionString });
    try {
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
  });
});
