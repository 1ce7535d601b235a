import { canonicalJson, formatDuration } from '@driftless/common';
import { writeTimeOf } from '../fields/index.ts';
import { Marks } from '../model.ts';
import type { DriftChangeSource, DriftClosure } from '../report/index.ts';
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

/** What people read when an episode closes, by how it closed. */
const CLOSED_MESSAGE: Record<Exclude<DriftClosure, ''>, string> = {
  heal: 'healed',
  sync: 'back in line with Git: closed by a sync',
  reverted: 'back in line with Git: changed back outside Driftless',
  'left-git': 'closed: the object is no longer in Git',
  'deleted-by-kubernetes':
    'closed: Kubernetes deleted the object by design (a finished run-once object)',
};

/** How the message of drift that a pause holds back from healing begins. */
export const HELD_PREFIX = 'not healed while paused: ';

/** The message of a fight, for the report and the log. */
export function fightMessage(drift: OpenDrift): string {
  const f = drift.fight;
  if (!f) return '';
  return `fighting with manager ${f.manager} over ${f.paths.join(', ')}: it re-writes them about every ${formatDuration(f.periodMs)}, so Driftless stopped healing them; let that controller own them (remove them from Git or add an ignoreDifferences rule), or stop it`;
}

/**
 * Drift episodes: an object's drift from the check that found it until it is
 * closed (healed, synced, changed back, or gone from Git). Opens, updates and
 * closes them on tracked objects and reports each change once.
 */
export class Episodes {
  readonly #o: EpisodesOptions;

  constructor(options: EpisodesOptions) {
    this.#o = options;
  }

  /** The object is in line with Git: closes its open episode, if any, and ends any fight. */
  inLine(t: Tracked, resourceVersion: string | undefined, now: number): void {
    t.verifiedRv = resourceVersion;
    t.fight = undefined;
    const by = t.closeHint === 'sync' ? 'sync' : 'reverted';
    t.closeHint = undefined;
    this.close(t, by, now);
  }

  /** Closes the open episode of `t`, if any, as closed `by`. */
  close(t: Tracked, by: Exclude<DriftClosure, '' | 'heal'>, now: number): void {
    if (!t.drift) return;
    this.#o.counters.driftsResolved++;
    this.#o.sender.send(t, t.drift, {
      healed: true,
      healedAt: now,
      closedBy: by,
      message: CLOSED_MESSAGE[by],
    });
    t.drift = undefined;
  }

  /**
   * The object is out of line: opens an episode (a new one when the kind of
   * drift changed), or updates the open one; reports it when what is
   * reported changed. `syncTraceId` is the trace of the app's last sync; `eventAt` when the
   * first watch event this check looked at arrived (undefined when none did); `held`, when set,
   * is why the drift is not healed (a pause), put in its message.
   */
  outOfLine(
    t: Tracked,
    verdict: Exclude<Verdict, { kind: 'in-line' }>,
    now: number,
    syncTraceId: string,
    eventAt?: number,
    held?: string,
  ): OpenDrift {
    t.verifiedRv = undefined;
    t.closeHint = undefined;
    const type = verdict.kind;
    const fields = verdict.kind === 'modified' ? [...verdict.fields, ...verdict.fought] : [];
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
        ...changeTime(verdict, changedBy, eventAt, now),
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
    this.markFight(t, drift);
    if (!drift.fight) {
      if (held) drift.message = held;
      else if (drift.message.startsWith(HELD_PREFIX)) drift.message = '';
    }
    this.report(t, drift);
    return drift;
  }

  /** Puts the fight of `t` (or its end) on its episode. */
  markFight(t: Tracked, drift: OpenDrift): void {
    const fight = t.fight && {
      manager: t.fight.manager,
      paths: t.fight.paths,
      periodMs: t.fight.periodMs,
    };
    if (canonicalJson(fight) === canonicalJson(drift.fight)) return;
    drift.fight = fight;
    drift.message = fight ? fightMessage(drift) : '';
  }

  /** Reports the open episode when what it says changed since it was last reported. */
  report(t: Tracked, drift: OpenDrift): void {
    const held = drift.message.startsWith(HELD_PREFIX) ? drift.message : '';
    const shape = canonicalJson({
      type: drift.type,
      fields: drift.fields,
      fight: drift.fight,
      held,
    });
    if (drift.reported === shape) return;
    drift.reported = shape;
    this.#o.sender.send(t, drift, { healed: false, healedAt: 0 });
  }
}

/**
 * When the change behind a new episode most likely happened: the changing manager's
 * managedFields time (whole seconds, written by the API server with the change) when it is no
 * later than the watch event that showed the change (a later one means clocks disagree, or the
 * manager wrote again since); else the watch event's arrival; else unknown (a drift found when
 * tracking began, before any event).
 */
export function changeTime(
  verdict: Exclude<Verdict, { kind: 'in-line' }>,
  changedBy: string,
  eventAt: number | undefined,
  now: number,
): { changedAt?: number; changedAtSource?: DriftChangeSource } {
  const written = verdict.kind === 'modified' ? writeTimeOf(verdict.live, changedBy) : 0;
  if (written > 0 && written <= (eventAt ?? now))
    return { changedAt: written, changedAtSource: 'managed-fields' };
  if (eventAt !== undefined) return { changedAt: eventAt, changedAtSource: 'watch-event' };
  return {};
}
