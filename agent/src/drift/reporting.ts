import { errorMessage, type Logger } from '@driftless/common';
import { refString } from '../model.ts';
import type { DriftClosure, DriftReport, Reporter } from '../report/index.ts';
import type { OpenDrift, Tracked } from './registry.ts';

/** How a report ends an episode, or that it does not. */
export interface DriftOutcome {
  /** True: the episode is closed. */
  healed: boolean;
  healedAt: number;
  /** How it was closed, when `healed`. */
  closedBy?: DriftClosure;
  /** Replaces the episode's message in this report. */
  message?: string;
}

/** Sends drift reports; a reporter that throws is logged and the watcher goes on. */
export class DriftSender {
  readonly #reporter: Reporter;
  readonly #log: Logger;

  constructor(reporter: Reporter, logger: Logger) {
    this.#reporter = reporter;
    this.#log = logger;
  }

  /** Reports the episode `drift` of `t` with `outcome`. */
  send(t: Tracked, drift: OpenDrift, outcome: DriftOutcome): void {
    const report: DriftReport = {
      driftId: drift.driftId,
      app: t.app,
      ref: t.ref,
      type: drift.type,
      fields: drift.fields,
      changedBy: drift.changedBy,
      detectedAt: drift.detectedAt,
      ...(drift.changedAt === undefined
        ? {}
        : { changedAt: drift.changedAt, changedAtSource: drift.changedAtSource ?? 'watch-event' }),
      healed: outcome.healed,
      healedAt: outcome.healedAt,
      closedBy: outcome.healed ? (outcome.closedBy ?? 'heal') : '',
      ...(drift.fight && !outcome.healed ? { fight: drift.fight } : {}),
      message: outcome.message ?? drift.message,
      lastSyncTraceId: drift.lastSyncTraceId,
    };
    try {
      this.#reporter.drift(report);
    } catch (err) {
      // Reporters must not throw; if one does, the watcher keeps going.
      this.#log.error({ err: errorMessage(err) }, `reporting drift of ${refString(t.ref)} failed`);
    }
  }
}
