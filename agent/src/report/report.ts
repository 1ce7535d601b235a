import type { Logger } from '@driftless/common';
import { refString, type ObjectRef, type SyncMode } from '../model.ts';
import type { Action, FieldDiff } from '../plan/index.ts';
import type { Suspension } from '../suspend/index.ts';

/** Whether the cluster matches Git for an app. */
export type SyncStatus = 'Synced' | 'OutOfSync' | 'Syncing' | 'Failed' | 'Unknown';

/** Aggregated health of an app or an object. */
export type HealthState = 'Healthy' | 'Progressing' | 'Degraded' | 'Missing' | 'Unknown';

/** One object's change in a sync or a pending plan. */
export interface ObjectChange {
  ref: ObjectRef;
  action: Action;
  diff: FieldDiff[];
  wave: number;
  /** Set when this object failed. */
  error?: string;
}

/** The current state of one app, sent whenever it changes. */
export interface AppStatusReport {
  app: string;
  mode: SyncMode;
  revision: string;
  syncStatus: SyncStatus;
  health: HealthState;
  healthMessage: string;
  driftCount: number;
  /** Digest of the plan that would bring the cluster to `revision`. */
  planDigest: string;
  /** For manual and dry-run apps: what a sync would change. */
  pendingPlan: ObjectChange[];
  message: string;
  lastSyncAt: number;
  /** The pause in force for the app (its own or its cluster's); absent when none. */
  suspension?: Suspension;
}

/** How a sync ended. */
export type SyncOutcome =
  'succeeded' | 'failed' | 'planned' | 'waiting-approval' | 'approval-stale' | 'suspended';

/** One sync of one app at one revision. */
export interface SyncReport {
  syncId: string;
  app: string;
  revision: string;
  outcome: SyncOutcome;
  error: string;
  /** True when a failure may pass on retry (network, conflicts). */
  retryable: boolean;
  planDigest: string;
  objects: ObjectChange[];
  /** Step name → duration, in the order the steps ran. */
  steps: { name: string; durationMs: number }[];
  traceId: string;
  /**
   * Span id of the sync's root span ('' when unknown), so a report sent to the
   * hub carries the sync's W3C context and the hub's spans join its trace.
   */
  spanId?: string;
  startedAt: number;
  finishedAt: number;
  health: HealthState;
  approvalId: string;
  /**
   * Set when nothing was planned or applied: the app's sources did not change since this
   * revision, whose sync the cluster still holds, so the app was carried to `revision` (see
   * reconcile/carry.ts). Such a report has no objects and the one step `carry`, and makes no
   * Event. Agent-side only; the hub tells it by that step.
   */
  carriedFrom?: string;
  /**
   * What a person should know of a sync that did not do all Git asks, though nothing failed
   * (objects not pruned while another app does not render); shown in the app's status message.
   * Agent-side only.
   */
  notes?: string[];
}

/**
 * Whether the cluster's `driftless.yaml` at the newest commit could be used.
 * Sent whenever that changes; while it is invalid the agent keeps running the
 * last good config (`appliedRevision`) and syncs no app at the broken commit.
 */
export interface ConfigStatusReport {
  /** The commit whose `driftless.yaml` was read. */
  revision: string;
  valid: boolean;
  /** Every problem, one `file:line:col: path: message` per line; '' when valid. */
  error: string;
  /** The file read, e.g. `clusters/dev/driftless.yaml`. */
  file: string;
  /** 1-based line of the first problem; 0 when valid or unknown. */
  line: number;
  /** The commit of the config in force now; '' when there is none. */
  appliedRevision: string;
  /** When the file was read, ms since the epoch. */
  checkedAt: number;
  /** When valid, the names of the apps the file lists (the hub marks the others gone). */
  apps?: string[];
  /** Every pause the agent holds now (hub's and Git's); re-sent whenever it changes. */
  suspensions?: Suspension[];
}

/** A field that differs from Git. */
export interface FieldDrift {
  path: string;
  desired: unknown;
  live: unknown;
}

/** A managed object that no longer matches Git. */
export interface DriftReport {
  driftId: string;
  app: string;
  ref: ObjectRef;
  type: 'modified' | 'deleted';
  fields: FieldDrift[];
  /** The managedFields manager that last wrote the drifted fields ('' when unknown). */
  changedBy: string;
  detectedAt: number;
  /**
   * When the live change most likely happened (ms since the epoch), for time-to-detect;
   * `changedAtSource` says how it is known. Absent when unknown.
   */
  changedAt?: number;
  /**
   * `managed-fields`: the changing manager's managedFields time (whole seconds, API server's
   * clock); `watch-event`: when the agent received the event that showed the change.
   */
  changedAtSource?: DriftChangeSource;
  /**
   * True once the drift is closed: the object is back in line with Git (or no
   * longer in Git); `closedBy` says how. Only `closedBy: 'heal'` means the
   * agent's heal wrote it. (The name is kept from the wire contract.)
   */
  healed: boolean;
  /** When it was closed; 0 while open. */
  healedAt: number;
  /** How the drift was closed; absent or '' while open. */
  closedBy?: DriftClosure;
  /**
   * Set while another field manager keeps re-writing fields Git declares on a
   * steady rhythm: the agent stopped healing those fields. Never green.
   */
  fight?: DriftFight;
  /** e.g. why healing stopped ("another controller keeps reverting .spec.replicas"). */
  message: string;
  /** Trace id of the sync that last wrote the object (from its annotation). */
  lastSyncTraceId: string;
}

/** Where a drift's {@link DriftReport.changedAt} comes from. */
export type DriftChangeSource = 'managed-fields' | 'watch-event';

/**
 * How a drift was closed: `heal` (the agent's heal), `sync` (a sync or a
 * manual sync wrote Git's state, or a new commit made Git agree with the
 * cluster), `reverted` (someone else put Git's value back), `left-git` (the
 * object or its app was removed from Git), `deleted-by-kubernetes` (an
 * object Kubernetes deletes by design, e.g. a finished Job with a TTL).
 */
export type DriftClosure = '' | 'heal' | 'sync' | 'reverted' | 'left-git' | 'deleted-by-kubernetes';

/** A fight over fields with another controller (see {@link DriftReport.fight}). */
export interface DriftFight {
  /** The field manager that keeps re-writing the fields. */
  manager: string;
  /** The fields, as drift paths (`.spec.replicas`). */
  paths: string[];
  /** About how often it re-writes them, in ms. */
  periodMs: number;
}

/**
 * Where the agent sends what happens. The hub link implements it; until then
 * {@link LogReporter} writes structured logs. Calls must not throw or block:
 * implementations buffer.
 */
export interface Reporter {
  appStatus(report: AppStatusReport): void;
  syncResult(report: SyncReport): void;
  drift(report: DriftReport): void;
  /** The cluster config's state; optional so reporters that do not care need not implement it. */
  configStatus?(report: ConfigStatusReport): void;
}

/** A person's approval of one plan of one app. */
export interface Approval {
  approvalId: string;
  app: string;
  revision: string;
  planDigest: string;
  approvedBy: string;
}

/** Where approvals for manual apps come from (the hub, or a test). */
export interface ApprovalSource {
  /** The latest approval for `app`, whatever its revision and digest. */
  latest(app: string): Approval | undefined;
}

/** An in-memory approval book; `add` also wakes the agent so it syncs at once. */
export class ApprovalBook implements ApprovalSource {
  readonly #byApp = new Map<string, Approval>();
  readonly #listeners = new Set<(a: Approval) => void>();

  /** Records an approval, replacing any earlier one of the app. */
  add(approval: Approval): void {
    this.#byApp.set(approval.app, approval);
    for (const l of this.#listeners) l(approval);
  }

  latest(app: string): Approval | undefined {
    return this.#byApp.get(app);
  }

  /** Calls `listener` on every new approval; returns an unsubscribe function. */
  onApproval(listener: (a: Approval) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** Writes every report as a structured log line. */
export class LogReporter implements Reporter {
  readonly #log: Logger;
  constructor(log: Logger) {
    this.#log = log;
  }
  appStatus(r: AppStatusReport): void {
    this.#log.info(
      {
        app: r.app,
        revision: r.revision,
        sync: r.syncStatus,
        health: r.health,
        drift: r.driftCount,
        digest: r.planDigest,
      },
      `app ${r.app}: ${r.syncStatus}, ${r.health}${r.message ? ` (${r.message})` : ''}`,
    );
  }
  syncResult(r: SyncReport): void {
    const counts = r.objects.reduce<Record<string, number>>(
      (c, o) => ((c[o.action] = (c[o.action] ?? 0) + 1), c),
      {},
    );
    if (r.carriedFrom) {
      // No sync ran: say so, not "sync … succeeded".
      this.#log.info(
        { app: r.app, revision: r.revision, carried_from: r.carriedFrom },
        `carry ${r.app}@${r.revision.slice(0, 7)}: sources unchanged since ${r.carriedFrom.slice(0, 7)}, nothing planned or applied`,
      );
      return;
    }
    // As the app's status and its Event say it: the health a sync left, what it left undone.
    const succeeded = r.outcome === 'succeeded';
    const unhealthy = succeeded && (r.health === 'Degraded' || r.health === 'Missing');
    const level = r.outcome === 'failed' ? 'error' : unhealthy ? 'warn' : 'info';
    const notes = r.notes?.length ? `; ${r.notes.join('; ')}` : '';
    this.#log[level](
      {
        app: r.app,
        revision: r.revision,
        outcome: r.outcome,
        counts,
        steps: r.steps,
        trace_id: r.traceId,
        error: r.error || undefined,
        health: succeeded ? r.health : undefined,
        notes: r.notes?.length ? r.notes : undefined,
      },
      `sync ${r.app}@${r.revision.slice(0, 7)}: ${r.outcome}${succeeded ? `, health ${r.health}` : ''}${r.error ? `: ${r.error}` : ''}${notes}`,
    );
  }
  configStatus(r: ConfigStatusReport): void {
    const at = r.revision.slice(0, 7);
    if (r.valid) this.#log.info({ revision: r.revision }, `${r.file} at ${at} is valid`);
    else
      this.#log.error(
        { revision: r.revision, file: r.file, line: r.line, applied: r.appliedRevision },
        `${r.file} at ${at} is invalid, ${r.appliedRevision ? `running the config of ${r.appliedRevision.slice(0, 7)}` : 'no app is synced'}: ${r.error}`,
      );
  }
  drift(r: DriftReport): void {
    this.#log.warn(
      {
        app: r.app,
        object: refString(r.ref),
        type: r.type,
        fields: r.fields,
        changed_by: r.changedBy,
        healed: r.healed,
        closedBy: r.closedBy,
      },
      `drift in ${refString(r.ref)} (${r.type}${r.changedBy ? ` by ${r.changedBy}` : ''})${r.healed ? (r.closedBy === 'heal' ? ': healed' : `: closed (${r.closedBy})`) : r.fight ? ': fight' : ''}${r.message ? `: ${r.message}` : ''}`,
    );
  }
}

/** Sends every report to each of several reporters. */
export class FanoutReporter implements Reporter {
  readonly #targets: Reporter[];
  constructor(...targets: Reporter[]) {
    this.#targets = targets;
  }
  appStatus(r: AppStatusReport): void {
    for (const t of this.#targets) t.appStatus(r);
  }
  syncResult(r: SyncReport): void {
    for (const t of this.#targets) t.syncResult(r);
  }
  drift(r: DriftReport): void {
    for (const t of this.#targets) t.drift(r);
  }
  configStatus(r: ConfigStatusReport): void {
    for (const t of this.#targets) t.configStatus?.(r);
  }
}
