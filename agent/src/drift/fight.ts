import { Backoff, type BackoffOptions } from '@driftless/common';

/** Options of {@link FightGuard}. */
export interface FightOptions {
  /** Heals of one object allowed within `windowMs` before it counts as a fight. Default 5. */
  maxHeals?: number;
  /** The sliding window heals are counted in. Default 60 s. */
  windowMs?: number;
  /** How long healing pauses after a fight; grows per fight. Default 30 s doubling up to 10 min. */
  backoff?: BackoffOptions;
}

/** Defaults of {@link FightOptions}. */
export const FIGHT_DEFAULTS = {
  maxHeals: 5,
  windowMs: 60_000,
  backoff: { initialMs: 30_000, maxMs: 600_000, factor: 2, jitter: 0.1 },
} as const;

/** What {@link FightGuard.decide} allows. */
export type HealDecision =
  | { heal: true }
  /**
   * Healing is paused until `until`. `newFight` is true only on the call that
   * detected the fight (report it once); `pauseMs` is that pause's length.
   */
  | { heal: false; until: number; newFight: boolean; pauseMs: number };

/**
 * Decides, for one object, whether a heal may run now. When another
 * controller keeps reverting a field, every heal is undone at once and
 * healing again only spends API calls and wakes the other controller: after
 * more than `maxHeals` heals within `windowMs` the guard pauses healing for a
 * growing backoff. When a pause ends one probe heal is allowed; if the field
 * is reverted again within the window the next pause is longer. A full window
 * without heals forgets the fight.
 */
export class FightGuard {
  readonly #maxHeals: number;
  readonly #windowMs: number;
  readonly #backoff: Backoff;
  /** Times of recent heals, oldest first. */
  #heals: number[] = [];
  #pausedUntil = 0;

  constructor(options: FightOptions = {}) {
    this.#maxHeals = options.maxHeals ?? FIGHT_DEFAULTS.maxHeals;
    this.#windowMs = options.windowMs ?? FIGHT_DEFAULTS.windowMs;
    this.#backoff = new Backoff({ ...FIGHT_DEFAULTS.backoff, ...options.backoff });
  }

  /** Whether healing is paused at `now`. */
  pausedAt(now: number): boolean {
    return now < this.#pausedUntil;
  }

  /** Whether a heal may run at `now`; see {@link HealDecision}. */
  decide(now: number): HealDecision {
    if (now < this.#pausedUntil) {
      return {
        heal: false,
        until: this.#pausedUntil,
        newFight: false,
        pauseMs: this.#pausedUntil - now,
      };
    }
    this.#heals = this.#heals.filter((t) => t > now - this.#windowMs);
    if (this.#pausedUntil !== 0) {
      // The pause just ended: one probe heal, whatever the count.
      this.#pausedUntil = 0;
      return { heal: true };
    }
    if (this.#heals.length === 0) this.#backoff.reset();
    if (this.#heals.length < this.#maxHeals) return { heal: true };
    const pauseMs = this.#backoff.next();
    this.#pausedUntil = now + pauseMs;
    return { heal: false, until: this.#pausedUntil, newFight: true, pauseMs };
  }

  /** Records a heal that was done at `now`. */
  recordHeal(now: number): void {
    this.#heals.push(now);
  }
}
