/**
 * The agent's Prometheus metrics: syncs by outcome and their duration, the
 * drift watcher's counters, and the drift open right now by state, so an
 * alert can tell drift the agent should have healed from drift it must not
 * heal (a fight with another controller, or an app that only reports).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { systemClock, type Clock } from '@driftless/common';
import type { DriftMetrics } from '../drift/index.ts';
import type { AppStatusReport, DriftReport, Reporter, SyncReport } from '../report/index.ts';

/**
 * Why a drift is open: `healing` (the agent heals it: open means not yet,
 * or the heal failed), `fight` (another controller keeps re-writing the
 * fields; not healed on purpose), `report-only` (the app has selfHeal off or
 * is dry-run). Drift on ignored fields is never drift.
 */
export type OpenDriftState = 'healing' | 'fight' | 'report-only';

/** Options of {@link AgentMetrics}. */
export interface AgentMetricsOptions {
  /** The cluster's name, a `cluster` label on every metric (as the hub's fleet metrics have it). */
  cluster: string;
  /** Whether drift of `app` is healed now (selfHeal on, not dry-run). Default: always. */
  heals?: (app: string) => boolean;
  /** The drift watcher's counters, read at each scrape; undefined while it does not run. */
  drift?: () => DriftMetrics | undefined;
  /** Clock of the open drifts' ages. Default: the system clock. */
  clock?: Clock;
  /** Process metrics (memory, CPU, event loop). Default: true. */
  processMetrics?: boolean;
}

/** The drift watcher's counters as Prometheus counters: name, help, field. */
const DRIFT_COUNTERS: [string, string, keyof DriftMetrics][] = [
  [
    'driftless_agent_drifts_detected_total',
    'Drift episodes found: an object out of line with Git.',
    'driftsDetected',
  ],
  [
    'driftless_agent_drifts_healed_total',
    'Drift episodes closed by the agent re-applying Git.',
    'driftsHealed',
  ],
  [
    'driftless_agent_drifts_resolved_total',
    'Drift episodes closed without a heal (reverted by someone, or fixed by a sync).',
    'driftsResolved',
  ],
  [
    'driftless_agent_drift_fights_total',
    'Times healing an object was paused because another field manager kept re-writing it.',
    'fights',
  ],
  ['driftless_agent_heal_failures_total', 'Heals that failed.', 'healFailures'],
  [
    'driftless_agent_drift_checks_total',
    'Comparisons of a live object with Git (one server-side dry-run each).',
    'checks',
  ],
  ['driftless_agent_drift_check_failures_total', 'Comparisons that failed.', 'checkFailures'],
  [
    'driftless_agent_watch_restarts_total',
    'Re-lists and restarts of watch loops.',
    'watchRestarts',
  ],
];

/**
 * The agent's metrics, on their own registry. As a {@link Reporter} it sees
 * every sync and drift report the agent sends, and counts them.
 */
export class AgentMetrics implements Reporter {
  /** Serve this at `/metrics`. */
  readonly registry = new Registry();
  readonly #syncs: Counter<'app' | 'outcome'>;
  readonly #syncDuration: Histogram<'app'>;
  /** driftId → the open drift. */
  readonly #open = new Map<string, { app: string; detectedAt: number; fight: boolean }>();
  readonly #o: Required<Omit<AgentMetricsOptions, 'drift'>> & Pick<AgentMetricsOptions, 'drift'>;

  constructor(options: AgentMetricsOptions) {
    this.#o = {
      cluster: options.cluster,
      heals: options.heals ?? (() => true),
      clock: options.clock ?? systemClock,
      processMetrics: options.processMetrics ?? true,
      ...(options.drift ? { drift: options.drift } : {}),
    };
    const registers = [this.registry];
    this.registry.setDefaultLabels({ cluster: this.#o.cluster });
    if (this.#o.processMetrics) collectDefaultMetrics({ register: this.registry });
    this.#syncs = new Counter({
      name: 'driftless_agent_syncs_total',
      help: 'Finished syncs by app and outcome (succeeded, failed, planned, waiting-approval, approval-stale).',
      labelNames: ['app', 'outcome'],
      registers,
    });
    this.#syncDuration = new Histogram({
      name: 'driftless_agent_sync_duration_seconds',
      help: 'Time one sync of an app took, from render to health.',
      labelNames: ['app'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    const open = () => this.#openByState();
    new Gauge({
      name: 'driftless_agent_drift_open',
      help: 'Drift episodes open now, by app and state: healing (the agent heals it), fight (another controller keeps re-writing the fields; not healed on purpose), report-only (selfHeal off or dry-run).',
      labelNames: ['app', 'state'],
      registers,
      collect() {
        this.reset();
        for (const g of open()) this.set({ app: g.app, state: g.state }, g.count);
      },
    });
    new Gauge({
      name: 'driftless_agent_drift_oldest_open_age_seconds',
      help: 'Age of the oldest open drift episode, by app and state (see driftless_agent_drift_open); absent when none is open.',
      labelNames: ['app', 'state'],
      registers,
      collect() {
        this.reset();
        for (const g of open()) this.set({ app: g.app, state: g.state }, g.oldestAgeSeconds);
      },
    });
    const drift = () => this.#o.drift?.();
    for (const [name, help, field] of DRIFT_COUNTERS) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const m = drift();
          if (!m) return;
          this.reset();
          this.inc(m[field]);
        },
      });
    }
    new Gauge({
      name: 'driftless_agent_watched_kinds',
      help: 'Kinds the drift watcher watches now.',
      registers,
      collect() {
        this.set(drift()?.watchedKinds ?? 0);
      },
    });
  }

  appStatus(_report: AppStatusReport): void {
    // The hub has every app's status (its API; driftless_hub_apps counts them).
  }

  syncResult(r: SyncReport): void {
    // A carried app did not sync (reconcile/carry.ts): no sync to count or time.
    if (r.carriedFrom) return;
    this.#syncs.inc({ app: r.app, outcome: r.outcome });
    this.#syncDuration.observe({ app: r.app }, Math.max(0, r.finishedAt - r.startedAt) / 1000);
  }

  drift(r: DriftReport): void {
    if (r.healed) this.#open.delete(r.driftId);
    else
      this.#open.set(r.driftId, { app: r.app, detectedAt: r.detectedAt, fight: Boolean(r.fight) });
  }

  /** Open drift grouped by app and state, with the oldest one's age. */
  #openByState(): {
    app: string;
    state: OpenDriftState;
    count: number;
    oldestAgeSeconds: number;
  }[] {
    const now = this.#o.clock.now();
    const groups = new Map<
      string,
      { app: string; state: OpenDriftState; count: number; oldestAgeSeconds: number }
    >();
    for (const d of this.#open.values()) {
      const state: OpenDriftState = d.fight
        ? 'fight'
        : this.#o.heals(d.app)
          ? 'healing'
          : 'report-only';
      const key = `${d.app}\u0000${state}`;
      const age = Math.max(0, now - d.detectedAt) / 1000;
      const g = groups.get(key);
      if (g) {
        g.count++;
        g.oldestAgeSeconds = Math.max(g.oldestAgeSeconds, age);
      } else groups.set(key, { app: d.app, state, count: 1, oldestAgeSeconds: age });
    }
    return [...groups.values()];
  }
}
