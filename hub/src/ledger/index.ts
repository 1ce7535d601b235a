/**
 * The drift ledger: what the hub's drift records say over a time window — time to detect and
 * to heal, episodes per day, the managers, fields and objects that drift most — as numbers,
 * as a per-episode CSV, and as the request parsing both share. See docs/drift-ledger.md.
 */
export { buildLedger, detectMs, healMs, type Ledger, type Timings } from './ledger.ts';
export { CSV_COLUMNS, csvCell, csvLine, csvValues, ledgerCsv } from './csv.ts';
export {
  DAY_MS,
  LEDGER_DEFAULTS,
  parseInstant,
  resolveLedgerOptions,
  resolveLedgerQuery,
  type LedgerOptions,
  type LedgerRequest,
} from './query.ts';
export {
  boundText,
  distribution,
  HEAL_BUCKET_BOUNDS_MS,
  histogram,
  quantile,
  type Bucket,
  type Distribution,
} from './stats.ts';
