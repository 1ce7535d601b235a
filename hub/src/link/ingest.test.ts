// The hub's ingest span joins the agent's trace: the W3C context an AgentMessage carries makes
// `ingest <kind>` a child of the agent's span, and the sync history row keeps that trace id.
// In-process (no gRPC): the hub process exports spans only over OTLP, and what is checked
// here is the parenting, which a recording span processor shows directly.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { initTelemetry, systemClock } from '@driftless/common';
import {
  AgentMessage,
  HealthStatus,
  SyncOutcome,
  type AgentMessageBody,
  type HubMessage,
} from '@driftless/proto';
import { EventBus } from '../events.ts';
import { createMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import { storeWithCluster } from '../../test/enrolled-store.ts';
import { ingestReport, type IngestDeps } from './ingest.ts';

type SpanProcessor = NonNullable<Parameters<typeof initTelemetry>[0]['spanProcessors']>[number];
type EndedSpan = Parameters<SpanProcessor['onEnd']>[0];

/** Keeps every ended span, like the SDK's in-memory exporter behind a simple processor. */
const ended: EndedSpan[] = [];
const recorder: SpanProcessor = {
  onStart: () => undefined,
  onEnd: (span) => void ended.push(span),
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};
const telemetry = initTelemetry({
  serviceName: 'driftless-hub-test',
  spanProcessors: [recorder],
  env: {},
});

const AGENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const AGENT_SPAN = '00f067aa0ba902b7';

const syncResult = (syncId: string, traceId: string): AgentMessageBody => ({
  $case: 'syncResult',
  value: {
    syncId,
    app: 'podinfo',
    revision: 'a'.repeat(40),
    result: SyncOutcome.SYNC_OUTCOME_SUCCEEDED,
    error: '',
    planDigest: 'sha256:p',
    objects: [],
    steps: [],
    traceId,
    startedUnixMs: 1n,
    finishedUnixMs: 2n,
    health: HealthStatus.HEALTH_STATUS_HEALTHY,
    retryable: false,
    approvalId: '',
  },
});

describe('ingest joins the agent trace', () => {
  let store: Store;
  let deps: IngestDeps;
  const sent: HubMessage[] = [];
  const session = { send: (m: HubMessage) => sent.push(m) > 0 };

  before(async () => {
    store = await storeWithCluster('prod-eu');
    deps = { store, events: new EventBus(), metrics: createMetrics(), clock: systemClock };
  });
  after(async () => {
    await store.close();
    await telemetry.shutdown();
  });

  const ingest = (seq: bigint, body: AgentMessageBody, traceparent: string) =>
    ingestReport(
      deps,
      'prod-eu',
      AgentMessage.create({ seq, body, trace: { traceparent, tracestate: '' } }),
      session,
    );
  const spanOf = (seq: number) => {
    const s = ended.find(
      (x) => x.name === 'ingest syncResult' && x.attributes['driftless.seq'] === seq,
    );
    assert.ok(s, `an ingest span for seq ${seq}`);
    return s;
  };

  it('makes the ingest span a child of the span in the AgentMessage', async () => {
    await ingest(1n, syncResult('sync-1', ''), `00-${AGENT_TRACE}-${AGENT_SPAN}-01`);
    const span = spanOf(1);
    assert.equal(span.spanContext().traceId, AGENT_TRACE);
    assert.equal(span.parentSpanContext?.spanId, AGENT_SPAN);
    assert.equal(span.parentSpanContext?.isRemote, true);
    assert.deepEqual(sent.at(-1)?.body, { $case: 'ack', value: { agentSeq: 1n } });
  });

  it("keeps the context's trace id on a sync row whose trace_id is empty", async () => {
    const [row] = await store.listHistory({ cluster: 'prod-eu', app: 'podinfo' });
    assert.equal(row?.syncId, 'sync-1');
    assert.equal(row?.traceId, AGENT_TRACE);
  });

  it("keeps the agent's own trace_id when it sends one", async () => {
    await ingest(2n, syncResult('sync-2', 'b'.repeat(32)), `00-${AGENT_TRACE}-${AGENT_SPAN}-01`);
    const rows = await store.listHistory({ cluster: 'prod-eu' });
    assert.equal(rows.find((r) => r.syncId === 'sync-2')?.traceId, 'b'.repeat(32));
  });

  it('starts a trace of its own, recorded on the row, when the message has no context', async () => {
    await ingest(3n, syncResult('sync-3', ''), '');
    const span = spanOf(3);
    assert.equal(span.parentSpanContext, undefined);
    const rows = await store.listHistory({ cluster: 'prod-eu' });
    assert.equal(rows.find((r) => r.syncId === 'sync-3')?.traceId, span.spanContext().traceId);
  });
});
