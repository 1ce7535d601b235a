import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startPostgres, type PostgresServer } from './index.ts';

describe('startPostgres', () => {
  let postgres: PostgresServer;

  before(async () => {
    postgres = await startPostgres();
  });

  after(async () => {
    await postgres?.stop();
  });

  it('accepts connections and runs queries', async () => {
    assert.match(postgres.connectionString, /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const client = new pg.Client({ connectionString: postgres.connectionString });
    await client.connect();
    try {
      const version = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      assert.ok(Number(version.rows[0]?.server_version_num) >= 150000);
      await client.query('CREATE TABLE clusters (name text PRIMARY KEY)');
      await client.query('INSERT INTO clusters VALUES ($1)', ['dev']);
      const rows = await client.query<{ name: string }>('SELECT name FROM clusters');
      assert.deepEqual(rows.rows, [{ name: 'dev' }]);
    } finally {
      await client.end();
    }
  });

  it('dumps its database and restores it into a server started with other settings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-dump-'));
    const other = await startPostgres({ settings: { synchronous_commit: 'on' } });
    const client = new pg.Client({ connectionString: postgres.connectionString });
    const copy = new pg.Client({ connectionString: other.connectionString });
    try {
      await client.connect();
      await client.query('CREATE TABLE agents (name text PRIMARY KEY, seq bigint)');
      await client.query("INSERT INTO agents VALUES ('a', 1), ('b', 2)");
      await postgres.dump(join(dir, 'db.dump'));
      await other.restore(join(dir, 'db.dump'));
      await copy.connect();
      const rows = await copy.query('SELECT name, seq::int AS seq FROM agents ORDER BY name');
      assert.deepEqual(rows.rows, [
        { name: 'a', seq: 1 },
        { name: 'b', seq: 2 },
      ]);
      const setting = await copy.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
      assert.equal(setting.rows[0]?.synchronous_commit, 'on');
      // The tables exist now: a second restore fails as a whole, with pg_restore's message.
      await assert.rejects(other.restore(join(dir, 'db.dump')), /pg_restore failed: .*agents/);
    } finally {
      await client.end();
      await copy.end();
      await other.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
