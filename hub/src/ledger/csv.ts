import type { EpisodeCursor, LedgerEpisode, LedgerQuery, LedgerStore } from '../store/index.ts';
import { detectMs, healMs } from './ledger.ts';

/**
 * The drift ledger as CSV, for audits: one row per drift episode (RFC 4180: comma separated,
 * CRLF line ends, fields quoted when they hold a comma, quote or line break, quotes doubled).
 * Text that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or
 * carriage return) is prefixed with `'`, so opening the file runs nothing a manager name or a
 * field path put there.
 */

/** The header row: what each column holds is in docs/drift-ledger.md. */
export const CSV_COLUMNS = [
  'cluster',
  'app',
  'object',
  'drift_type',
  'field_manager',
  'fields',
  'changed_at',
  'change_time_source',
  'detected_at',
  'time_to_detect_seconds',
  'closed_at',
  'closed_by',
  'time_to_heal_seconds',
  'fight',
  'drift_id',
] as const;

/** One CSV cell from text: neutralised if a spreadsheet would read it as a formula, then quoted if needed. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '');
const seconds = (ms: number | undefined) => (ms === undefined ? '' : (ms / 1000).toFixed(3));

/** The cells of one episode, in {@link CSV_COLUMNS} order, before quoting. */
export function csvValues(e: LedgerEpisode): string[] {
  return [
    e.cluster,
    e.app,
    e.objectRef,
    e.type,
    e.changedBy,
    e.paths.join('; '),
    iso(e.changedMs),
    e.changedMs > 0 ? e.changedSource : '',
    iso(e.detectedMs),
    seconds(detectMs(e)),
    e.healed ? iso(e.healedMs) : '',
    e.healed ? e.closedBy : 'open',
    seconds(healMs(e)),
    e.fought ? 'yes' : '',
    e.driftId,
  ];
}

/** One CSV line (with its CRLF). */
export function csvLine(values: readonly string[]): string {
  return values.map(csvCell).join(',') + '\r\n';
}

/**
 * Every episode of `q` as CSV lines, header first, oldest episode first, read from the store
 * `pageSize` at a time so an export of any length holds one page in memory.
 */
export async function* ledgerCsv(
  store: LedgerStore,
  q: LedgerQuery,
  pageSize = 1000,
): AsyncGenerator<string> {
  yield csvLine(CSV_COLUMNS);
  let after: EpisodeCursor | undefined;
  for (;;) {
    const page = await store.listLedgerEpisodes(q, {
      limit: pageSize,
      ...(after ? { after } : {}),
    });
    if (page.length > 0) yield page.map((e) => csvLine(csvValues(e))).join('');
    if (page.length < pageSize) return;
    const last = page.at(-1)!;
    after = { detectedMs: last.detectedMs, cluster: last.cluster, driftId: last.driftId };
  }
}
