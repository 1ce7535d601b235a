// The hub records how a drift closed and a fight with another controller, as the agent reports
// them, and serves them in the drift view: a fight is open drift, and a drift closed by a sync
// or changed back by someone is not shown as healed by the agent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '@driftless/common';
import {
  AgentMessage,
  DriftClosedBy,
  DriftType,
  type AgentMessageBody,
  type DriftFight,
} from '@driftless/proto';
import { EventBus } from '../events.ts';
import { createMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import { storeWithCluster } from '../../test/enrolled-store.ts';
import { driftView } from '../api/views.ts';
import { ingestReport, type IngestDeps } from './ingest.ts';

const drift = (
  driftId: string,
  healed: boolean,
  closedBy?: DriftClosedBy,
  fight?: DriftFight,
): AgentMessageBody => ({
  $case: 'driftReport',
  value: {
    driftId,
    app: 'web',
    object: { group: 'apps', version: 'v1', kind: 'Deployment', namespace: 'web', name: 'web' },
    type: DriftType.DRIFT_TYPE_MODIFIED,
    fields: [{ path: '.spec.replicas', desiredJson: '2', liveJson: '5' }],
    changedBy: 'kube-controller-manager',
    detectedUnixMs: 1_000n,
    healed,
    healedUnixMs: healed ? 2_000n : 0n,
    message: '',
    lastSyncTraceId: '',
    ...(closedBy === undefined ? {} : { closedBy }),
    ...(fight ? { fight } : {}),
  },
});

describe('drift closure and fights on the hub', () => {
  let store: Store;
  let deps: IngestDeps;
  const session = { send: () => true };
  let seq = 0n;
  const ingest = (body: AgentMessageBody) =>
    ingestReport(deps, 'prod-eu', AgentMessage.create({ seq: ++seq, body }), session);

  before(async () => {
    store = await storeWithCluster('prod-eu');
    deps = { store, events: new EventBus(), metrics: createMetrics(), clock: systemClock };
  });
  after(async () => {
    await store.close();
  });

  it('records a fight as open drift with its manager and fields', async () => {
    const fight = {
      manager: 'kube-controller-manager',
      paths: ['.spec.replicas'],
      periodMs: 15_000,
    };
    await ingest(drift('d-fight', false, undefined, fight));
    const [row] = await store.listDrift({ open: true });
    const view = row && driftView(row);
    assert.equal(view?.healed, false);
    assert.deepEqual(view?.fight, fight);
    assert.equal(view?.closedBy, '');
  });

  it('records how each drift closed', async () => {
    await ingest(drift('d-sync', false));
    await ingest(drift('d-sync', true, DriftClosedBy.DRIFT_CLOSED_BY_SYNC));
    await ingest(drift('d-revert', true, DriftClosedBy.DRIFT_CLOSED_BY_REVERTED));
    await ingest(drift('d-heal', true, DriftClosedBy.DRIFT_CLOSED_BY_HEAL));
    const closed = await store.listDrift({ open: false });
    assert.deepEqual(closed.map((d) => [d.driftId, d.closedBy, d.fight ?? null]).sort(), [
      ['d-heal', 'heal', null],
      ['d-revert', 'reverted', null],
      ['d-sync', 'sync', null],
    ]);
    const open = await store.listDrift({ open: true });
    assert.deepEqual(
      open.map((d) => d.driftId),
      ['d-fight'],
    );
  });
});
