import { InvalidArgumentError } from '../errors.ts';
import { parseSelector, type LedgerQuery } from '../store/index.ts';

/** Settings of the drift ledger. */
export interface LedgerOptions {
  /** Window when a request names neither end, days back from now. */
  windowDays: number;
  /** Longest window a request may ask for, days (bounds the per-day series). */
  maxWindowDays: number;
  /** Length of the top lists (managers, fields, objects) and of the per-group table. */
  top: number;
  /** Most episodes read for the percentiles; beyond it, the newest ones are used. */
  maxSample: number;
}

/** Defaults of {@link LedgerOptions}. */
export const LEDGER_DEFAULTS: LedgerOptions = {
  windowDays: 30,
  maxWindowDays: 400,
  top: 20,
  maxSample: 100_000,
};

/** {@link LedgerOptions} with the defaults filled in. */
export function resolveLedgerOptions(o: Partial<LedgerOptions> = {}): LedgerOptions {
  return { ...LEDGER_DEFAULTS, ...o };
}

/** What a caller asks for, as text (query parameters, CLI flags). */
export interface LedgerRequest {
  /** Start of the window: ISO 8601 date (`2026-11-01`, UTC midnight) or date-time. */
  from?: string | undefined;
  /** End of the window (exclusive), same forms; default now. */
  to?: string | undefined;
  /** Cluster label selector, `env=prod,region=eu`. */
  selector?: string | undefined;
  cluster?: string | undefined;
  app?: string | undefined;
  /** Field manager, exactly as reported (`kubectl-edit`). */
  manager?: string | undefined;
}

export const DAY_MS = 86_400_000;

/** `2026-11-01` or `2026-11-01T10:00:00Z` as ms since the epoch; InvalidArgumentError if neither. */
export function parseInstant(text: string, what: string): number {
  const t = text.trim();
  const ok = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(t);
  const ms = ok ? Date.parse(/T/.test(t) ? t : `${t}T00:00:00Z`) : NaN;
  // Date.parse rolls a day past the month's end over (2026-02-31 is March 3): refuse it instead.
  const day = t.slice(0, 10);
  if (Number.isNaN(ms) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day)
    throw new InvalidArgumentError(
      `${what} "${t.slice(0, 64)}": use an ISO 8601 date (2026-11-01) or date-time with a zone (2026-11-01T10:00:00Z)`,
    );
  return ms;
}

/**
 * The store query for a request at `nowMs`: the window [from, to) defaults to the
 * `windowDays` before `to`, and `to` to now. Throws InvalidArgumentError for an unreadable time
 * or selector, an empty window or one longer than `maxWindowDays`.
 */
export function resolveLedgerQuery(
  r: LedgerRequest,
  nowMs: number,
  o: LedgerOptions = LEDGER_DEFAULTS,
): LedgerQuery {
  const toMs = r.to ? parseInstant(r.to, 'to') : nowMs;
  const fromMs = r.from ? parseInstant(r.from, 'from') : toMs - o.windowDays * DAY_MS;
  if (fromMs >= toMs)
    throw new InvalidArgumentError(
      `drift ledger window: from (${new Date(fromMs).toISOString()}) must be before to (${new Date(toMs).toISOString()})`,
    );
  if (toMs - fromMs > o.maxWindowDays * DAY_MS)
    throw new InvalidArgumentError(
      `drift ledger window: ${Math.ceil((toMs - fromMs) / DAY_MS)} days is longer than the ${o.maxWindowDays} days allowed; narrow from/to`,
    );
  const text = (v: string | undefined) => (v && v.trim() ? v.trim() : undefined);
  return {
    fromMs,
    toMs,
    selector: parseSelector(r.selector),
    cluster: text(r.cluster),
    app: text(r.app),
    manager: text(r.manager),
  };
}
