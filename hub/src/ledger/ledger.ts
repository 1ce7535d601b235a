import type {
  EpisodeCounts,
  FieldCounts,
  LedgerEpisode,
  LedgerQuery,
  LedgerStore,
} from '../store/index.ts';
import { DAY_MS, LEDGER_DEFAULTS, type LedgerOptions } from './query.ts';
import { distribution, histogram, type Bucket, type Distribution } from './stats.ts';

/** Time to detect and time to heal of a set of episodes (fights left out). */
export interface Timings {
  /** From the live change (see docs/drift-ledger.md) to the agent's detection. */
  timeToDetect: Distribution;
  /** From detection to the agent's heal, for episodes the heal closed. */
  timeToHeal: Distribution;
}

/** The drift ledger of a window: see docs/drift-ledger.md for what each number means. */
export interface Ledger {
  fromMs: number;
  toMs: number;
  summary: EpisodeCounts &
    Timings & {
      /** Closed episodes by how they closed. */
      byClosedBy: Record<string, number>;
      /** Episodes per day of the window, on average. */
      episodesPerDay: number;
      /** Episodes the timings were computed over (the newest `maxSample`). */
      sampled: number;
      /** More episodes than `maxSample`: the timings cover the newest ones only. */
      truncated: boolean;
    };
  /** Every UTC day of the window, oldest first, days without drift included. */
  days: (EpisodeCounts & { date: string })[];
  /** The time-to-heal histogram. */
  healBuckets: Bucket[];
  /** Field managers by episodes, most first. */
  managers: (EpisodeCounts & Timings & { manager: string; objects: number })[];
  /** Fields by episodes, most first. */
  fields: FieldCounts[];
  /** Objects that drifted at least twice, most first. */
  objects: (EpisodeCounts & {
    cluster: string;
    app: string;
    objectRef: string;
    managers: number;
    lastDetectedMs: number;
  })[];
  /** Per cluster, app and manager, most episodes first (from the sampled episodes). */
  groups: (EpisodeCounts & Timings & { cluster: string; app: string; manager: string })[];
}

/** How an episode counts: a fight, healed, closed otherwise, or open. */
function standing(e: LedgerEpisode): keyof Omit<EpisodeCounts, 'episodes'> {
  if (e.fought) return 'fights';
  if (!e.healed) return 'open';
  return e.closedBy === 'heal' ? 'healed' : 'closed';
}

/** Time to detect of an episode, ms; undefined when the change time is unknown or a fight. */
export function detectMs(e: LedgerEpisode): number | undefined {
  if (e.fought || e.changedMs <= 0) return undefined;
  return Math.max(0, e.detectedMs - e.changedMs);
}

/** Time to heal of an episode, ms; undefined unless the agent's heal closed it (and no fight). */
export function healMs(e: LedgerEpisode): number | undefined {
  if (e.fought || !e.healed || e.closedBy !== 'heal' || e.healedMs <= 0) return undefined;
  return Math.max(0, e.healedMs - e.detectedMs);
}

const defined = (v: number | undefined): v is number => v !== undefined;

function timings(episodes: readonly LedgerEpisode[]): Timings {
  return {
    timeToDetect: distribution(episodes.map(detectMs).filter(defined)),
    timeToHeal: distribution(episodes.map(healMs).filter(defined)),
  };
}

function counts(episodes: readonly LedgerEpisode[]): EpisodeCounts {
  const c: EpisodeCounts = { episodes: 0, healed: 0, closed: 0, open: 0, fights: 0 };
  for (const e of episodes) {
    c.episodes++;
    c[standing(e)]++;
  }
  return c;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return m;
}

/** Every UTC day that [fromMs, toMs) touches, with the counts of `byDay` (zeros elsewhere). */
function everyDay(fromMs: number, toMs: number, byDay: Map<number, EpisodeCounts>): Ledger['days'] {
  const days: Ledger['days'] = [];
  const zero = { episodes: 0, healed: 0, closed: 0, open: 0, fights: 0 };
  for (let d = Math.floor(fromMs / DAY_MS); d <= Math.floor((toMs - 1) / DAY_MS); d++)
    days.push({
      date: new Date(d * DAY_MS).toISOString().slice(0, 10),
      ...(byDay.get(d) ?? zero),
    });
  return days;
}

/**
 * The drift ledger for `q`: counts from SQL over every episode of the window, timings
 * (medians, p90, histogram, per group) over at most `maxSample` of the newest episodes.
 */
export async function buildLedger(
  store: LedgerStore,
  q: LedgerQuery,
  options: Pick<LedgerOptions, 'top' | 'maxSample'> = LEDGER_DEFAULTS,
): Promise<Ledger> {
  // Count every episode of the window in SQL.
  const c = await store.ledgerCounts(q, options.top);
  // Read a bounded sample of the newest episodes for the timings.
  const sample = await store.listLedgerEpisodes(q, {
    limit: options.maxSample,
    newestFirst: true,
  });
  // Put the timings next to the counts.
  const byManager = groupBy(sample, (e) => e.changedBy);
  const byGroup = groupBy(sample, (e) => JSON.stringify([e.cluster, e.app, e.changedBy]));
  const groups = [...byGroup.values()]
    .map((episodes) => ({
      cluster: episodes[0]!.cluster,
      app: episodes[0]!.app,
      manager: episodes[0]!.changedBy,
      ...counts(episodes),
      ...timings(episodes),
    }))
    .sort(
      (a, b) =>
        b.episodes - a.episodes ||
        a.cluster.localeCompare(b.cluster) ||
        a.app.localeCompare(b.app) ||
        a.manager.localeCompare(b.manager),
    )
    .slice(0, options.top);
  const windowDays = (q.toMs - q.fromMs) / DAY_MS;
  return {
    fromMs: q.fromMs,
    toMs: q.toMs,
    summary: {
      ...c.total,
      ...timings(sample),
      byClosedBy: c.byClosedBy,
      episodesPerDay: Math.round((c.total.episodes / windowDays) * 100) / 100,
      sampled: sample.length,
      truncated: c.total.episodes > sample.length,
    },
    days: everyDay(q.fromMs, q.toMs, new Map(c.days.map(({ day, ...rest }) => [day, rest]))),
    healBuckets: histogram(sample.map(healMs).filter(defined)),
    managers: c.managers.map((m) => ({ ...m, ...timings(byManager.get(m.manager) ?? []) })),
    fields: c.fields,
    objects: c.objects,
    groups,
  };
}
