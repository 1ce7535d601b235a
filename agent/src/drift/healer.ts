import {
  errorMessage,
  formatDuration,
  isRetryable,
  type Clock,
  type Logger,
} from '@driftless/common';
import { Marks, refString } from '../model.ts';
import { objectError } from '../kube/index.ts';
import { withSyncMarks } from '../apply/index.ts';
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
  counters: DriftCounters;
  scheduler: CheckScheduler;
}

/**
 * Heals drift: applies the desired object again (re-creating it when
 * deleted), unless the object's fight guard says another controller keeps
 * reverting it; reports the heal, the failure, or the fight.
 */
export class Healer {
  readonly #o: HealerOptions;

  constructor(options: HealerOptions) {
    this.#o = options;
  }

  /** Heals `drift` of `t` now, or reports the fight and asks for a check when the pause ends. */
  async healOrWait(t: Tracked, app: AppState, drift: OpenDrift): Promise<void> {
    const now = this.#o.clock.now();
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
    const heal = this.#heal(t, app, drift).finally(() => app.heals.delete(heal));
    app.heals.add(heal);
    await heal;
  }

  /** Applies the desired object again and reports the drift healed, or the failure. */
  async #heal(t: Tracked, app: AppState, drift: OpenDrift): Promise<void> {
    const { clock, logger, sender, counters } = this.#o;
    const started = clock.now();
    try {
      const healed = await this.#o.client.apply(
        withSyncMarks(t.desired, app.sync.revision, app.sync.traceId),
        { fieldManager: Marks.fieldManager, force: true, signal: t.abort.signal },
      );
      const now = clock.now();
      t.guard.recordHeal(now);
      t.verifiedRv = healed.metadata['resourceVersion'] as string | undefined;
      counters.driftsHealed++;
      if (t.drift === drift) t.drift = undefined;
      sender.send(t, drift, { healed: true, healedAt: now });
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
      if (t.abort.signal.aborted) return;
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
    }
  }
}
