import type {
  AgentSuspension,
  ApiTokenRecord,
  AppRecord,
  ApprovalRecord,
  AuditRecord,
  ClusterRecord,
  ConfigStateRecord,
  DriftRecord,
  EnrollmentTokenRecord,
  SyncRecord,
} from '../store/index.ts';
import type { ApprovalState } from './approval-state.ts';

/** JSON views of store records as the API serves them: ISO times, no hashes. */

/** ISO-8601 time, or null for "never" (0). */
export const iso = (ms: number): string | null => (ms ? new Date(ms).toISOString() : null);

/** A JSON value sent as text by the agent, parsed for display; the text itself when not JSON. */
function jsonValue(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A pause as the agent applies it. */
export const suspensionView = (s: AgentSuspension) => ({
  id: s.id,
  app: s.app,
  source: s.source,
  reason: s.reason,
  actor: s.actor,
  since: iso(s.sinceMs),
  until: iso(s.untilMs),
});

/** A cluster. */
export const clusterView = (c: ClusterRecord) => ({
  name: c.name,
  labels: c.labels,
  agentVersion: c.agentVersion,
  connected: c.connected,
  lastSeen: iso(c.lastSeenMs),
  enrolledAt: iso(c.enrolledMs),
  revoked: c.revokedMs !== 0,
  revokedAt: iso(c.revokedMs),
  enrollmentBlocked: c.enrollmentBlocked,
  lastAgentSeq: c.lastAgentSeq,
  repoUrl: c.repoUrl,
  branch: c.branch,
});

/**
 * The state of a cluster's driftless.yaml: `failed` while the newest commit's
 * file is invalid (the agent then runs `appliedRevision`'s config), `unknown`
 * before the agent reported one.
 */
export const configView = (c: ConfigStateRecord | undefined) =>
  c
    ? {
        state: c.valid ? ('valid' as const) : ('failed' as const),
        revision: c.revision,
        appliedRevision: c.appliedRevision,
        error: c.error,
        file: c.file,
        line: c.line,
        checkedAt: iso(c.checkedMs),
        suspensions: c.suspensions.map(suspensionView),
      }
    : {
        state: 'unknown' as const,
        revision: '',
        appliedRevision: '',
        error: '',
        file: '',
        line: 0,
        checkedAt: null,
        suspensions: [],
      };

/** An app of a cluster. */
export const appView = (a: AppRecord) => ({
  cluster: a.cluster,
  app: a.app,
  revision: a.revision,
  syncStatus: a.syncStatus,
  syncMode: a.syncMode,
  health: a.health,
  healthMessage: a.healthMessage,
  driftCount: a.driftCount,
  planDigest: a.planDigest,
  pendingPlan: a.pendingPlan,
  message: a.message,
  lastSync: iso(a.lastSyncMs),
  updatedAt: iso(a.updatedMs),
  gone: a.gone,
  suspension: a.suspension ? suspensionView(a.suspension) : null,
});

/** A drift record. */
export const driftView = (d: DriftRecord) => ({
  cluster: d.cluster,
  driftId: d.driftId,
  app: d.app,
  object: d.object,
  objectRef: d.objectRef,
  type: d.type,
  fields: d.fields.map((f) => ({
    path: f.path,
    desired: jsonValue(f.desiredJson),
    live: jsonValue(f.liveJson),
  })),
  changedBy: d.changedBy,
  detectedAt: iso(d.detectedMs),
  healed: d.healed,
  healedAt: iso(d.healedMs),
  closedBy: d.closedBy ?? '',
  fight: d.fight ?? null,
  message: d.message,
  lastSyncTraceId: d.lastSyncTraceId,
});

/** A sync history entry. */
export const syncView = (s: SyncRecord) => ({
  cluster: s.cluster,
  syncId: s.syncId,
  app: s.app,
  revision: s.revision,
  result: s.result,
  error: s.error,
  planDigest: s.planDigest,
  objects: s.objects,
  steps: s.steps,
  traceId: s.traceId,
  startedAt: iso(s.startedMs),
  finishedAt: iso(s.finishedMs),
  durationMs: Math.max(0, s.finishedMs - s.startedMs),
  health: s.health,
  retryable: s.retryable,
  approvalId: s.approvalId,
});

const enrollmentTokenState = (
  t: EnrollmentTokenRecord,
  nowMs: number,
): 'revoked' | 'used' | 'expired' | 'active' => {
  if (t.revokedMs !== 0) return 'revoked';
  if (t.uses >= t.maxUses) return 'used';
  return t.expiresMs <= nowMs ? 'expired' : 'active';
};

/** An enrollment token (never its secret or hash). */
export const enrollmentTokenView = (t: EnrollmentTokenRecord, nowMs: number) => ({
  id: t.id,
  cluster: t.cluster,
  labels: t.labels,
  createdAt: iso(t.createdMs),
  createdBy: t.createdBy,
  expiresAt: iso(t.expiresMs),
  maxUses: t.maxUses,
  uses: t.uses,
  lastUsedAt: iso(t.lastUsedMs),
  revokedAt: iso(t.revokedMs),
  state: enrollmentTokenState(t, nowMs),
});

const apiTokenState = (t: ApiTokenRecord): 'revoked' | 'active' =>
  t.revokedMs !== 0 ? 'revoked' : 'active';

/** An API token (never its secret or hash). */
export const apiTokenView = (t: ApiTokenRecord) => ({
  id: t.id,
  name: t.name,
  role: t.role,
  createdAt: iso(t.createdMs),
  createdBy: t.createdBy,
  revokedAt: iso(t.revokedMs),
  state: apiTokenState(t),
});

/** An approval, with what became of it (see approval-state.ts). */
export const approvalView = (
  a: ApprovalRecord,
  outcome: { state: ApprovalState; stateReason: string },
) => ({
  id: a.id,
  cluster: a.cluster,
  app: a.app,
  revision: a.revision,
  planDigest: a.planDigest,
  approvedBy: a.approvedBy,
  approvedAt: iso(a.approvedMs),
  deliveredAt: iso(a.deliveredMs),
  acked: a.acked,
  state: outcome.state,
  stateReason: outcome.stateReason,
});

/** An audit log entry. */
export const auditView = (a: AuditRecord) => ({
  id: a.id,
  at: iso(a.atMs),
  actor: a.actor,
  action: a.action,
  target: a.target,
  details: a.details,
});
