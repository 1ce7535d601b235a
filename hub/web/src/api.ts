// The hub HTTP API as the dashboard uses it (see docs/api.md): JSON types and a client
// that sends the API token as a Bearer header, never in a URL.

/** API token roles, least first; each may do everything the ones before it may. */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Whether `role` includes `needed`. */
export const allows = (role: Role, needed: Role): boolean =>
  ROLES.indexOf(role) >= ROLES.indexOf(needed);

export type Labels = Record<string, string>;

/** `GET /api/v1/whoami`. */
export interface Principal {
  id: string;
  name: string;
  role: Role;
}

/** `GET /api/v1/config`. */
export interface DashboardConfig {
  commitUrlTemplate: string;
  traceUrlTemplate: string;
  agentHubAddress: string;
  /** The hub CA certificate (PEM) agents trust while enrolling. */
  hubCaPem: string;
}

/** The state of a cluster's driftless.yaml (see docs/api.md). */
export interface ClusterConfigState {
  /** `failed`: the newest commit's file is invalid and the agent runs `appliedRevision`'s. */
  state: 'valid' | 'failed' | 'unknown';
  revision: string;
  appliedRevision: string;
  error: string;
  file: string;
  line: number;
  checkedAt: string | null;
  /** Every pause the agent applies now (from the hub and from Git). */
  suspensions?: Suspension[];
}

/** A pause of applying and healing, as the agent applies it (see docs/api.md). */
export interface Suspension {
  id: string;
  /** '' for the whole cluster. */
  app: string;
  source: 'hub' | 'git';
  reason: string;
  actor: string;
  since: string | null;
  /** null for a pause from Git (it ends when Git says so). */
  until: string | null;
}

export interface Cluster {
  name: string;
  labels: Labels;
  agentVersion: string;
  connected: boolean;
  lastSeen: string | null;
  enrolledAt: string | null;
  revoked: boolean;
  revokedAt: string | null;
  lastAgentSeq: number;
  repoUrl?: string;
  branch?: string;
  config?: ClusterConfigState;
}

export interface ObjectRef {
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
}

export type SyncStatus = 'unknown' | 'synced' | 'out-of-sync' | 'syncing' | 'failed';
export type Health = 'unknown' | 'healthy' | 'progressing' | 'degraded' | 'missing';

export interface PlanChange {
  object: ObjectRef;
  action: string;
  wave: number;
  diff: { path: string; before: string; after: string }[];
}

export interface App {
  cluster: string;
  app: string;
  revision: string;
  syncStatus: SyncStatus;
  syncMode: 'unknown' | 'auto' | 'manual' | 'dry-run';
  health: Health;
  healthMessage: string;
  driftCount: number;
  planDigest: string;
  pendingPlan: PlanChange[];
  message: string;
  lastSync: string | null;
  updatedAt: string | null;
  gone: boolean;
  /** The pause the agent applies to the app (its own or its cluster's); null if none. */
  suspension?: Suspension | null;
}

export interface ClusterDetail extends Cluster {
  apps: App[];
}

export interface Drift {
  cluster: string;
  driftId: string;
  app: string;
  object: ObjectRef;
  objectRef: string;
  type: string;
  fields: { path: string; desired: unknown; live: unknown }[];
  changedBy: string;
  detectedAt: string | null;
  /** Closed; `closedBy` says how. */
  healed: boolean;
  healedAt: string | null;
  /** heal, sync, reverted, left-git, deleted-by-kubernetes; '' while open. */
  closedBy?: string;
  /** Another controller keeps re-writing these fields: shown as a fight, never green. */
  fight?: { manager: string; paths: string[]; periodMs: number } | null;
  message: string;
  lastSyncTraceId: string;
}

export interface SyncRecord {
  cluster: string;
  syncId: string;
  app: string;
  revision: string;
  result: string;
  error: string;
  planDigest: string;
  steps: { name: string; durationMs: number }[];
  traceId: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number;
  health: string;
  retryable: boolean;
  approvalId: string;
}

export interface Approval {
  id: string;
  cluster: string;
  app: string;
  revision: string;
  planDigest: string;
  approvedBy: string;
  approvedAt: string | null;
  deliveredAt: string | null;
  acked: boolean;
  /** What became of it; `stale`: the agent could not use it (`stateReason` says why). */
  state: 'pending' | 'delivered' | 'applied' | 'stale';
  stateReason: string;
}

export interface EnrollmentToken {
  id: string;
  cluster: string;
  labels: Labels;
  createdAt: string | null;
  createdBy: string;
  expiresAt: string | null;
  maxUses: number;
  uses: number;
  lastUsedAt: string | null;
  revokedAt: string | null;
  state: 'active' | 'used' | 'expired' | 'revoked';
  /** Only in the answer to the create call. */
  token?: string;
}

/** A refused or failed API call; `message` is the hub's own explanation. */
export class HubCallError extends Error {
  override name = 'HubCallError';
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/** The hub API with one token. */
export class HubApi {
  readonly #token: string;
  /** Called when the hub answers 401: the token was revoked or is wrong. */
  readonly onUnauthenticated: (err: HubCallError) => void;

  constructor(token: string, onUnauthenticated: (err: HubCallError) => void = () => undefined) {
    this.#token = token;
    this.onUnauthenticated = onUnauthenticated;
  }

  /** The Authorization header value, for the event stream. */
  get authorization(): string {
    return `Bearer ${this.#token}`;
  }

  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: {
          authorization: this.authorization,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (err) {
      throw new HubCallError(0, `the hub did not answer ${method} ${path}`, { cause: err });
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: a proxy's error page, say. The status tells enough.
    }
    if (!res.ok) {
      const message =
        (json as { error?: { message?: string } } | undefined)?.error?.message ??
        `${method} ${path}: HTTP ${res.status}`;
      const err = new HubCallError(res.status, message);
      if (res.status === 401) this.onUnauthenticated(err);
      throw err;
    }
    return json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  async list<T>(path: string): Promise<T[]> {
    return (await this.get<{ items: T[] }>(path)).items;
  }
}

/** `key=value` pairs of a query, URL-encoded; empty values are left out. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
