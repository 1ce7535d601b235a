import { Type, type TSchema } from 'typebox';

/**
 * JSON schemas of the API's answers and shared request parts. Fastify validates requests
 * and serialises answers with them, and the OpenAPI document (`GET /api/v1/openapi.json`)
 * is generated from them, so what docs/api.md promises is what the code checks.
 */

/** ISO-8601 UTC time, or null for "never". */
const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Labels = Type.Record(Type.String(), Type.String(), { description: 'labels, key to value' });
/** Any JSON value, passed through as the agent sent it. */
const Json = Type.Unknown();

/** Every error answer: `{"error": {"status": 400, "message": "..."}}`. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      status: Type.Integer({ minimum: 400, maximum: 599 }),
      message: Type.String(),
    }),
  },
  { title: 'Error', description: 'An error: the HTTP status again and one short message.' },
);

/** `{"items": [...]}` of `item`. */
export const List = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item) });

/** A Kubernetes object reference. */
const ObjectRef = Type.Object({
  group: Type.String(),
  version: Type.String(),
  kind: Type.String(),
  namespace: Type.String(),
  name: Type.String(),
});

/** A pause as the agent applies it (see views.ts suspensionView). */
export const SuspensionView = Type.Object(
  {
    id: Type.String(),
    app: Type.String({ description: "the app paused; '' for the whole cluster" }),
    source: Type.Union([Type.Literal('hub'), Type.Literal('git')]),
    reason: Type.String(),
    actor: Type.String(),
    since: Time,
    until: { ...Time, description: 'when it ends by itself; null for a pause from Git' },
  },
  { title: 'Suspension' },
);

/** The state of a cluster's driftless.yaml (see views.ts configView). */
export const ConfigStateView = Type.Object(
  {
    state: Type.Union([Type.Literal('valid'), Type.Literal('failed'), Type.Literal('unknown')]),
    revision: Type.String(),
    appliedRevision: Type.String(),
    error: Type.String(),
    file: Type.String(),
    line: Type.Integer(),
    checkedAt: Time,
    suspensions: Type.Array(SuspensionView, {
      description: 'every pause the agent applies now (from the hub and from Git)',
    }),
  },
  { title: 'ConfigState' },
);

/** A cluster. */
export const ClusterView = Type.Object(
  {
    name: Type.String(),
    labels: Labels,
    agentVersion: Type.String(),
    connected: Type.Boolean(),
    lastSeen: Time,
    enrolledAt: Time,
    revoked: Type.Boolean(),
    revokedAt: Time,
    /** Revoked, and refused enrollment until an administrator allows it again. */
    enrollmentBlocked: Type.Boolean(),
    lastAgentSeq: Type.Integer(),
    repoUrl: Type.String(),
    branch: Type.String(),
    config: Type.Optional(ConfigStateView),
  },
  { title: 'Cluster' },
);

/** An app of a cluster. */
export const AppView = Type.Object(
  {
    cluster: Type.String(),
    app: Type.String(),
    revision: Type.String(),
    syncStatus: Type.String(),
    syncMode: Type.String(),
    health: Type.String(),
    healthMessage: Type.String(),
    driftCount: Type.Integer(),
    planDigest: Type.String(),
    pendingPlan: Type.Array(Json),
    message: Type.String(),
    lastSync: Time,
    updatedAt: Time,
    gone: Type.Boolean(),
    suspension: Type.Union([SuspensionView, Type.Null()], {
      description:
        "the pause the agent applies to the app (its own or its cluster's); null if none",
    }),
  },
  { title: 'App' },
);

/** A cluster with its apps. */
export const ClusterDetailView = Type.Intersect([
  ClusterView,
  Type.Object({ apps: Type.Array(AppView) }),
]);

/** A drift record. */
export const DriftView = Type.Object(
  {
    cluster: Type.String(),
    driftId: Type.String(),
    app: Type.String(),
    object: ObjectRef,
    objectRef: Type.String(),
    type: Type.String(),
    fields: Type.Array(Type.Object({ path: Type.String(), desired: Json, live: Json })),
    changedBy: Type.String(),
    detectedAt: Time,
    healed: Type.Boolean(),
    healedAt: Time,
    message: Type.String(),
    lastSyncTraceId: Type.String(),
  },
  { title: 'Drift' },
);

/** A sync history entry. */
export const SyncView = Type.Object(
  {
    cluster: Type.String(),
    syncId: Type.String(),
    app: Type.String(),
    revision: Type.String(),
    result: Type.String(),
    error: Type.String(),
    planDigest: Type.String(),
    objects: Type.Array(Json),
    steps: Type.Array(Type.Object({ name: Type.String(), durationMs: Type.Number() })),
    traceId: Type.String(),
    startedAt: Time,
    finishedAt: Time,
    durationMs: Type.Number(),
    health: Type.String(),
    retryable: Type.Boolean(),
    approvalId: Type.String(),
  },
  { title: 'Sync' },
);

/** An enrollment token, never its secret. */
export const EnrollmentTokenView = Type.Object(
  {
    id: Type.String(),
    cluster: Type.String(),
    labels: Labels,
    createdAt: Time,
    createdBy: Type.String(),
    expiresAt: Time,
    maxUses: Type.Integer(),
    uses: Type.Integer(),
    lastUsedAt: Time,
    revokedAt: Time,
    state: Type.Union([
      Type.Literal('active'),
      Type.Literal('used'),
      Type.Literal('expired'),
      Type.Literal('revoked'),
    ]),
  },
  { title: 'EnrollmentToken' },
);

/** An API token, never its secret. */
export const ApiTokenView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Type.String(),
    createdAt: Time,
    createdBy: Type.String(),
    revokedAt: Time,
    state: Type.Union([Type.Literal('active'), Type.Literal('revoked')]),
  },
  { title: 'ApiToken' },
);

/** The states an approval goes through; see docs/api.md, "Approvals". */
export const APPROVAL_STATES = ['pending', 'delivered', 'applied', 'stale'] as const;

/** An approval. */
export const ApprovalView = Type.Object(
  {
    id: Type.String(),
    cluster: Type.String(),
    app: Type.String(),
    revision: Type.String(),
    planDigest: Type.String(),
    approvedBy: Type.String(),
    approvedAt: Time,
    deliveredAt: Time,
    acked: Type.Boolean(),
    state: Type.Enum([...APPROVAL_STATES]),
    stateReason: Type.String(),
  },
  { title: 'Approval' },
);

/** An audit log entry. */
export const AuditView = Type.Object(
  {
    id: Type.Integer(),
    at: Time,
    actor: Type.String(),
    action: Type.String(),
    target: Type.String(),
    details: Type.Record(Type.String(), Json),
  },
  { title: 'AuditEntry' },
);

/** Largest `limit=` of list endpoints. */
export const MAX_LIMIT = 5000;

/** `limit=`: how many items at most, newest first. */
export const Limit = (dflt: number) =>
  Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: dflt, description: 'items at most' });

/** `selector=`: a label selector (`env=prod,region!=eu,gpu,!legacy`). */
export const Selector = Type.Optional(
  Type.String({ maxLength: 1024, description: 'label selector, e.g. env=prod,!legacy' }),
);

/** A name in a path or query (cluster, app, token id): bounded, never empty. */
export const Name = Type.String({ minLength: 1, maxLength: 253 });

const REVISION_ERROR = 'is not a hex commit SHA (7 to 64 hex digits)';

/**
 * A commit SHA in a request: full, or a prefix of at least 7 hex digits, in either case as git
 * takes it. Handlers pass it through {@link normaliseRevision} (stored and compared lower-case).
 */
export const Revision = Type.String({
  pattern: '^[0-9a-fA-F]{7,64}$',
  description: 'a commit SHA, or a prefix of at least 7 hex digits; either case',
  'x-error': REVISION_ERROR,
});

/** {@link Revision}, or '' for "none". */
export const OptionalRevision = Type.String({
  pattern: '^([0-9a-fA-F]{7,64})?$',
  description: 'a commit SHA, or a prefix of at least 7 hex digits; either case; empty: none',
  'x-error': REVISION_ERROR,
});

/** A revision as the hub stores and compares it: lower case. */
export const normaliseRevision = (revision: string): string => revision.toLowerCase();

/** Short free text in a body. */
export const Text = Type.String({ maxLength: 1024 });
