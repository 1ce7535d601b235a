/**
 * The fleet state as the store keeps it. These are the hub's own shapes, not
 * the wire contract: the link converts agent messages into them, the API
 * turns them into JSON.
 */

/** Cluster labels, e.g. `{ env: 'prod', region: 'eu' }`. */
export type Labels = Record<string, string>;

/** An enrolled cluster. */
export interface ClusterRecord {
  name: string;
  labels: Labels;
  agentVersion: string;
  /** Whether an agent stream is open right now (on some hub replica). */
  connected: boolean;
  /** Last message from the agent, ms since the epoch; 0 if never. */
  lastSeenMs: number;
  enrolledMs: number;
  /** When a person revoked the cluster; 0 when it is not revoked. */
  revokedMs: number;
  /** Highest agent seq stored; what the hub acks. */
  lastAgentSeq: number;
  /** Last hub seq handed out to this cluster. */
  hubSeq: number;
  /** Highest hub seq the agent has acked. */
  ackedHubSeq: number;
  /** Repository URL the agent follows, from its last Hello (credentials stripped); '' if unknown. */
  repoUrl: string;
  /** Branch the agent follows, from its last Hello; '' for the repository's default branch. */
  branch: string;
  /** Revoked, and new enrollment of the name is refused until an administrator allows it. */
  enrollmentBlocked: boolean;
}

/** Sync status of an app, from the agent's AppStatus. */
export type SyncStatusName = 'unknown' | 'synced' | 'out-of-sync' | 'syncing' | 'failed';
/** Health of an app or object. */
export type HealthName = 'unknown' | 'healthy' | 'progressing' | 'degraded' | 'missing';
/** How an app syncs (its `sync:` setting). */
export type SyncModeName = 'unknown' | 'auto' | 'manual' | 'dry-run';
/** How a sync attempt ended. */
export type SyncResultName =
  | 'unknown'
  | 'succeeded'
  | 'failed'
  | 'planned'
  | 'waiting-approval'
  | 'approval-stale'
  | 'suspended';
/** How a live object departed from Git. */
export type DriftTypeName = 'unknown' | 'modified' | 'deleted';

/** A Kubernetes object reference. */
export interface ObjectRefRecord {
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
}

/** The latest state of one app of one cluster. */
export interface AppRecord {
  cluster: string;
  app: string;
  revision: string;
  syncStatus: SyncStatusName;
  syncMode: SyncModeName;
  health: HealthName;
  healthMessage: string;
  driftCount: number;
  planDigest: string;
  /** The plan a manual or dry-run app waits on, as the agent sent it. */
  pendingPlan: unknown[];
  message: string;
  lastSyncMs: number;
  updatedMs: number;
  /** True when the cluster's driftless.yaml no longer lists the app. */
  gone: boolean;
  /** The pause the agent says is in force for the app (its own or the cluster's); null if none. */
  suspension: AgentSuspension | null;
}

/**
 * A pause as an agent reports it applies it: from the hub (time-limited) or from Git
 * (`suspend: true`, untilMs 0). The hub shows these, not what it asked for.
 */
export interface AgentSuspension {
  id: string;
  /** '' for the whole cluster. */
  app: string;
  /** When it ends, ms since the epoch; 0 for a pause from Git. */
  untilMs: number;
  reason: string;
  actor: string;
  sinceMs: number;
  source: 'hub' | 'git';
}

/** A pause asked for on the hub (`driftless suspend`), as stored. */
export interface SuspensionRecord {
  /** `su_<uuid>`. */
  id: string;
  cluster: string;
  /** '' for every app of the cluster. */
  app: string;
  reason: string;
  /** Who paused it (API token name and id). */
  actor: string;
  sinceMs: number;
  /** When it ends by itself, ms since the epoch. */
  untilMs: number;
  /** When a person ended it early (or a newer pause of the scope replaced it); 0 if not. */
  endedMs: number;
  endedBy: string;
}

/** One Git-declared field whose live value differs. Values are JSON text as sent. */
export interface FieldDriftRecord {
  path: string;
  desiredJson: string;
  liveJson: string;
}

/** One drift occurrence, upserted by (cluster, driftId) as it is detected and healed. */
export interface DriftRecord {
  cluster: string;
  driftId: string;
  app: string;
  object: ObjectRefRecord;
  /** `apps/v1 Deployment podinfo/web`. */
  objectRef: string;
  type: DriftTypeName;
  fields: FieldDriftRecord[];
  changedBy: string;
  detectedMs: number;
  /** When the live change most likely happened (for time to detect); 0 when unknown. */
  changedMs?: number;
  /** Where `changedMs` comes from: `managed-fields`, `watch-event`, or '' when unknown. */
  changedSource?: '' | 'managed-fields' | 'watch-event';
  /** The drift is closed (the name predates `closedBy`). */
  healed: boolean;
  healedMs: number;
  message: string;
  lastSyncTraceId: string;
  updatedMs: number;
  /** How it closed: heal, sync, reverted, left-git, deleted-by-kubernetes; '' while open or unknown. */
  closedBy?: string;
  /** Another controller keeps re-writing these fields: a fight, shown as such, never green. */
  fight?: { manager: string; paths: string[]; periodMs: number } | null;
  /** Some report of this episode named a fight (it stays set after the fight ended). */
  fought?: boolean;
}

/** Time one sync step took. */
export interface StepRecord {
  name: string;
  durationMs: number;
}

/** One finished sync attempt. */
export interface SyncRecord {
  cluster: string;
  syncId: string;
  app: string;
  revision: string;
  result: SyncResultName;
  error: string;
  planDigest: string;
  objects: unknown[];
  steps: StepRecord[];
  traceId: string;
  startedMs: number;
  finishedMs: number;
  health: HealthName;
  retryable: boolean;
  approvalId: string;
  receivedMs: number;
}

/** Reports the agent had to drop while the hub was unreachable. */
export interface GapRecord {
  cluster: string;
  firstSeq: number;
  lastSeq: number;
  count: number;
  summary: string;
  receivedMs: number;
}

/** The newest state of a cluster's driftless.yaml, from the agent's ConfigStatus. */
export interface ConfigStateRecord {
  cluster: string;
  /** The commit whose driftless.yaml was read. */
  revision: string;
  valid: boolean;
  /** Every problem, `file:line:col: path: message` per line; '' when valid. */
  error: string;
  file: string;
  /** Line of the first problem; 0 when valid or unknown. */
  line: number;
  /** The commit of the config the agent runs (the last good one); '' if none. */
  appliedRevision: string;
  checkedMs: number;
  updatedMs: number;
  /** Every pause the agent said it applies (hub's and Git's), with its last config status. */
  suspensions: AgentSuspension[];
}

/** One sequenced report from an agent, in store form. */
export type Report =
  | {
      kind: 'app';
      app: Omit<AppRecord, 'cluster' | 'updatedMs' | 'gone' | 'suspension'> & {
        suspension?: AgentSuspension | null;
      };
    }
  | { kind: 'sync'; sync: Omit<SyncRecord, 'cluster' | 'receivedMs'> }
  | { kind: 'drift'; drift: Omit<DriftRecord, 'cluster' | 'updatedMs'> }
  | { kind: 'gap'; gap: Omit<GapRecord, 'cluster' | 'receivedMs'> }
  | {
      kind: 'config';
      /** `apps`: when valid, the apps the file lists; the cluster's others are marked gone. */
      config: Omit<ConfigStateRecord, 'cluster' | 'updatedMs' | 'suspensions'> & {
        apps?: string[];
        suspensions?: AgentSuspension[];
      };
    };

/** An enrollment token as stored: the secret itself is never kept, only its SHA-256. */
export interface EnrollmentTokenRecord {
  id: string;
  secretHash: string;
  cluster: string;
  labels: Labels;
  createdMs: number;
  createdBy: string;
  expiresMs: number;
  maxUses: number;
  uses: number;
  revokedMs: number;
  lastUsedMs: number;
}

/** Roles of API tokens, each allowed everything the previous one is. */
export type Role = 'viewer' | 'operator' | 'approver' | 'admin';

/** An API token as stored (hash only). */
export interface ApiTokenRecord {
  id: string;
  secretHash: string;
  name: string;
  role: Role;
  createdMs: number;
  createdBy: string;
  revokedMs: number;
}

/** A client certificate the CA issued. */
export interface CertificateRecord {
  serial: string;
  cluster: string;
  issuedMs: number;
  notAfterMs: number;
  revokedMs: number;
}

/** An approval of one plan of one app at one revision. */
export interface ApprovalRecord {
  id: string;
  cluster: string;
  app: string;
  revision: string;
  planDigest: string;
  approvedBy: string;
  approvedMs: number;
  /** The hub seq it travels under on the Connect stream. */
  hubSeq: number;
  /** When it was last sent down an open stream; 0 if never. */
  deliveredMs: number;
  /** Whether the agent acked it. */
  acked: boolean;
}

/** What a person did, for the audit log. */
export interface AuditEntry {
  /** Who: the API token's name and id, e.g. `alice (tok_ab12)`. */
  actor: string;
  /** What, as a verb phrase: `token.create`, `cluster.revoke`, `approval.create`. */
  action: string;
  /** On which object: `cluster/prod-eu`, `token/et_12ab`. */
  target: string;
  /** Non-secret details. */
  details?: Record<string, unknown>;
}

/** An audit log row. */
export interface AuditRecord extends Required<AuditEntry> {
  id: number;
  atMs: number;
}

/** One term of a label selector: `k=v`, `k!=v`, `k` (exists) or `!k` (absent). */
export interface SelectorTerm {
  key: string;
  op: '=' | '!=' | 'exists' | '!exists';
  value: string;
}

/** A NATS user key issued to a cluster at enrollment (public key only). */
export interface NatsUserRecord {
  publicKey: string;
  cluster: string;
  issuedMs: number;
  /** When the cluster's revocation revoked it; 0 while valid. */
  revokedMs: number;
}
