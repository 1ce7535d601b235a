import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteDb } from './sqlite.ts';

/** A clock that moves 1 ms each time it is read: every queued operation "takes" time. */
const ticking = () => {
  let ms = 0;
  return () => ms++;
};

test('a backlog of queued operations lets the event loop turn between slices', async () => {
  const db = openSqliteDb({ path: ':memory:', sliceMs: 5, now: ticking() });
  await db.exec('CREATE TABLE t (n INTEGER)');
  let done = 0;
  const ops = Array.from({ length: 50 }, (_, i) =>
    db.run('INSERT INTO t (n) VALUES (?)', [i]).then(() => done++),
  );
  // An I/O callback that arrives while the backlog is worked off: without a turn of the event
  // loop it would run only once all 50 are done.
  const seenAt = new Promise<number>((resolve) => setImmediate(() => resolve(done)));
  await Promise.all(ops);
  assert.ok((await seenAt) < 50, `the callback ran after ${await seenAt} of 50 operations`);
  // Still one at a time, in the order asked.
  const rows = await db.all<{ n: number }>('SELECT n FROM t ORDER BY rowid');
  assert.deepEqual(
    rows.map((r) => r.n),
    Array.from({ length: 50 }, (_, i) => i),
  );
  await db.close();
});

test('an operation on an idle queue runs without waiting for the event loop', async () => {
  const db = openSqliteDb({ path: ':memory:', sliceMs: 5, now: ticking() });
  await db.exec('CREATE TABLE t (n INTEGER)');
  let immediateRan = false;
  setImmediate(() => (immediateRan = true));
  await db.run('INSERT INTO t (n) VALUES (1)');
  assert.equal(immediateRan, false);
  await db.close();
});

test('a transaction is not split by the queue turning', async () => {
  const db = openSqliteDb({ path: ':memory:', sliceMs: 1, now: ticking() });
  await db.exec('CREATE TABLE t (n INTEGER)');
  let between = 0;
  const txs = Array.from({ length: 5 }, () =>
    db.tx(async (q) => {
      const before = between;
      for (let i = 0; i < 10; i++) await q.run('INSERT INTO t (n) VALUES (?)', [i]);
      // Nothing scheduled with setImmediate ran while this transaction's statements did.
      assert.equal(between, before);
    }),
  );
  const tick = () => {
    between++;
    if (between < 20) setImmediate(tick);
  };
  setImmediate(tick);
  await Promise.all(txs);
  assert.equal((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM t'))?.n, 50);
  await db.close();
});
