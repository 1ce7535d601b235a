import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@driftless/common';
import { ManualClock } from '../../test/engine/clock.ts';
import { SuspensionBook, type SuspensionStore } from './book.ts';
import { describeSuspension, type Suspension } from './types.ts';

const logger = createLogger({ name: 'test', level: 'silent' });

/** A store in memory that records every save. */
class MemoryStore implements SuspensionStore {
  saved: Suspension[][] = [];
  kept: Suspension[] = [];
  async load(): Promise<Suspension[]> {
    return this.kept;
  }
  async save(list: Suspension[]): Promise<void> {
    this.saved.push(list);
    this.kept = list;
  }
}

const pause = (over: Partial<Suspension>, clock: ManualClock): Suspension => ({
  id: 'su_1',
  app: 'web',
  untilMs: clock.now() + 30 * 60_000,
  reason: 'incident 42',
  actor: 'alice (at_1)',
  sinceMs: clock.now(),
  source: 'hub',
  ...over,
});

describe('SuspensionBook', () => {
  it('pauses an app until its end on the injected clock, then tells the listeners', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const book = new SuspensionBook({ clock, logger, store });
    let changes = 0;
    book.onChange(() => changes++);
    book.setHub([pause({}, clock)]);
    assert.equal(book.forApp('web')?.id, 'su_1');
    assert.equal(book.forApp('api'), undefined, 'another app is not paused');
    assert.equal(changes, 1);
    await clock.advance(29 * 60_000);
    assert.equal(book.forApp('web')?.id, 'su_1', 'still paused a minute before the end');
    await clock.advance(60_000);
    assert.equal(book.forApp('web'), undefined, 'the pause ended at its time');
    assert.equal(changes, 2);
    assert.deepEqual(store.kept, [], 'the ended pause is no longer kept for a restart');
    await book.stop();
  });

  it('a pause of the cluster pauses every app; a new set from the hub replaces the old one', async () => {
    const clock = new ManualClock();
    const book = new SuspensionBook({ clock, logger });
    book.setHub([pause({ id: 'su_c', app: '' }, clock)]);
    assert.equal(book.forApp('web')?.id, 'su_c');
    assert.equal(book.forApp('api')?.id, 'su_c');
    book.setHub([]);
    assert.equal(book.forApp('web'), undefined, 'resumed: the hub sent a set without it');
    await book.stop();
  });

  it('keeps the hub pauses across a restart and drops those that ended meanwhile', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const first = new SuspensionBook({ clock, logger, store });
    first.setHub([
      pause({ id: 'su_long' }, clock),
      pause({ id: 'su_short', app: 'api', untilMs: clock.now() + 1000 }, clock),
    ]);
    await first.stop();
    await clock.advance(5000);
    const second = new SuspensionBook({ clock, logger, store });
    await second.restore();
    assert.deepEqual(
      second.all().map((s) => s.id),
      ['su_long'],
    );
    await second.stop();
  });

  it('takes pauses from Git, which have no end, and shows them over a hub pause', async () => {
    const clock = new ManualClock();
    const book = new SuspensionBook({ clock, logger });
    let changes = 0;
    book.onChange(() => changes++);
    book.setHub([pause({}, clock)]);
    book.setGit(
      [
        { name: 'web', suspend: true },
        { name: 'api', suspend: false },
      ],
      'clusters/dev/driftless.yaml',
    );
    const s = book.forApp('web');
    assert.equal(s?.source, 'git');
    assert.equal(describeSuspension(s), 'suspended in Git (clusters/dev/driftless.yaml)');
    book.setGit([{ name: 'web', suspend: true }], 'clusters/dev/driftless.yaml');
    assert.equal(changes, 2, 'the same Git pauses again are no change');
    await clock.advance(24 * 3_600_000);
    assert.equal(book.forApp('web')?.source, 'git', 'a Git pause does not expire');
    book.setGit([{ name: 'web', suspend: false }], 'clusters/dev/driftless.yaml');
    assert.equal(book.forApp('web'), undefined);
    await book.stop();
  });

  it('ignores pauses from the hub that already ended', async () => {
    const clock = new ManualClock();
    const book = new SuspensionBook({ clock, logger });
    book.setHub([pause({ untilMs: clock.now() - 1 }, clock)]);
    assert.deepEqual(book.all(), []);
    await book.stop();
  });
});
