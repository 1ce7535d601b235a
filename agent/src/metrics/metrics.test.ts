import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '@driftless/common';
import type { DriftReport } from '../report/index.ts';
import { AgentMetrics } from './metrics.ts';

const clock = (): Clock & { t: number } => {
  const c = { t: 1_000_000, now: () => c.t, sleep: () => Promise.resolve() };
  return c;
};
const drift = (driftId: string, app: string, extra: Partial<DriftReport> = {}): DriftReport => ({
  driftId,
  app,
  ref: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'web', name: driftId },
  type: 'modified',
  fields: [],
  changedBy: 'kubectl-edit',
  detectedAt: 1_000_000,
  healed: false,
  healedAt: 0,
  message: '',
  lastSyncTraceId: '',
  ...extra,
});

describe('AgentMetrics', () => {
  it('tells open drift the agent heals from fights and report-only apps, and forgets closed drift', async () => {
    const c = clock();
    const m = new AgentMetrics({
      cluster: 'prod',
      heals: (app) => app !== 'audit',
      clock: c,
      processMetrics: false,
    });
    m.drift(drift('a', 'web'));
    m.drift(drift('b', 'web', { detectedAt: 1_030_000 }));
    m.drift(
      drift('c', 'web', { fight: { manager: 'hpa', paths: ['.spec.replicas'], periodMs: 15_000 } }),
    );
    m.drift(drift('d', 'audit'));
    m.drift(drift('e', 'web'));
    m.drift(drift('e', 'web', { healed: true, healedAt: 1_010_000, closedBy: 'heal' }));
    c.t = 1_120_000;
    const text = await m.registry.metrics();
    assert.match(text, /driftless_agent_drift_open\{app="web",state="healing",cluster="prod"\} 2/);
    assert.match(text, /driftless_agent_drift_open\{app="web",state="fight",cluster="prod"\} 1/);
    assert.match(
      text,
      /driftless_agent_drift_open\{app="audit",state="report-only",cluster="prod"\} 1/,
    );
    assert.match(
      text,
      /driftless_agent_drift_oldest_open_age_seconds\{app="web",state="healing",cluster="prod"\} 120/,
    );
  });

  it('counts syncs by outcome with their duration, and reads the drift watcher counters at scrape', async () => {
    let detected = 3;
    const m = new AgentMetrics({
      cluster: 'prod',
      processMetrics: false,
      drift: () => ({
        driftsDetected: detected,
        driftsHealed: 2,
        driftsResolved: 0,
        fights: 0,
        healFailures: 0,
        checks: 10,
        checkFailures: 0,
        watchRestarts: 0,
        watchedKinds: 4,
        drifted: 1,
      }),
    });
    m.syncResult({
      syncId: 's',
      app: 'web',
      revision: 'abc',
      outcome: 'succeeded',
      error: '',
      retryable: false,
      planDigest: '',
      objects: [],
      steps: [],
      traceId: '',
      startedAt: 0,
      finishedAt: 2_000,
      health: 'Healthy',
      approvalId: '',
    });
    // A carried app did not sync: it is neither counted nor timed.
    m.syncResult({
      syncId: 'c',
      app: 'web',
      revision: 'def',
      outcome: 'succeeded',
      error: '',
      retryable: false,
      planDigest: '',
      objects: [],
      steps: [{ name: 'carry', durationMs: 0 }],
      traceId: '',
      startedAt: 5_000,
      finishedAt: 5_000,
      health: 'Healthy',
      approvalId: '',
      carriedFrom: 'abc',
    });
    let text = await m.registry.metrics();
    assert.match(
      text,
      /driftless_agent_syncs_total\{app="web",outcome="succeeded",cluster="prod"\} 1/,
    );
    assert.match(text, /driftless_agent_sync_duration_seconds_sum\{cluster="prod",app="web"\} 2/);
    assert.match(text, /driftless_agent_drifts_detected_total\{cluster="prod"\} 3/);
    assert.match(text, /driftless_agent_watched_kinds\{cluster="prod"\} 4/);
    detected = 5;
    text = await m.registry.metrics();
    assert.match(text, /driftless_agent_drifts_detected_total\{cluster="prod"\} 5/);
  });
});
