/**
 * Durations people write, read one way by the CLI's flags and the API's fields, so `--for 5` and
 * `{"for": "5"}` fail alike instead of meaning 5 ms.
 */
import { parseDuration } from '@driftless/common';

/** A duration given for a flag or field that the hub refuses; the message names both. */
export class DurationError extends RangeError {
  override name = 'DurationError';
}

/**
 * The milliseconds of `text`, a duration given for `field` (a flag such as `--for`, or an API
 * field such as `for`). A number without a unit is refused: the shared parser reads `5` as 5 ms,
 * where people (and `argocd app wait --timeout 120`) mean seconds or minutes. `0` needs no unit.
 * Throws a {@link DurationError} naming `field` and `text`.
 */
export function parseUnitDuration(field: string, text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s) && Number(s) !== 0)
    throw new DurationError(`${field} "${text}" has no unit: write e.g. ${s}s, ${s}m or ${s}h`);
  try {
    return parseDuration(s);
  } catch (err) {
    throw new DurationError(`${field}: ${(err as Error).message}`, { cause: err });
  }
}
