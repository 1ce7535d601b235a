/** Options of {@link RhythmDetector}. */
export interface RhythmOptions {
  /** Re-writes of the same fields by the same manager, each undoing Git's value, that make a fight. Default 3. */
  minRewrites?: number;
  /** The longest gap between two re-writes that still counts as one rhythm. Default 10 minutes. */
  maxGapMs?: number;
  /** How steady the rhythm must be: the longest gap at most this many times the shortest. Default 3. */
  maxGapRatio?: number;
}

/** Defaults of {@link RhythmOptions}. */
export const RHYTHM_DEFAULTS = { minRewrites: 3, maxGapMs: 600_000, maxGapRatio: 3 } as const;

/** A fight found by {@link RhythmDetector}: who keeps re-writing which fields, how often. */
export interface Fight {
  /** The field manager that re-writes the fields (from `metadata.managedFields`). */
  manager: string;
  /** The fields, as drift paths (`.spec.replicas`). */
  paths: string[];
  /** Mean time between its re-writes, in ms. */
  periodMs: number;
  /** When the fight was recognised, ms since the epoch. */
  since: number;
}

/**
 * Tells a controller that owns a field from a person who changed it: another
 * controller (an HPA on `spec.replicas` every 15 s, a VPA, a mutating
 * webhook) re-writes the same fields, under the same field manager, again
 * and again after every heal, on a steady rhythm. A person's edits are few
 * and irregular. Feed it every re-write found after one of our writes; it
 * answers with the fight once `minRewrites` re-writes of the same fields by
 * the same manager came with gaps no longer than `maxGapMs` and no more
 * uneven than `maxGapRatio`.
 */
export class RhythmDetector {
  readonly #minRewrites: number;
  readonly #maxGapMs: number;
  readonly #maxGapRatio: number;
  /** `manager paths` → times of its recent re-writes, oldest first. */
  readonly #series = new Map<string, number[]>();

  constructor(options: RhythmOptions = {}) {
    this.#minRewrites = Math.max(2, options.minRewrites ?? RHYTHM_DEFAULTS.minRewrites);
    this.#maxGapMs = options.maxGapMs ?? RHYTHM_DEFAULTS.maxGapMs;
    this.#maxGapRatio = options.maxGapRatio ?? RHYTHM_DEFAULTS.maxGapRatio;
  }

  /** Records that `manager` re-wrote `paths` at `now`; returns the fight when its rhythm is steady. */
  rewrite(manager: string, paths: string[], now: number): Fight | undefined {
    if (!manager || paths.length === 0) return undefined;
    const sorted = [...new Set(paths)].sort();
    const key = `${manager} ${sorted.join(' ')}`;
    const times = (this.#series.get(key) ?? []).filter(
      (t) => now - t <= this.#maxGapMs * this.#minRewrites,
    );
    const last = times.at(-1);
    if (last !== undefined && now - last > this.#maxGapMs) times.length = 0;
    times.push(now);
    while (times.length > this.#minRewrites) times.shift();
    this.#series.set(key, times);
    if (times.length < this.#minRewrites) return undefined;
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    const longest = Math.max(...gaps);
    const shortest = Math.max(1, Math.min(...gaps));
    if (longest > this.#maxGapMs || longest / shortest > this.#maxGapRatio) return undefined;
    const periodMs = Math.round(gaps.reduce((a, b) => a + b, 0) / gaps.length);
    return { manager, paths: sorted, periodMs, since: now };
  }

  /** Forgets every series (Git's desired state changed). */
  reset(): void {
    this.#series.clear();
  }
}
