/**
 * What the agent keeps about each app between passes — its state, schedule and
 * status — and the one place that reports app statuses and sync results.
 */
import type { Backoff, Clock } from '@driftless/common';
import type { AppSpec } from '../model.ts';
import type { AppStatusReport, Reporter, SyncReport } from '../report/index.ts';
import type { Suspension } from '../suspend/index.ts';
import type { AppOutcome } from './outcome.ts';
import { attemptKey, type AppState, type StatusPatch } from './app-state.ts';

/** Options of {@link AppBook}. */
export interface AppBookOptions {
  reporter: Reporter;
  clock: Clock;
  /** Each new app's backoff for transient failures. */
  newBackoff: () => Backoff;
  /** The app's current count of drifted objects, shown in its status. */
  driftCount: (app: string) => number;
  /** The pause in force for the app, shown in its status. Default: none. */
  suspension?: (app: string) => Suspension | undefined;
}

/** Every app the agent syncs, by name. */
export class AppBook {
  readonly #o: AppBookOptions;
  readonly #apps = new Map<string, AppState>();

  constructor(options: AppBookOptions) {
    this.#o = options;
  }

  /** The state of an app seen before, if any. */
  get(name: string): AppState | undefined {
    return this.#apps.get(name);
  }

  /** Forgets an app (it left Git). */
  delete(name: string): void {
    this.#apps.delete(name);
  }

  /** Every app's state. */
  values(): IterableIterator<AppState> {
    return this.#apps.values();
  }

  /** Due: never synced, a new revision or spec, or its retry / requeue / poll time came. */
  isDue(state: AppState, revision: string): boolean {
    if (state.attemptKey !== attemptKey(state.spec, revision)) return true;
    return state.dueAt !== undefined && this.#o.clock.now() >= state.dueAt;
  }

  /** Records how a sync ended and when the app is due again. */
  schedule(state: AppState, outcome: AppOutcome): void {
    state.outcome = outcome;
    state.dueAt =
      outcome.kind === 'done' || outcome.kind === 'retry' || outcome.kind === 'requeue'
        ? this.#o.clock.now() + outcome.afterMs
        : undefined;
  }

  /** Every app keeps its state and says which config it runs while driftless.yaml is broken. */
  noteStaleConfig(invalid: { revision: string; message: string; appliedRevision: string }): void {
    for (const state of this.#apps.values()) {
      if (!state.status) continue;
      this.setStatus(state.spec, {
        ...state.status,
        message: `running the driftless.yaml of ${invalid.appliedRevision.slice(0, 7)}: the one at ${invalid.revision.slice(0, 7)} is invalid: ${invalid.message}`,
      });
    }
  }

  /**
   * Reports a sync once per distinct result: every sync that wrote something,
   * and otherwise only a change of outcome, revision, plan or error — an
   * unchanged pass says nothing.
   */
  reportSync(app: AppSpec, r: SyncReport): void {
    const state = this.entry(app);
    const wrote = r.outcome === 'succeeded' && r.objects.some((o) => o.action !== 'unchanged');
    const key =
      r.outcome === 'succeeded'
        ? `succeeded|${r.revision}`
        : `${r.outcome}|${r.revision}|${r.planDigest}|${r.error}`;
    if (!wrote && key === state.lastReportKey) return;
    state.lastReportKey = key;
    this.#o.reporter.syncResult(r);
  }

  /** The state of `app`, made on first use; its spec updated to `app`. */
  entry(app: AppSpec): AppState {
    let s = this.#apps.get(app.name);
    if (!s) {
      s = { spec: app, backoff: this.#o.newBackoff(), health: 'Unknown' };
      this.#apps.set(app.name, s);
    }
    s.spec = app;
    return s;
  }

  /** Sets the status of `app` and reports it when it changed. */
  setStatus(app: AppSpec, patch: StatusPatch): void {
    const state = this.entry(app);
    const prev = state.status;
    const next: AppStatusReport = {
      app: app.name,
      mode: app.sync,
      healthMessage: patch.healthMessage ?? '',
      driftCount: this.#o.driftCount(app.name),
      planDigest: patch.planDigest ?? prev?.planDigest ?? '',
      pendingPlan: patch.pendingPlan ?? [],
      message: patch.message ?? '',
      lastSyncAt: patch.lastSyncAt ?? prev?.lastSyncAt ?? 0,
      revision: patch.revision,
      syncStatus: patch.syncStatus,
      health: patch.health,
    };
    const suspension = this.#o.suspension?.(app.name);
    if (suspension) next.suspension = suspension;
    state.status = next;
    if (prev && JSON.stringify(prev) === JSON.stringify(next)) return;
    this.#o.reporter.appStatus(next);
  }
}
