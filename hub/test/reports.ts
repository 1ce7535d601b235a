import type { Store } from '../src/store/index.ts';
import type { Report } from '../src/store/types.ts';

type AppBody = Extract<Report, { kind: 'app' }>['app'];
type SyncBody = Extract<Report, { kind: 'sync' }>['sync'];
type DriftBody = Extract<Report, { kind: 'drift' }>['drift'];

/** An app status report of `app`: synced, auto, healthy at revision `r`, unless `fields` say otherwise. */
export function appReport(app: string, fields: Partial<AppBody> = {}): Report {
  return {
    kind: 'app',
    app: {
      app,
      revision: 'r',
      syncStatus: 'synced',
      syncMode: 'auto',
      health: 'healthy',
      healthMessage: '',
      driftCount: 0,
      planDigest: '',
      pendingPlan: [],
      message: '',
      lastSyncMs: 1,
      ...fields,
    },
  };
}

/** A succeeded sync `syncId` of app `web` at revision `r`, unless `fields` say otherwise. */
export function syncReport(syncId: string, fields: Partial<SyncBody> = {}): Report {
  return {
    kind: 'sync',
    sync: {
      syncId,
      app: 'web',
      revision: 'r',
      result: 'succeeded',
      error: '',
      planDigest: '',
      objects: [],
      steps: [],
      traceId: '',
      startedMs: 1,
      finishedMs: 2,
      health: 'healthy',
      retryable: false,
      approvalId: '',
      ...fields,
    },
  };
}

/** Open drift `d1` of ConfigMap n/c of app `web`, changed by kubectl, unless `fields` say otherwise. */
export function driftReport(fields: Partial<DriftBody> = {}): Report {
  return {
    kind: 'drift',
    drift: {
      driftId: 'd1',
      app: 'web',
      object: { group: '', version: 'v1', kind: 'ConfigMap', namespace: 'n', name: 'c' },
      objectRef: 'v1 ConfigMap n/c',
      type: 'modified',
      fields: [],
      changedBy: 'kubectl',
      detectedMs: 1,
      healed: false,
      healedMs: 0,
      message: '',
      lastSyncTraceId: '',
      fight: null,
      ...fields,
    },
  };
}

/**
 * Enrolls `cluster` with `labels` through a single-use token, as the enrollment endpoint does;
 * resolves to what `completeEnrollment` answered (true: enrolled).
 */
export async function enrollCluster(
  store: Store,
  cluster: string,
  labels: Record<string, string> = {},
): Promise<boolean> {
  const now = Date.now();
  await store.createEnrollmentToken(
    {
      id: `et_${cluster}`,
      secretHash: 'h'.repeat(64),
      cluster,
      labels,
      createdMs: now,
      createdBy: 'alice',
      expiresMs: now + 60_000,
      maxUses: 1,
      uses: 0,
      revokedMs: 0,
      lastUsedMs: 0,
    },
    { actor: 'alice (at_1)', action: 'token.create', target: `token/et_${cluster}` },
  );
  return store.completeEnrollment({
    tokenId: `et_${cluster}`,
    cluster,
    labels,
    adminLabels: labels,
    agentVersion: '1.0.0',
    certificate: { serial: `serial-${cluster}`, issuedMs: now, notAfterMs: now + 1000 },
    nowMs: now,
  });
}
