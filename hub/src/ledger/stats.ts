/**
 * Small statistics over durations: percentiles by linear interpolation between the closest
 * ranks (the definition of PostgreSQL's `percentile_cont` and of spreadsheets' PERCENTILE), and
 * a fixed histogram for the time-to-heal chart.
 */

/** A distribution of durations: how many, and the median and 90th percentile (ms; null when none). */
export interface Distribution {
  count: number;
  medianMs: number | null;
  p90Ms: number | null;
}

/**
 * The `p`-quantile (0 ≤ p ≤ 1) of `sorted` (ascending): the value at rank `p·(n−1)`,
 * interpolated linearly between its neighbours. Undefined for an empty list.
 */
export function quantile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (rank - lo);
}

/** The {@link Distribution} of `values` (any order); durations are rounded to whole ms. */
export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => {
    const q = quantile(sorted, p);
    return q === undefined ? null : Math.round(q);
  };
  return { count: sorted.length, medianMs: at(0.5), p90Ms: at(0.9) };
}

/** One bar of the time-to-heal histogram: durations in [minMs, maxMs), maxMs null = no bound. */
export interface Bucket {
  label: string;
  minMs: number;
  maxMs: number | null;
  count: number;
}

/**
 * The histogram's upper bounds, ms. Fine below a few seconds, where watch-based healing lands,
 * coarse above, where a fight's backoff or a failing heal does.
 */
export const HEAL_BUCKET_BOUNDS_MS: readonly number[] = [
  100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
  21_600_000, 86_400_000,
];

/** `250 ms`, `5 s`, `15 min`, `6 h`, `1 d`: a bound as people read it. */
export function boundText(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${ms / 1_000} s`;
  if (ms < 3_600_000) return `${ms / 60_000} min`;
  if (ms < 86_400_000) return `${ms / 3_600_000} h`;
  return `${ms / 86_400_000} d`;
}

/** Counts `values` into the buckets bounded by `bounds` (ascending), plus one open-ended bucket. */
export function histogram(
  values: readonly number[],
  bounds: readonly number[] = HEAL_BUCKET_BOUNDS_MS,
): Bucket[] {
  const buckets: Bucket[] = bounds.map((maxMs, i) => {
    const minMs = i === 0 ? 0 : bounds[i - 1]!;
    return {
      label: i === 0 ? `< ${boundText(maxMs)}` : `${boundText(minMs)} – ${boundText(maxMs)}`,
      minMs,
      maxMs,
      count: 0,
    };
  });
  const last = bounds.at(-1) ?? 0;
  buckets.push({ label: `≥ ${boundText(last)}`, minMs: last, maxMs: null, count: 0 });
  for (const v of values) {
    const i = bounds.findIndex((b) => v < b);
    buckets[i === -1 ? buckets.length - 1 : i]!.count++;
  }
  return buckets;
}
