import {
  ChangeAction,
  ConfigState,
  DriftChangeTimeSource,
  DriftClosedBy,
  DriftType,
  HealthStatus,
  SyncMode,
  SyncOutcome,
  SyncStatus,
  toUnixMs,
  type AppStatus,
  type ConfigStatus,
  type DriftReport as DriftReportMessage,
  type ObjectChange as ObjectChangeMessage,
  type ObjectRef as ObjectRefMessage,
  type Suspension as SuspensionMessage,
  SuspensionSource,
  type SyncResult,
} from '@driftless/proto';
import type { Suspension } from '../suspend/index.ts';
import { groupOf, type ObjectRef, type SyncMode as AppSyncMode } from '../model.ts';
import {
  redactValue,
  type AppStatusReport,
  type ConfigStatusReport,
  type DriftChangeSource,
  type DriftClosure,
  type DriftReport,
  type HealthState,
  type ObjectChange,
  type SyncReport,
  type SyncOutcome as AgentSyncOutcome,
  type SyncStatus as AgentSyncStatus,
} from '../report/index.ts';

// The agent's report types (report/) are the engine's vocabulary; these functions put them in
// the contract's wire form. Unknown values map to the contract's UNSPECIFIED, never a guess.

const SYNC_STATUS: Record<AgentSyncStatus, SyncStatus> = {
  Synced: SyncStatus.SYNC_STATUS_SYNCED,
  OutOfSync: SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
  Syncing: SyncStatus.SYNC_STATUS_SYNCING,
  Failed: SyncStatus.SYNC_STATUS_FAILED,
  Unknown: SyncStatus.SYNC_STATUS_UNSPECIFIED,
};
const HEALTH: Record<HealthState, HealthStatus> = {
  Healthy: HealthStatus.HEALTH_STATUS_HEALTHY,
  Progressing: HealthStatus.HEALTH_STATUS_PROGRESSING,
  Degraded: HealthStatus.HEALTH_STATUS_DEGRADED,
  Missing: HealthStatus.HEALTH_STATUS_MISSING,
  Unknown: HealthStatus.HEALTH_STATUS_UNKNOWN,
};
const MODE: Record<AppSyncMode, SyncMode> = {
  auto: SyncMode.SYNC_MODE_AUTO,
  manual: SyncMode.SYNC_MODE_MANUAL,
  'dry-run': SyncMode.SYNC_MODE_DRY_RUN,
};
const OUTCOME: Record<AgentSyncOutcome, SyncOutcome> = {
  succeeded: SyncOutcome.SYNC_OUTCOME_SUCCEEDED,
  failed: SyncOutcome.SYNC_OUTCOME_FAILED,
  planned: SyncOutcome.SYNC_OUTCOME_PLANNED,
  'waiting-approval': SyncOutcome.SYNC_OUTCOME_WAITING_APPROVAL,
  'approval-stale': SyncOutcome.SYNC_OUTCOME_APPROVAL_STALE,
  suspended: SyncOutcome.SYNC_OUTCOME_SUSPENDED,
};
const ACTION: Record<ObjectChange['action'], ChangeAction> = {
  create: ChangeAction.CHANGE_ACTION_CREATE,
  update: ChangeAction.CHANGE_ACTION_UPDATE,
  delete: ChangeAction.CHANGE_ACTION_DELETE,
  unchanged: ChangeAction.CHANGE_ACTION_UNCHANGED,
};

/** JSON text of a value for the wire; '' for an absent one (an added or removed field). */
function json(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value);
}

/** An agent object reference in the contract's form (group and version apart). */
export function toObjectRef(ref: ObjectRef): ObjectRefMessage {
  const group = groupOf(ref.apiVersion);
  return {
    group,
    version: group === '' ? ref.apiVersion : ref.apiVersion.slice(group.length + 1),
    kind: ref.kind,
    namespace: ref.namespace,
    name: ref.name,
  };
}

function toObjectChange(c: ObjectChange): ObjectChangeMessage {
  return {
    object: toObjectRef(c.ref),
    action: ACTION[c.action] ?? ChangeAction.CHANGE_ACTION_UNSPECIFIED,
    // Secret values never leave the agent (see report/redact.ts).
    diff: c.diff.map((d) => ({
      path: d.path,
      beforeJson: json(redactValue(c.ref, d.path, d.before)),
      afterJson: json(redactValue(c.ref, d.path, d.after)),
    })),
    wave: c.wave,
  };
}

/** AppStatusReport → AppStatus. */
export function toAppStatus(r: AppStatusReport): AppStatus {
  return {
    app: r.app,
    revision: r.revision,
    syncStatus: SYNC_STATUS[r.syncStatus] ?? SyncStatus.SYNC_STATUS_UNSPECIFIED,
    health: HEALTH[r.health] ?? HealthStatus.HEALTH_STATUS_UNSPECIFIED,
    healthMessage: r.healthMessage,
    driftCount: r.driftCount,
    planDigest: r.planDigest,
    pendingPlan: r.pendingPlan.map(toObjectChange),
    message: r.message,
    lastSyncUnixMs: r.lastSyncAt > 0 ? toUnixMs(r.lastSyncAt) : 0n,
    syncMode: MODE[r.mode] ?? SyncMode.SYNC_MODE_UNSPECIFIED,
    suspension: r.suspension && toSuspension(r.suspension),
  };
}

/** A pause in the contract's form. */
export function toSuspension(s: Suspension): SuspensionMessage {
  return {
    app: s.app,
    untilUnixMs: s.untilMs > 0 ? toUnixMs(s.untilMs) : 0n,
    reason: s.reason,
    actor: s.actor,
    sinceUnixMs: toUnixMs(s.sinceMs),
    source:
      s.source === 'git'
        ? SuspensionSource.SUSPENSION_SOURCE_GIT
        : SuspensionSource.SUSPENSION_SOURCE_HUB,
    suspensionId: s.id,
  };
}

/**
 * The hub's pauses from a Suspensions message; entries that are not hub pauses with an end are
 * dropped (the hub never pauses without one).
 */
export function fromHubSuspensions(items: readonly SuspensionMessage[]): Suspension[] {
  return items
    .filter((s) => s.untilUnixMs > 0n && s.suspensionId !== '')
    .map((s) => ({
      id: s.suspensionId,
      app: s.app,
      untilMs: Number(s.untilUnixMs),
      reason: s.reason,
      actor: s.actor,
      sinceMs: Number(s.sinceUnixMs),
      source: 'hub' as const,
    }));
}

/** ConfigStatusReport → ConfigStatus. */
export function toConfigStatus(r: ConfigStatusReport): ConfigStatus {
  return {
    revision: r.revision,
    state: r.valid ? ConfigState.CONFIG_STATE_VALID : ConfigState.CONFIG_STATE_INVALID,
    error: r.error,
    file: r.file,
    line: r.line,
    appliedRevision: r.appliedRevision,
    checkedUnixMs: toUnixMs(r.checkedAt),
    apps: r.valid ? (r.apps ?? []) : [],
    suspensions: (r.suspensions ?? []).map(toSuspension),
  };
}

/** SyncReport → SyncResult. */
export function toSyncResult(r: SyncReport): SyncResult {
  return {
    syncId: r.syncId,
    app: r.app,
    revision: r.revision,
    result: OUTCOME[r.outcome] ?? SyncOutcome.SYNC_OUTCOME_UNSPECIFIED,
    error: r.error,
    planDigest: r.planDigest,
    objects: r.objects.map(toObjectChange),
    // uint32 on the wire: a clock step backwards must not make a negative duration.
    steps: r.steps.map((s) => ({
      name: s.name,
      durationMs: Math.max(0, Math.round(s.durationMs)),
    })),
    traceId: r.traceId,
    startedUnixMs: toUnixMs(r.startedAt),
    finishedUnixMs: toUnixMs(r.finishedAt),
    health: HEALTH[r.health] ?? HealthStatus.HEALTH_STATUS_UNSPECIFIED,
    retryable: r.retryable,
    approvalId: r.approvalId,
  };
}

/** DriftReport (agent) → DriftReport (wire). */
export function toDriftReport(r: DriftReport): DriftReportMessage {
  return {
    driftId: r.driftId,
    app: r.app,
    object: toObjectRef(r.ref),
    type: r.type === 'deleted' ? DriftType.DRIFT_TYPE_DELETED : DriftType.DRIFT_TYPE_MODIFIED,
    fields: r.fields.map((f) => ({
      path: f.path,
      desiredJson: json(redactValue(r.ref, f.path, f.desired)),
      liveJson: json(redactValue(r.ref, f.path, f.live)),
    })),
    changedBy: r.changedBy,
    detectedUnixMs: r.detectedAt > 0 ? toUnixMs(r.detectedAt) : 0n,
    ...(r.changedAt && r.changedAt > 0
      ? {
          changedUnixMs: toUnixMs(r.changedAt),
          changedAtSource: CHANGE_SOURCE[r.changedAtSource ?? 'watch-event'],
        }
      : {}),
    healed: r.healed,
    healedUnixMs: r.healedAt > 0 ? toUnixMs(r.healedAt) : 0n,
    message: r.message,
    lastSyncTraceId: r.lastSyncTraceId,
    closedBy: CLOSED_BY[r.closedBy ?? ''],
    ...(r.fight
      ? {
          fight: {
            manager: r.fight.manager,
            paths: r.fight.paths,
            periodMs: Math.max(0, Math.round(r.fight.periodMs)),
          },
        }
      : {}),
  };
}

const CHANGE_SOURCE: Record<DriftChangeSource, DriftChangeTimeSource> = {
  'managed-fields': DriftChangeTimeSource.DRIFT_CHANGE_TIME_SOURCE_MANAGED_FIELDS,
  'watch-event': DriftChangeTimeSource.DRIFT_CHANGE_TIME_SOURCE_WATCH_EVENT,
};

const CLOSED_BY: Record<DriftClosure, DriftClosedBy> = {
  '': DriftClosedBy.DRIFT_CLOSED_BY_UNSPECIFIED,
  heal: DriftClosedBy.DRIFT_CLOSED_BY_HEAL,
  sync: DriftClosedBy.DRIFT_CLOSED_BY_SYNC,
  reverted: DriftClosedBy.DRIFT_CLOSED_BY_REVERTED,
  'left-git': DriftClosedBy.DRIFT_CLOSED_BY_LEFT_GIT,
  'deleted-by-kubernetes': DriftClosedBy.DRIFT_CLOSED_BY_DELETED_BY_KUBERNETES,
};
