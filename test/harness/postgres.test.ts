import assert from 'node:assert/strict';
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
});
