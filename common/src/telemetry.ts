import {
  context,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { errorMessage } from './errors.ts';

/** Options of {@link initTelemetry}. */
export interface TelemetryOptions {
  /** `service.name` of every span (overridden by OTEL_SERVICE_NAME). */
  serviceName: string;
  /** `service.version`. */
  serviceVersion?: string;
  /** Extra processors, e.g. an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
  /** Environment to read OTEL_* variables from. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The process's tracing set-up. */
export interface Telemetry {
  /** Whether spans leave the process (OTLP or extra processors). */
  readonly exporting: boolean;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * True when the standard OTEL_* variables ask for OTLP export: an endpoint is
 * set, or OTEL_TRACES_EXPORTER=otlp; OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none turn it off.
 */
export function otlpRequested(env: NodeJS.ProcessEnv): boolean {
  if (env['OTEL_SDK_DISABLED'] === 'true') return false;
  const exporter = env['OTEL_TRACES_EXPORTER'];
  if (exporter === 'none') return false;
  return (
    exporter === 'otlp' ||
    Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT']) ||
    Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'])
  );
}

/**
 * Registers the global tracer provider (AsyncLocalStorage context, W3C
 * propagation). Spans are always created so trace ids exist for annotations
 * and logs; they are exported over OTLP only when the OTEL_* variables say so.
 */
export function initTelemetry(options: TelemetryOptions): Telemetry {
  const env = options.env ?? process.env;
  const processors = [...(options.spanProcessors ?? [])];
  if (otlpRequested(env)) processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': env['OTEL_SERVICE_NAME'] ?? options.serviceName,
      ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
    }),
    spanProcessors: processors,
  });
  provider.register();
  return { exporting: processors.length > 0, shutdown: () => provider.shutdown() };
}

/** A tracer of the global provider (a no-op one until {@link initTelemetry}). */
export function getTracer(name: string, version?: string): Tracer {
  return trace.getTracer(name, version);
}

/**
 * Runs `fn` inside a new active span: exceptions are recorded and mark the
 * span as failed, and the span always ends.
 */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : new Error(String(err)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** W3C trace context as carried in messages between agent and hub. */
export interface TraceCarrier {
  traceparent: string;
  tracestate: string;
}

const w3c = new W3CTraceContextPropagator();
const carrierSetter = {
  set: (c: Record<string, string>, key: string, value: string) => {
    c[key] = value;
  },
};
const carrierGetter = {
  get: (c: Record<string, string>, key: string) => c[key] || undefined,
  keys: (c: Record<string, string>) => Object.keys(c),
};

/** The W3C context of `ctx` (default: the active one); empty strings when there is no span. */
export function injectTraceContext(ctx: Context = context.active()): TraceCarrier {
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, carrierSetter);
  return { traceparent: carrier['traceparent'] ?? '', tracestate: carrier['tracestate'] ?? '' };
}

/** A context whose remote parent is the span described by `carrier`. */
export function extractTraceContext(carrier: Partial<TraceCarrier> | undefined): Context {
  const c: Record<string, string> = {};
  if (carrier?.traceparent) c['traceparent'] = carrier.traceparent;
  if (carrier?.tracestate) c['tracestate'] = carrier.tracestate;
  return w3c.extract(ROOT_CONTEXT, c, carrierGetter);
}
