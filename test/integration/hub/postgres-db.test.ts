// The PostgreSQL Db on a real server: statements repeated inside transactions run as named
// prepared statements (same results, prepared on the connection, a failing one leaves the
// next ones working); statements issued together in a transaction (pipelined) commit together
// or not at all, and so do the statements of a batch (sent at once with its COMMIT); a
// transaction waiting for a pooled connection goes before single statements.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type PostgresServer } from '@driftless/test';
import type { Db } from '../../../hub/src/store/db.ts';
import { openPostgresDb } from '../../../hub/src/store/postgres.ts';

describe('PostgreSQL Db', () => {
  let server: PostgresServer;
  let db: Db;

  before(async () => {
    server = await startPostgres();
    // One connection, so every transaction below sees the statements prepared before.
    db = openPostgresDb({ connectionString: server.connectionString, maxConnections: 1 });
    await db.exec('CREATE TABLE seqs (name TEXT PRIMARY KEY, seq BIGINT NOT NULL)');
  });

  after(async () => {
    await db?.close();
    await server?.stop();
  });

  it('runs a text repeated in transactions as one prepared statement, with the same results', async () => {
    const upsert =
      'INSERT INTO seqs (name, seq) VALUES (?, ?), (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq';
    for (let i = 1; i <= 5; i++)
      await db.tx(async (tx) => {
        assert.equal((await tx.run(upsert, ['a', i, 'b', 10 * i])).changes, 2);
      });
    assert.deepEqual(await db.all('SELECT name, seq FROM seqs ORDER BY name'), [
      { name: 'a', seq: 5 },
      { name: 'b', seq: 50 },
    ]);
    const prepared = await db.all<{ statement: string }>(
      'SELECT statement FROM pg_prepared_statements WHERE NOT from_sql',
    );
    assert.deepEqual(
      prepared.map((p) => p.statement.replace(/\s+/g, ' ')),
      [upsert.replace(/\?/g, () => '$N')].map((s) => {
        let n = 0;
        return s.replace(/\$N/g, () => `$${++n}`);
      }),
    );
  });

  it('after a prepared statement fails, the transaction rolls back and the next one works', async () => {
    const insert = 'INSERT INTO seqs (name, seq) VALUES (?, ?)';
    for (let i = 0; i < 3; i++) await db.tx((tx) => tx.run(insert, [`n${i}`, i])); // prepared from the third
    await assert.rejects(
      db.tx(async (tx) => {
        await tx.run(insert, ['n9', 9]);
        await tx.run(insert, ['n0', 0]); // duplicate key
      }),
      /duplicate key/,
    );
    await db.tx((tx) => tx.run(insert, ['n3', 3]));
    const rows = await db.all<{ name: string }>(
      "SELECT name FROM seqs WHERE name LIKE 'n%' ORDER BY name",
    );
    assert.deepEqual(
      rows.map((r) => r.name),
      ['n0', 'n1', 'n2', 'n3'],
    );
  });

  it('commits writes issued together, and on one failing rolls back every one of them', async () => {
    await db.tx(async (tx) => {
      const [x, y] = await Promise.all([
        tx.run('INSERT INTO seqs (name, seq) VALUES (?, ?)', ['p1', 1]),
        tx.run('INSERT INTO seqs (name, seq) VALUES (?, ?)', ['p2', 2]),
        tx.get('SELECT count(*)::int AS n FROM seqs WHERE name LIKE ?', ['p%']),
      ]).then(([a, b, c]) => [a.changes + b.changes, (c as { n: number }).n]);
      assert.equal(x, 2);
      assert.equal(y, 2); // the read behind the writes sees them
    });
    await assert.rejects(
      db.tx((tx) =>
        Promise.all([
          tx.run('INSERT INTO seqs (name, seq) VALUES (?, ?)', ['p3', 3]),
          tx.run('INSERT INTO seqs (name, seq) VALUES (?, ?)', ['p1', 1]), // duplicate key
          tx.run('INSERT INTO seqs (name, seq) VALUES (?, ?)', ['p4', 4]),
        ]),
      ),
      /duplicate key/,
    );
    const rows = await db.all<{ name: string }>(
      "SELECT name FROM seqs WHERE name LIKE 'p%' ORDER BY name",
    );
    assert.deepEqual(
      rows.map((r) => r.name),
      ['p1', 'p2'],
    );
  });

  it('runs a batch as one transaction: every statement committed, or none and the first error', async () => {
    const rows = await db.batch!([
      { sql: 'INSERT INTO seqs (name, seq) VALUES (?, ?)', params: ['q1', 1] },
      { sql: 'UPDATE seqs SET seq = seq + 1 WHERE name = ? RETURNING seq', params: ['q1'] },
      { sql: 'INSERT INTO seqs (name, seq) VALUES (?, ?)', params: ['q2', 2] },
    ]);
    assert.deepEqual(rows, [[], [{ seq: 2 }], []]);
    await assert.rejects(
      db.batch!([
        { sql: 'INSERT INTO seqs (name, seq) VALUES (?, ?)', params: ['q3', 3] },
        { sql: 'INSERT INTO seqs (name, seq) VALUES (?, ?)', params: ['q1', 1] }, // duplicate key
        { sql: 'UPDATE seqs SET seq = 0 WHERE name = ?', params: ['q2'] },
      ]),
      /duplicate key/,
    );
    // The only connection is in no transaction afterwards: the next batch commits.
    await db.batch!([{ sql: 'INSERT INTO seqs (name, seq) VALUES (?, ?)', params: ['q4', 4] }]);
    assert.deepEqual(
      await db.all("SELECT name, seq FROM seqs WHERE name LIKE 'q%' ORDER BY name"),
      [
        { name: 'q1', seq: 2 },
        { name: 'q2', seq: 2 },
        { name: 'q4', seq: 4 },
      ],
    );
  });

  it('gives a free connection to a waiting transaction before waiting single statements', async () => {
    const order: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // The only connection is busy in a transaction; a single statement, then a transaction wait.
    const holder = db.tx(async (tx) => {
      await tx.get('SELECT 1');
      await gate;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const single = db.get('SELECT 1').then(() => order.push('single'));
    const tx = db.tx((t) => t.get('SELECT 1')).then(() => order.push('tx'));
    open();
    await Promise.all([holder, single, tx]);
    assert.deepEqual(order, ['tx', 'single']);
  });
});
