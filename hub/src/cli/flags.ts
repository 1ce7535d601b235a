/**
 * Flags several commands share, so `-l` or `--cluster` means the same everywhere. Command
 * flags read `DRIFTLESS_CLI_<FLAG>` (e.g. `DRIFTLESS_CLI_SELECTOR`), global ones
 * `DRIFTLESS_<FLAG>`; see main.ts.
 */
import { FlagError, parseDuration, type Flag } from '@driftless/common';

/** `-l`: cluster label selector. */
export const selectorFlag = {
  type: 'string',
  default: '',
  short: 'l',
  help: 'Cluster label selector, e.g. env=prod,region=eu.',
} satisfies Flag<'string'>;

/** `--cluster`: one cluster by name. */
export const clusterFlag = {
  type: 'string',
  default: '',
  help: 'Only this cluster.',
} satisfies Flag<'string'>;

/** `--app`: one app by name. */
export const appFlag = {
  type: 'string',
  default: '',
  help: 'Only this app.',
} satisfies Flag<'string'>;

/** `--limit`: most rows. */
export const limitFlag = {
  type: 'number',
  default: 0,
  help: 'Most rows to return (0: the hub default).',
} satisfies Flag<'number'>;

/** `--yes`: no confirmation prompt. */
export const yesFlag = {
  type: 'boolean',
  default: false,
  short: 'y',
  help: 'Do it without asking for confirmation (for scripts).',
} satisfies Flag<'boolean'>;

/** A query string of the non-empty `params` (`?a=1&b=x`), or '' when none is set. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== '' && v !== 0 && v !== undefined && v !== false) q.set(k, `${v}`);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * The milliseconds of a duration given on the command line as `flag` (e.g. `--timeout`),
 * refusing a number without a unit: the shared parser reads `2` as 2 ms, where people (and
 * `argocd app wait --timeout 120`) mean seconds. `0` needs no unit. Throws a FlagError (exit 2).
 */
export function durationOf(flag: string, text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s) && Number(s) !== 0)
    throw new FlagError(`${flag} "${text}" has no unit: write e.g. ${s}s, ${s}m or ${s}h`);
  try {
    return parseDuration(s);
  } catch (err) {
    throw new FlagError(`${flag}: ${(err as Error).message}`, { cause: err });
  }
}

/** `text` unchanged once {@link durationOf} accepts it: for durations the hub parses itself. */
export function durationText(flag: string, text: string): string {
  durationOf(flag, text);
  return text.trim();
}
