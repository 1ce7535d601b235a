import { Marks } from '../model.ts';
import { canonicalJson } from '../plan/index.ts';
import type { Verdict } from './compare.ts';
import type { DriftCounters } from './metrics.ts';
import type { OpenDrift, Tracked } from './registry.ts';
import type { DriftSender } from './reporting.ts';

/** Options of {@link Episodes}. */
export interface EpisodesOptions {
  newId: () => string;
  sender: DriftSender;
  counters: DriftCounters;
}

/**
 * Drift episodes: an object's drift from the check that found it until the
 * object is back in line with Git. Opens, updates and closes them on tracked
 * objects and reports each change once.
 */
export class Episodes {
  readonly #o: EpisodesOptions;

  constructor(options: EpisodesOptions) {
    this.#o = options;
  }

  /** The object is in line with Git: closes its open episode, if any. */
  inLine(t: Tracked, resourceVersion: string | undefined, now: number): void {
    t.verifiedRv = resourceVersion;
    if (!t.drift) return;
    this.#o.counters.driftsResolved++;
    this.#o.sender.send(t, t.drift, {
      healed: true,
      healedAt: now,
      message: 'back in line with Git',
    });
    t.drift = undefined;
  }

  /**
   * The object is out of line: opens an episode (a new one when the kind of
   * drift changed), or updates the open one; reports it when what is
   * reported changed. `syncTraceId` is the trace of the app's last sync.
   */
  outOfLine(
    t: Tracked,
    verdict: Exclude<Verdict, { kind: 'in-line' }>,
    now: number,
    syncTraceId: string,
  ): OpenDrift {
    t.verifiedRv = undefined;
    const type = verdict.kind;
    const fields = verdict.kind === 'modified' ? verdict.fields : [];
    const changedBy = verdict.kind === 'modified' ? verdict.changedBy : '';
    const annotated = verdict.kind === 'modified' ? verdict.live : verdict.last;
    const lastSyncTraceId = annotated?.metadata.annotations?.[Marks.traceId] ?? syncTraceId ?? '';
    if (!t.drift || t.drift.type !== type) {
      if (t.drift) this.#o.counters.driftsResolved++; // e.g. modified, then deleted: a new episode
      this.#o.counters.driftsDetected++;
      t.drift = {
        driftId: this.#o.newId(),
        type,
        fields,
        changedBy,
        detectedAt: now,
        message: '',
        lastSyncTraceId,
        reported: '',
      };
    } else {
      t.drift.fields = fields;
      if (changedBy) t.drift.changedBy = changedBy;
      t.drift.lastSyncTraceId = lastSyncTraceId;
    }
    const drift = t.drift;
    const shape = canonicalJson({ type, fields });
    if (drift.reported !== shape) {
      drift.reported = shape;
      this.#o.sender.send(t, drift, { healed: false, healedAt: 0 });
    }
    return drift;
  }
}
