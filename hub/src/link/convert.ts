import {
  ChangeAction,
  ConfigState,
  DriftChangeTimeSource,
  DriftClosedBy,
  DriftType,
  HealthStatus,
  objectRefString,
  SyncMode,
  SyncOutcome,
  SyncStatus,
  type AppStatus,
  type ConfigStatus,
  type DriftReport,
  type ObjectChange,
  type ObjectRef,
  type ReportsDropped,
  type Suspension,
  SuspensionSource,
  type SyncResult,
} from '@driftless/proto';
import { InvalidArgumentError } from '../errors.ts';
import type {
  AgentSuspension,
  DriftTypeName,
  HealthName,
  ObjectRefRecord,
  Report,
  SyncModeName,
  SyncResultName,
  SyncStatusName,
} from '../store/index.ts';

/** Turns agent reports (wire form) into store records, checking what the store relies on. */

const SYNC_STATUS: Record<number, SyncStatusName> = {
  [SyncStatus.SYNC_STATUS_SYNCED]: 'synced',
  [SyncStatus.SYNC_STATUS_OUT_OF_SYNC]: 'out-of-sync',
  [SyncStatus.SYNC_STATUS_SYNCING]: 'syncing',
  [SyncStatus.SYNC_STATUS_FAILED]: 'failed',
};
const HEALTH: Record<number, HealthName> = {
  [HealthStatus.HEALTH_STATUS_HEALTHY]: 'healthy',
  [HealthStatus.HEALTH_STATUS_PROGRESSING]: 'progressing',
  [HealthStatus.HEALTH_STATUS_DEGRADED]: 'degraded',
  [HealthStatus.HEALTH_STATUS_MISSING]: 'missing',
  [HealthStatus.HEALTH_STATUS_UNKNOWN]: 'unknown',
};
const SYNC_MODE: Record<number, SyncModeName> = {
  [SyncMode.SYNC_MODE_AUTO]: 'auto',
  [SyncMode.SYNC_MODE_MANUAL]: 'manual',
  [SyncMode.SYNC_MODE_DRY_RUN]: 'dry-run',
};
const OUTCOME: Record<number, SyncResultName> = {
  [SyncOutcome.SYNC_OUTCOME_SUCCEEDED]: 'succeeded',
  [SyncOutcome.SYNC_OUTCOME_FAILED]: 'failed',
  [SyncOutcome.SYNC_OUTCOME_PLANNED]: 'planned',
  [SyncOutcome.SYNC_OUTCOME_WAITING_APPROVAL]: 'waiting-approval',
  [SyncOutcome.SYNC_OUTCOME_APPROVAL_STALE]: 'approval-stale',
  [SyncOutcome.SYNC_OUTCOME_SUSPENDED]: 'suspended',
};
const DRIFT: Record<number, DriftTypeName> = {
  [DriftType.DRIFT_TYPE_MODIFIED]: 'modified',
  [DriftType.DRIFT_TYPE_DELETED]: 'deleted',
};
/** How a drift closed, as stored; '' while open or from an agent that does not say. */
const CLOSED_BY: Record<number, string> = {
  [DriftClosedBy.DRIFT_CLOSED_BY_HEAL]: 'heal',
  [DriftClosedBy.DRIFT_CLOSED_BY_SYNC]: 'sync',
  [DriftClosedBy.DRIFT_CLOSED_BY_REVERTED]: 'reverted',
  [DriftClosedBy.DRIFT_CLOSED_BY_LEFT_GIT]: 'left-git',
  [DriftClosedBy.DRIFT_CLOSED_BY_DELETED_BY_KUBERNETES]: 'deleted-by-kubernetes',
};
const CHANGE_SOURCE: Record<number, 'managed-fields' | 'watch-event'> = {
  [DriftChangeTimeSource.DRIFT_CHANGE_TIME_SOURCE_MANAGED_FIELDS]: 'managed-fields',
  [DriftChangeTimeSource.DRIFT_CHANGE_TIME_SOURCE_WATCH_EVENT]: 'watch-event',
};
const ACTION: Record<number, string> = {
  [ChangeAction.CHANGE_ACTION_CREATE]: 'create',
  [ChangeAction.CHANGE_ACTION_UPDATE]: 'update',
  [ChangeAction.CHANGE_ACTION_DELETE]: 'delete',
  [ChangeAction.CHANGE_ACTION_UNCHANGED]: 'unchanged',
};

const ms = (v: bigint) => Number(v);

function required(value: string, field: string, what: string): string {
  if (!value) throw new InvalidArgumentError(`${what}: ${field} is empty`);
  if (value.length > 1024)
    throw new InvalidArgumentError(`${what}: ${field} is longer than 1024 characters`);
  return value;
}

function objectRef(ref: ObjectRef | undefined): ObjectRefRecord {
  return {
    group: ref?.group ?? '',
    version: ref?.version ?? '',
    kind: ref?.kind ?? '',
    namespace: ref?.namespace ?? '',
    name: ref?.name ?? '',
  };
}

/** A plan entry in the JSON form the API serves. */
function objectChange(c: ObjectChange): Record<string, unknown> {
  return {
    object: objectRef(c.object),
    action: ACTION[c.action] ?? 'unknown',
    wave: c.wave,
    diff: c.diff.map((d) => ({ path: d.path, before: d.beforeJson, after: d.afterJson })),
  };
}

/** ConfigStatus → store report; a state the hub does not know is refused, never guessed. */
export function configReport(c: ConfigStatus, what: string): Report {
  if (c.state !== ConfigState.CONFIG_STATE_VALID && c.state !== ConfigState.CONFIG_STATE_INVALID)
    throw new InvalidArgumentError(`${what}: config state ${c.state} is not VALID or INVALID`);
  return {
    kind: 'config',
    config: {
      revision: required(c.revision, 'revision', what),
      valid: c.state === ConfigState.CONFIG_STATE_VALID,
      error: c.error,
      file: c.file,
      line: c.line,
      appliedRevision: c.appliedRevision,
      checkedMs: ms(c.checkedUnixMs),
      apps: c.apps,
      suspensions: c.suspensions.map((s) => suspension(s, what)),
    },
  };
}

/** AppStatus → store report. */
export function appReport(a: AppStatus, what: string): Report {
  return {
    kind: 'app',
    app: {
      app: required(a.app, 'app', what),
      revision: a.revision,
      syncStatus: SYNC_STATUS[a.syncStatus] ?? 'unknown',
      syncMode: SYNC_MODE[a.syncMode] ?? 'unknown',
      health: HEALTH[a.health] ?? 'unknown',
      healthMessage: a.healthMessage,
      driftCount: a.driftCount,
      planDigest: a.planDigest,
      pendingPlan: a.pendingPlan.map(objectChange),
      message: a.message,
      lastSyncMs: ms(a.lastSyncUnixMs),
      suspension: a.suspension ? suspension(a.suspension, what) : null,
    },
  };
}

/** A pause the agent says it applies; one from neither the hub nor Git is refused. */
function suspension(s: Suspension, what: string): AgentSuspension {
  const source =
    s.source === SuspensionSource.SUSPENSION_SOURCE_HUB
      ? 'hub'
      : s.source === SuspensionSource.SUSPENSION_SOURCE_GIT
        ? 'git'
        : undefined;
  if (!source) throw new InvalidArgumentError(`${what}: suspension source ${s.source} is unknown`);
  return {
    id: required(s.suspensionId, 'suspension_id', what),
    app: s.app,
    untilMs: ms(s.untilUnixMs),
    reason: s.reason.slice(0, 1024),
    actor: s.actor.slice(0, 1024),
    sinceMs: ms(s.sinceUnixMs),
    source,
  };
}

/** SyncResult → store report; `traceId` is the fallback when the agent left trace_id empty. */
export function syncReport(s: SyncResult, traceId: string, what: string): Report {
  if (s.traceId && !/^[0-9a-f]{32}$/.test(s.traceId))
    throw new InvalidArgumentError(
      `${what}: trace_id "${s.traceId.slice(0, 40)}" is not 32 lower-case hex characters`,
    );
  return {
    kind: 'sync',
    sync: {
      syncId: required(s.syncId, 'sync_id', what),
      app: required(s.app, 'app', what),
      revision: s.revision,
      result: OUTCOME[s.result] ?? 'unknown',
      error: s.error,
      planDigest: s.planDigest,
      objects: s.objects.map(objectChange),
      steps: s.steps.map((st) => ({ name: st.name, durationMs: st.durationMs })),
      traceId: s.traceId || traceId,
      startedMs: ms(s.startedUnixMs),
      finishedMs: ms(s.finishedUnixMs),
      health: HEALTH[s.health] ?? 'unknown',
      retryable: s.retryable,
      approvalId: s.approvalId,
    },
  };
}

/** DriftReport → store report. */
export function driftReport(d: DriftReport, what: string): Report {
  if (!d.object) throw new InvalidArgumentError(`${what}: object is missing`);
  return {
    kind: 'drift',
    drift: {
      driftId: required(d.driftId, 'drift_id', what),
      app: required(d.app, 'app', what),
      object: objectRef(d.object),
      objectRef: objectRefString(d.object),
      type: DRIFT[d.type] ?? 'unknown',
      fields: d.fields.map((f) => ({
        path: f.path,
        desiredJson: f.desiredJson,
        liveJson: f.liveJson,
      })),
      changedBy: d.changedBy,
      detectedMs: ms(d.detectedUnixMs),
      changedMs: ms(d.changedUnixMs ?? 0n),
      changedSource:
        (d.changedUnixMs ?? 0n) > 0n ? (CHANGE_SOURCE[d.changedAtSource ?? 0] ?? '') : '',
      healed: d.healed,
      healedMs: ms(d.healedUnixMs),
      message: d.message,
      lastSyncTraceId: d.lastSyncTraceId,
      closedBy: d.healed ? (CLOSED_BY[d.closedBy ?? 0] ?? '') : '',
      fight:
        d.fight && !d.healed
          ? { manager: d.fight.manager, paths: d.fight.paths, periodMs: d.fight.periodMs }
          : null,
    },
  };
}

/** ReportsDropped → store report. */
export function gapReport(g: ReportsDropped): Report {
  return {
    kind: 'gap',
    gap: {
      firstSeq: Number(g.firstSeq),
      lastSeq: Number(g.lastSeq),
      count: Number(g.count),
      summary: g.summary,
    },
  };
}
