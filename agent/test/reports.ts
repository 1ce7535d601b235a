import type { SyncReport } from '../src/report/report.ts';

/** A succeeded sync of app `web`, healthy, with nothing written, unless `over` says otherwise. */
export function syncReport(over: Partial<SyncReport> = {}): SyncReport {
  return {
    syncId: 's',
    app: 'web',
    revision: 'a'.repeat(40),
    outcome: 'succeeded',
    error: '',
    retryable: false,
    planDigest: '',
    objects: [],
    steps: [],
    traceId: 't'.repeat(32),
    startedAt: 1,
    finishedAt: 2,
    health: 'Healthy',
    approvalId: '',
    ...over,
  };
}
