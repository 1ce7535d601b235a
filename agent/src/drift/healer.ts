import {
  errorMessage,
  formatDuration,
  getTracer,
  isRetryable,
  linksTo,
  markFailed,
  SpanAttr,
  type Clock,
  type Logger,
} from '@driftless/common';
import { context, type Tracer } from '@opentelemetry/api';
import { Marks, refString, type IgnoreRule } from '../model.ts';
import { objectError } from '../kube/index.ts';
import { withSyncMarks } from '../apply/index.ts';
import { desiredFor, type Verdict } from './compare.ts';
import type { Episodes } from './episodes.ts';
import type { DriftCounters } from './metrics.ts';
import type { DriftClient } from './options.ts';
import type { AppState, OpenDrift, Tracked } from './registry.ts';
import type { DriftSender } from './reporting.ts';
import type { CheckScheduler } from './scheduler.ts';

/** Options of {@link Healer}. */
export interface HealerOptions {
  client: DriftClient;
  clock: Clock;
  logger: Logger;
  sender: DriftSender;
  episodes: Episodes;
  counters: DriftCounters;
  scheduler: CheckScheduler;
  /** Tracer of the heal spans. Default: the global provider's. */
  tracer?: Tracer;
}

/**
 * Heals drift: applies the desired object again (re-creating it when
 * deleted), leaving out ignored fields and fields another controller fights
 * over. Two guards keep it from fighting: a steady rhythm of re-writes of the
 * same fields by the same manager (an HPA) makes those fields a fight that is
 * no longer healed; and too many heals of one object within a minute (a
 * controller undoing every heal at once) pause healing it for a while.
 */
export class Healer {
  readonly #o: HealerOptions;

  constructor(options: HealerOptions) {
    this.#o = options;
  }

  /** Heals the drift of `t` now, or reports the fight and waits. */
  async healOrWait(
    t: Tracked,
    app: AppState,
    drift: OpenDrift,
    verdict: Exclude<Verdict, { kind: 'in-line' }>,
    rules: readonly IgnoreRule[],
  ): Promise<void> {
    const now = this.#o.clock.now();
    // Only fought fields are out of line: nothing to heal.
    if (verdict.kind === 'modified' && verdict.fields.length === 0) return;
    const decision = t.guard.decide(now);
    if (!decision.heal) {
      if (decision.newFight) {
        this.#o.counters.fights++;
        const who = drift.changedBy ? `manager ${drift.changedBy}` : 'an unknown manager';
        const over =
          drift.fields.length > 0 ? drift.fields.map((f) => f.path).join(', ') : 'the object';
        drift.message = `fighting with ${who} over ${over}; healing paused for ${formatDuration(decision.pauseMs)}`;
        this.#o.logger.warn({ app: t.app, object: refString(t.ref) }, drift.message);
        this.#o.sender.send(t, drift, { healed: false, healedAt: 0 });
      }
      this.#o.scheduler.requestLater(t, Math.max(0, decision.until - now));
      return;
    }
    const live = verdict.kind === 'modified' ? verdict.live : undefined;
    const heal = this.#heal(t, app, drift, desiredFor(t, rules, live)).finally(() =>
      app.heals.delete(heal),
    );
    app.heals.add(heal);
    await heal;
  }

  /**
   * Feeds this episode's re-write to the object's rhythm detector (once per
   * episode), whatever undid it before (a heal, or a sync of an app without
   * selfHeal); when it finds a fight, puts it on the episode and reports it.
   * True when the drift is now only fought fields: nothing to heal.
   */
  findFight(
    t: Tracked,
    drift: OpenDrift,
    verdict: Extract<Verdict, { kind: 'modified' }>,
    now: number,
  ): boolean {
    if (!verdict.changedBy || verdict.fields.length === 0 || t.rewriteCounted === drift.driftId)
      return false;
    t.rewriteCounted = drift.driftId;
    const fight = t.rhythm.rewrite(
      verdict.changedBy,
      verdict.fields.map((f) => f.path),
      now,
    );
    if (!fight) return false;
    const paths = [...new Set([...(t.fight?.paths ?? []), ...fight.paths])].sort();
    t.fight = { ...fight, paths };
    this.#o.counters.fights++;
    this.#o.episodes.markFight(t, drift);
    this.#o.logger.warn({ app: t.app, object: refString(t.ref) }, drift.message);
    this.#o.episodes.report(t, drift);
    return true;
  }

  /**
   * Heals in a trace of its own (a heal is not part of any sync), linked to
   * the sync that set the value: the traceparent on the live object, else the
   * app's last sync. Reports sent meanwhile carry the heal's context, so the
   * hub's ingest span joins the heal's trace.
   */
  async #heal(
    t: Tracked,
    app: AppState,
    drift: OpenDrift,
    desired: Tracked['desired'],
  ): Promise<void> {
    const tracer = this.#o.tracer ?? getTracer('@driftless/agent/drift');
    const setBy =
      t.lastSeen?.metadata.annotations?.[Marks.traceparent] || app.sync.traceparent || '';
    await tracer.startActiveSpan(
      'heal',
      {
        root: true,
        links: linksTo(setBy, { 'driftless.link': 'sync-that-set-the-value' }),
        attributes: {
          [SpanAttr.app]: t.app,
          [SpanAttr.revision]: app.sync.revision,
          [SpanAttr.objectKind]: `${t.ref.apiVersion} ${t.ref.kind}`,
          [SpanAttr.objectName]: t.ref.name,
          ...(t.ref.namespace ? { [SpanAttr.namespace]: t.ref.namespace } : {}),
          [SpanAttr.driftId]: drift.driftId,
          'driftless.drift.changed_by': drift.changedBy,
        },
      },
      context.active(),
      async (span) => {
        try {
          const failure = await this.#healNow(t, app, drift, desired);
          if (failure) markFailed(span, failure);
        } finally {
          span.end();
        }
      },
    );
  }

  /** Applies `desired` and reports the drift healed (or, with a fight, still open), or the failure (returned). */
  async #healNow(
    t: Tracked,
    app: AppState,
    drift: OpenDrift,
    desired: Tracked['desired'],
  ): Promise<unknown> {
    const { clock, logger, sender, counters } = this.#o;
    const started = clock.now();
    try {
      const healed = await this.#o.client.apply(
        withSyncMarks(desired, app.sync.revision, app.sync.traceId, app.sync.traceparent),
        { fieldManager: Marks.fieldManager, force: true, signal: t.abort.signal },
      );
      const now = clock.now();
      t.guard.recordHeal(now);
      t.verifiedRv = healed.metadata['resourceVersion'] as string | undefined;
      counters.driftsHealed++;
      if (drift.fight) {
        // The fought fields stay out of line: the episode stays open as a fight.
        drift.fields = drift.fields.filter((f) => drift.fight?.paths.includes(f.path));
        t.verifiedRv = undefined;
        this.#o.episodes.report(t, drift);
      } else {
        if (t.drift === drift) t.drift = undefined;
        sender.send(t, drift, { healed: true, healedAt: now, closedBy: 'heal' });
      }
      logger.info(
        {
          app: t.app,
          object: refString(t.ref),
          driftId: drift.driftId,
          healMs: now - started,
          sinceDetectedMs: now - drift.detectedAt,
        },
        `healed drift of ${refString(t.ref)}`,
      );
    } catch (err) {
      if (t.abort.signal.aborted) return undefined;
      counters.healFailures++;
      const error = objectError('heal', t.ref, err);
      const retry = isRetryable(error);
      const delay = retry ? t.retry.next() : 0;
      drift.message = `heal failed: ${errorMessage(error)}${retry ? `; retrying in ${formatDuration(delay)}` : ''}`;
      logger.warn(
        { app: t.app, object: refString(t.ref), err: errorMessage(error) },
        drift.message,
      );
      sender.send(t, drift, { healed: false, healedAt: 0 });
      if (retry) this.#o.scheduler.requestLater(t, delay);
      return error;
    }
    return undefined;
  }
}
