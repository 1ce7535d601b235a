import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, settle } from '../test/engine/clock.ts';
import { fullGarbageCollection, IdleCompactor } from './memory.ts';

const MiB = 2 ** 20;

/** A compactor on a manual clock whose resident size the test sets. */
function compactor(rss: { now: number }) {
  const clock = new ManualClock();
  const collected: number[] = [];
  const c = new IdleCompactor({
    clock,
    rss: () => rss.now,
    collect: () => {
      collected.push(rss.now);
      rss.now -= 10 * MiB;
    },
    quietMs: 10_000,
    minGrowthBytes: 4 * MiB,
  });
  return { c, clock, collected };
}

test('collects once the agent has been quiet, not while syncs keep coming', async () => {
  const rss = { now: 100 * MiB };
  const { c, clock, collected } = compactor(rss);
  c.reporter.syncResult({} as never);
  await clock.advance(9_000);
  c.reporter.syncResult({} as never);
  await clock.advance(9_000);
  await settle();
  assert.deepEqual(collected, [], 'a sync result 9 s ago is not quiet yet');
  await clock.advance(1_000);
  await settle();
  assert.deepEqual(collected, [100 * MiB]);
  assert.equal(c.collections, 1);
});

test('collects again only after memory grew by minGrowthBytes since the last collection', async () => {
  const rss = { now: 100 * MiB };
  const { c, clock, collected } = compactor(rss);
  c.noteWork();
  await clock.advance(10_000);
  await settle();
  assert.equal(collected.length, 1); // 90 MiB left
  rss.now += 3 * MiB; // a small heal
  c.reporter.syncResult({} as never);
  await clock.advance(10_000);
  await settle();
  assert.equal(collected.length, 1, 'grew 3 MiB: not worth a collection');
  rss.now += 2 * MiB; // another sync: 5 MiB over what the last collection left
  c.reporter.syncResult({} as never);
  await clock.advance(10_000);
  await settle();
  assert.equal(collected.length, 2);
});

test('app status and drift reports are not work; nothing runs after stop', async () => {
  const rss = { now: 100 * MiB };
  const { c, clock, collected } = compactor(rss);
  c.reporter.appStatus({} as never);
  c.reporter.drift({} as never);
  await clock.advance(60_000);
  await settle();
  assert.equal(collected.length, 0);
  c.noteWork();
  c.stop();
  await clock.advance(60_000);
  await settle();
  c.noteWork();
  await clock.advance(60_000);
  await settle();
  assert.equal(collected.length, 0);
  assert.equal(clock.pending, 0);
});

test('fullGarbageCollection frees unreachable objects without --expose-gc on the command line', async () => {
  let garbage: object | undefined = { big: new Array(1000).fill('x') };
  const ref = new WeakRef(garbage);
  garbage = undefined;
  await settle(); // a WeakRef keeps its target until the job that made it ends
  fullGarbageCollection();
  assert.equal(ref.deref(), undefined);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the global stays clean');
});
