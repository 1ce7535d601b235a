import {
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import {
  ExportResultCode,
  W3CTraceContextPropagator,
  type ExportResult,
} from '@opentelemetry/core';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  ATTR_ERROR_TYPE,
  ATTR_K8S_CLUSTER_NAME,
  ATTR_K8S_NAMESPACE_NAME,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { errorMessage } from './errors.ts';

/**
 * Span and resource attribute names: OpenTelemetry semantic conventions where one exists
 * (`k8s.*` and `error.type` are stable; `vcs.*` are still incubating, so they are spelled out
 * here rather than imported from the package's unstable entry point), `driftless.*` otherwise.
 */
export const SpanAttr = {
  /** The cluster's name as the agent knows it (its `--cluster-name`). */
  cluster: ATTR_K8S_CLUSTER_NAME,
  /** The app's default namespace; on a heal, the object's namespace. */
  namespace: ATTR_K8S_NAMESPACE_NAME,
  /** The Git commit a sync applies (semantic conventions: `vcs.ref.head.revision`). */
  revision: 'vcs.ref.head.revision',
  /** The branch the agent follows (`vcs.ref.head.name`). */
  branch: 'vcs.ref.head.name',
  /** The repository URL, without credentials (`vcs.repository.url.full`). */
  repository: 'vcs.repository.url.full',
  /** Class of the failure: the error's `name`, e.g. `ApplyError`. */
  errorType: ATTR_ERROR_TYPE,
  /** The app's name in the cluster's driftless.yaml. */
  app: 'driftless.app',
  /** How the app syncs: auto, manual, dry-run. */
  mode: 'driftless.sync.mode',
  /** How the sync ended: succeeded, failed, planned, waiting-approval, approval-stale. */
  outcome: 'driftless.sync.outcome',
  /** The sync wave an apply span writes. */
  wave: 'driftless.apply.wave',
  /** The apply phase of a wave: crd, namespace, pre-hook, cluster, namespaced, post-hook. */
  phase: 'driftless.apply.phase',
  /** `group/version Kind` of the object a span is about. */
  objectKind: 'driftless.object.kind',
  /** Name of the object a span is about. */
  objectName: 'driftless.object.name',
  /** Drift episode id. */
  driftId: 'driftless.drift.id',
} as const;

/** Options of {@link initTelemetry}. */
export interface TelemetryOptions {
  /** `service.name` of every span (overridden by OTEL_SERVICE_NAME). */
  serviceName: string;
  /** `service.version`. */
  serviceVersion?: string;
  /**
   * More resource attributes, e.g. `{ [SpanAttr.cluster]: 'prod-eu' }` for an agent.
   * OTEL_RESOURCE_ATTRIBUTES adds to them (and wins on a clash).
   */
  resourceAttributes?: Attributes;
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
  if (otlpRequested(env)) {
    const url = otlpTracesUrl(env);
    processors.push(new BatchSpanProcessor(new LazyOtlpExporter(url)));
  }
  const resource = resourceFromAttributes({
    ...options.resourceAttributes,
    ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
  })
    .merge(env === process.env ? detectResources({ detectors: [envDetector] }) : null)
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: env['OTEL_SERVICE_NAME'] || options.serviceName,
      }),
    );
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  return { exporting: processors.length > 0, shutdown: () => provider.shutdown() };
}

/**
 * The OTLP/HTTP (protobuf) span exporter, loaded with the first batch of spans: a process that
 * exports nothing never loads its code (about 4 MiB resident). A failed load fails that batch,
 * and the next batch tries again.
 */
class LazyOtlpExporter implements SpanExporter {
  readonly #url: string | undefined;
  #exporter: Promise<SpanExporter> | undefined;

  constructor(url: string | undefined) {
    this.#url = url;
  }

  #load(): Promise<SpanExporter> {
    this.#exporter ??= import('@opentelemetry/exporter-trace-otlp-proto').then(
      ({ OTLPTraceExporter }) => new OTLPTraceExporter(this.#url ? { url: this.#url } : {}),
      (err: unknown) => {
        this.#exporter = undefined;
        throw new Error(`cannot load the OTLP exporter: ${errorMessage(err)}`, { cause: err });
      },
    );
    return this.#exporter;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#load().then(
      (exporter) => exporter.export(spans, done),
      (error: unknown) =>
        done({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : undefined }),
    );
  }

  async shutdown(): Promise<void> {
    await (await this.#exporter?.catch(() => undefined))?.shutdown();
  }

  async forceFlush(): Promise<void> {
    await (await this.#exporter?.catch(() => undefined))?.forceFlush?.();
  }
}

/**
 * Where OTLP/HTTP spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, or
 * OTEL_EXPORTER_OTLP_ENDPOINT with `/v1/traces` appended (the OTLP exporter
 * specification); undefined leaves the exporter's default (http://localhost:4318).
 */
export function otlpTracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  if (traces) return traces;
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
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
      markFailed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Marks `span` as failed by `err`: the exception event, ERROR status with the
 * message, and `error.type` (the error's class name).
 */
export function markFailed(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setAttribute(SpanAttr.errorType, error.name || 'Error');
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
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

/** The span a W3C `traceparent` names; undefined when it is empty or malformed. */
export function spanContextOf(traceparent: string): SpanContext | undefined {
  if (!traceparent) return undefined;
  const sc = trace.getSpanContext(extractTraceContext({ traceparent }));
  return sc && isSpanContextValid(sc) ? sc : undefined;
}

/**
 * A span link to the span a W3C `traceparent` names (e.g. the sync that set a
 * value, read back from an object's annotation); no link when it is unusable.
 */
export function linksTo(traceparent: string, attributes?: Attributes): Link[] {
  const sc = spanContextOf(traceparent);
  return sc ? [{ context: sc, ...(attributes ? { attributes } : {}) }] : [];
}

/** The trace id of a W3C `traceparent`; '' when it is empty or malformed. */
export function traceIdOf(traceparent: string): string {
  return spanContextOf(traceparent)?.traceId ?? '';
}
