import { context, trace, TraceFlags } from '@opentelemetry/api';
import { errorMessage, injectTraceContext, type Logger } from '@driftless/common';
import type { TraceContext } from '@driftless/proto';
import type {
  AppStatusReport,
  ConfigStatusReport,
  DriftReport,
  Reporter,
  SyncReport,
} from '../report/index.ts';
import { toAppStatus, toConfigStatus, toDriftReport, toSyncResult } from './convert.ts';
import type { Outbox } from './outbox.ts';

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * The W3C context of a sync's root span, so the hub's ingest span becomes a
 * child of the sync in the same trace; the active context when the report
 * carries no usable ids.
 */
export function syncTraceContext(r: Pick<SyncReport, 'traceId' | 'spanId'>): TraceContext {
  if (r.spanId && TRACE_ID.test(r.traceId) && SPAN_ID.test(r.spanId)) {
    const ctx = trace.setSpanContext(context.active(), {
      traceId: r.traceId,
      spanId: r.spanId,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: false,
    });
    return injectTraceContext(ctx);
  }
  return injectTraceContext();
}

/**
 * The agent's {@link Reporter} towards the hub: turns each report into its
 * wire form and queues it in the link's {@link Outbox}. It never blocks and
 * never throws (the engine must not wait on, or fail because of, the hub): a
 * report that cannot be converted is logged and skipped.
 */
export class LinkReporter implements Reporter {
  readonly #outbox: Outbox;
  readonly #log: Logger | undefined;

  constructor(outbox: Outbox, log?: Logger) {
    this.#outbox = outbox;
    this.#log = log;
  }

  appStatus(r: AppStatusReport): void {
    this.#safely(`app status of ${r.app}`, () =>
      this.#outbox.push({ $case: 'appStatus', value: toAppStatus(r) }, injectTraceContext()),
    );
  }

  syncResult(r: SyncReport): void {
    this.#safely(`sync result of ${r.app}`, () =>
      this.#outbox.push({ $case: 'syncResult', value: toSyncResult(r) }, syncTraceContext(r)),
    );
  }

  configStatus(r: ConfigStatusReport): void {
    this.#safely('config status', () =>
      this.#outbox.push({ $case: 'configStatus', value: toConfigStatus(r) }, injectTraceContext()),
    );
  }

  drift(r: DriftReport): void {
    this.#safely(`drift report of ${r.app}`, () =>
      this.#outbox.push({ $case: 'driftReport', value: toDriftReport(r) }, injectTraceContext()),
    );
  }

  #safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log?.error(
        { err: errorMessage(err) },
        `hub link: cannot queue ${what}: ${errorMessage(err)}`,
      );
    }
  }
}
