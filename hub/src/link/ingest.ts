import { extractTraceContext, getTracer, inSpan, SpanAttr, type Clock } from '@driftless/common';
import { HubMessage, isSequenced, UNSEQUENCED, type AgentMessage } from '@driftless/proto';
import { trace, type Attributes } from '@opentelemetry/api';
import { InvalidArgumentError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Report, Store } from '../store/index.ts';
import { appReport, configReport, driftReport, gapReport, syncReport } from './convert.ts';
import type { IngestBatcher } from './ingest-batch.ts';
import type { Session } from './sessions.ts';

const tracer = getTracer('@driftless/hub/link');

/** What {@link ingestReport} needs. */
export interface IngestDeps {
  store: Store;
  events: EventBus;
  metrics: HubMetrics;
  clock: Clock;
  /** Group commit shared by the streams; default none: one transaction per report. */
  batch?: Pick<IngestBatcher, 'ingest'>;
}

/**
 * Stores one sequenced report from an agent's stream and acks it. Its span
 * (`ingest <kind>`) is a child of the agent span named by the message's W3C
 * trace context, so the hub's handling shows inside the agent's sync trace; a
 * sync history row keeps the agent's `trace_id`, or that context's trace id
 * when the agent sent none. Apart from the gRPC stream so it can be tested
 * in-process with a recording tracer.
 */
export async function ingestReport(
  deps: IngestDeps,
  cluster: string,
  msg: AgentMessage,
  session: Pick<Session, 'send'>,
): Promise<void> {
  const { store, events, metrics } = deps;
  const body = msg.body!;
  const what = `report seq ${msg.seq} (${body.$case}) from cluster ${cluster}`;
  if (!isSequenced(msg)) throw new InvalidArgumentError(`${what}: reports must carry seq > 0`);
  if (msg.seq > BigInt(Number.MAX_SAFE_INTEGER))
    throw new InvalidArgumentError(`${what}: seq above 2^53 is not supported by this hub`);
  // The ingest span joins the agent's trace (e.g. the sync that produced the report).
  const parent = extractTraceContext(msg.trace);
  await inSpan(
    tracer,
    `ingest ${body.$case}`,
    { [SpanAttr.cluster]: cluster, 'driftless.seq': Number(msg.seq) },
    async (span) => {
      const traceId = trace.getSpanContext(parent)?.traceId ?? span.spanContext().traceId;
      let report: Report;
      switch (body.$case) {
        case 'appStatus':
          report = appReport(body.value, what);
          break;
        case 'syncResult':
          report = syncReport(body.value, traceId, what);
          break;
        case 'driftReport':
          report = driftReport(body.value, what);
          break;
        case 'reportsDropped':
          report = gapReport(body.value);
          break;
        case 'configStatus':
          report = configReport(body.value, what);
          break;
        default:
          throw new InvalidArgumentError(`${what}: not a report`);
      }
      span.setAttributes(reportAttributes(report));
      const end = metrics.ingestDuration.startTimer({ type: report.kind });
      // Resolves after the commit, so the ack below never runs ahead of the store.
      const writer = deps.batch ?? store;
      const result = await writer.ingest(cluster, Number(msg.seq), report, deps.clock.now());
      end();
      // How late the report arrived; resends of a stored one say nothing new.
      if (result.applied && msg.sentAtUnixMs > 0n)
        metrics.reportDelay.observe(
          { type: report.kind },
          Math.max(0, deps.clock.now() - Number(msg.sentAtUnixMs)) / 1000,
        );
      metrics.reportsIngested.inc({
        type: report.kind,
        result: result.applied ? 'applied' : 'duplicate',
      });
      span.setAttribute('driftless.duplicate', !result.applied);
      session.send(
        HubMessage.create({
          seq: UNSEQUENCED,
          body: { $case: 'ack', value: { agentSeq: BigInt(result.lastSeq) } },
        }),
      );
      if (result.applied) publishReport(events, cluster, report);
    },
    parent,
  );
}

/** What an ingest span says about its report: the app, and for a sync its revision and outcome. */
function reportAttributes(report: Report): Attributes {
  switch (report.kind) {
    case 'sync':
      return {
        [SpanAttr.app]: report.sync.app,
        [SpanAttr.revision]: report.sync.revision,
        [SpanAttr.outcome]: report.sync.result,
      };
    case 'app':
      return { [SpanAttr.app]: report.app.app };
    case 'drift':
      return { [SpanAttr.app]: report.drift.app, [SpanAttr.driftId]: report.drift.driftId };
    default:
      return {};
  }
}

/** Announces a stored report to the dashboard's event stream. */
function publishReport(events: EventBus, cluster: string, report: Report): void {
  switch (report.kind) {
    case 'app':
      return events.publish({
        type: 'app.updated',
        cluster,
        app: report.app.app,
        data: {
          syncStatus: report.app.syncStatus,
          health: report.app.health,
          revision: report.app.revision,
        },
      });
    case 'sync':
      return events.publish({
        type: 'sync.recorded',
        cluster,
        app: report.sync.app,
        data: {
          syncId: report.sync.syncId,
          result: report.sync.result,
          traceId: report.sync.traceId,
        },
      });
    case 'drift':
      return events.publish({
        type: 'drift.updated',
        cluster,
        app: report.drift.app,
        data: {
          driftId: report.drift.driftId,
          object: report.drift.objectRef,
          healed: report.drift.healed,
        },
      });
    case 'gap':
      return events.publish({ type: 'gap.recorded', cluster, data: { count: report.gap.count } });
    case 'config':
      return events.publish({
        type: 'config.updated',
        cluster,
        data: { valid: report.config.valid, revision: report.config.revision },
      });
  }
}
