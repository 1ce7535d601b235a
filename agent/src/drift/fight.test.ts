import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FightGuard } from './fight.ts';
import { KeyedDebouncer } from './debounce.ts';
import { FakeClock } from '../../test/drift/fakes.ts';

describe('FightGuard', () => {
  const options = {
    maxHeals: 3,
    windowMs: 10_000,
    backoff: { initialMs: 1_000, factor: 2, jitter: 0 },
  };

  /** Heals at `now` when allowed; returns the decision. */
  function tryHeal(guard: FightGuard, now: number) {
    const d = guard.decide(now);
    if (d.heal) guard.recordHeal(now);
    return d;
  }

  it('allows maxHeals heals in the window, then pauses once with a report', () => {
    const guard = new FightGuard(options);
    for (const t of [0, 100, 200]) assert.deepEqual(tryHeal(guard, t), { heal: true });
    assert.deepEqual(tryHeal(guard, 300), {
      heal: false,
      until: 1_300,
      newFight: true,
      pauseMs: 1_000,
    });
    // Further reverts during the pause are not new fights.
    assert.deepEqual(tryHeal(guard, 800), {
      heal: false,
      until: 1_300,
      newFight: false,
      pauseMs: 500,
    });
    assert.equal(guard.pausedAt(1_299), true);
    assert.equal(guard.pausedAt(1_300), false);
  });

  it('probes once after a pause, then pauses for longer when the fight goes on', () => {
    const guard = new FightGuard(options);
    for (const t of [0, 100, 200]) tryHeal(guard, t);
    tryHeal(guard, 300); // pause 1 s
    assert.deepEqual(tryHeal(guard, 1_300), { heal: true }, 'probe heal after the pause');
    const again = tryHeal(guard, 1_400);
    assert.equal(again.heal, false);
    assert.equal(!again.heal && again.newFight && again.pauseMs, 2_000, 'backoff grew');
  });

  it('forgets a fight after a full window without heals', () => {
    const guard = new FightGuard(options);
    for (const t of [0, 100, 200]) tryHeal(guard, t);
    tryHeal(guard, 300);
    tryHeal(guard, 1_300); // probe
    // Quiet for longer than the window: heals are allowed again, and the next
    // fight starts from the first backoff step.
    for (const t of [20_000, 20_100, 20_200]) assert.equal(tryHeal(guard, t).heal, true);
    const d = tryHeal(guard, 20_300);
    assert.equal(!d.heal && d.pauseMs, 1_000);
  });

  it('counts only heals inside the sliding window', () => {
    const guard = new FightGuard(options);
    for (const t of [0, 5_000, 9_000]) tryHeal(guard, t);
    // The heal at 0 left the window at 10 s: a fourth heal is fine at 10.5 s.
    assert.equal(tryHeal(guard, 10_500).heal, true);
  });
});

describe('KeyedDebouncer', () => {
  function setup(work?: (key: string) => Promise<void>) {
    const clock = new FakeClock();
    const abort = new AbortController();
    const runs: string[] = [];
    const debouncer = new KeyedDebouncer<string>({
      clock,
      delayMs: 50,
      signal: abort.signal,
      run: async (key) => {
        runs.push(key);
        await work?.(key);
      },
    });
    return { clock, abort, runs, debouncer };
  }

  it('turns a burst of triggers into one run per key, delayMs after the first', async () => {
    const { clock, runs, debouncer } = setup();
    debouncer.trigger('a');
    await clock.advance(20);
    debouncer.trigger('a');
    debouncer.trigger('b');
    await clock.advance(29);
    assert.deepEqual(runs, [], 'nothing before the delay');
    await clock.advance(1);
    assert.deepEqual(runs, ['a'], 'the delay does not restart on later triggers');
    await clock.advance(20);
    assert.deepEqual(runs, ['a', 'b']);
    await clock.advance(1_000);
    assert.deepEqual(runs, ['a', 'b'], 'no extra runs');
    assert.equal(debouncer.busy('a'), false);
  });

  it('runs once more after a run when triggered during it, never twice at once', async () => {
    let release: () => void = () => {};
    let inFlight = 0;
    let maxInFlight = 0;
    const { clock, runs, debouncer } = setup(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((resolve) => (release = resolve));
      inFlight--;
    });
    debouncer.trigger('a');
    await clock.advance(50);
    assert.deepEqual(runs, ['a']);
    for (let i = 0; i < 5; i++) debouncer.trigger('a'); // a burst while running
    release();
    await clock.advance(50);
    assert.deepEqual(runs, ['a', 'a'], 'exactly one follow-up run');
    release();
    await clock.advance(200);
    assert.deepEqual(runs, ['a', 'a']);
    assert.equal(maxInFlight, 1);
  });

  it('drops scheduled runs when aborted and leaves no timer behind', async () => {
    const { clock, abort, runs, debouncer } = setup();
    debouncer.trigger('a');
    abort.abort();
    await debouncer.idle();
    await clock.advance(100);
    assert.deepEqual(runs, []);
    assert.equal(clock.pending, 0);
  });
});
