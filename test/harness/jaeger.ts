/**
 * Jaeger v2 (`github.com/jaegertracing/jaeger/cmd/jaeger`, built by `make tools`) as the real
 * trace backend: an OTLP receiver (HTTP and gRPC) feeding in-memory storage, and the query API
 * that tests read traces back from. Every port is a free one on 127.0.0.1, so several can run
 * at once. The module carries no UI bundle: `/` serves Jaeger's placeholder page, the query
 * API (`/api/traces/{id}`, `/api/v3/traces/{id}`) is complete.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from './binaries.ts';
import { HarnessError } from './errors.ts';
import { freePort, retryOnPortClash } from './net.ts';
import { createTempDir, startProcess, waitForReady, type ServerProcess } from './process.ts';

/** Options of {@link startJaeger}. */
export interface JaegerOptions {
  /** Query API and UI port on 127.0.0.1. Default: a free one. */
  queryPort?: number;
  /** OTLP/HTTP port on 127.0.0.1. Default: a free one. */
  otlpHttpPort?: number;
  /** Give up when Jaeger is not healthy after this long. Default: 30000 ms. */
  startTimeoutMs?: number;
}

/** One span as Jaeger's JSON query API (`/api/traces/{id}`) returns it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  /** CHILD_OF is the parent; FOLLOWS_FROM are span links. */
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  /** Microseconds since the epoch. */
  startTime: number;
  /** Microseconds. */
  duration: number;
  tags: { key: string; type: string; value: unknown }[];
  processID: string;
}

/** One trace from Jaeger's JSON query API. */
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  /** processID → the service and its resource attributes. */
  processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
}

/** A running Jaeger. */
export interface Jaeger {
  /** OTLP/HTTP base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`, `http://127.0.0.1:PORT`. */
  readonly otlpHttpUrl: string;
  /** OTLP/gRPC address, `127.0.0.1:PORT`. */
  readonly otlpGrpcAddress: string;
  /** Query API and UI base URL, `http://127.0.0.1:PORT`. */
  readonly queryUrl: string;
  /** The process (logs: `process.logPath`). */
  readonly process: ServerProcess;
  /**
   * The `OTEL_*` variables that make a Driftless process export its spans here promptly
   * (service name included when given).
   */
  otelEnv(serviceName?: string): Record<string, string>;
  /** The trace with this id; undefined while Jaeger has none of its spans. */
  trace(traceId: string): Promise<JaegerTrace | undefined>;
  /** Traces of `service` (optionally one operation), newest first, up to `limit` (default 20). */
  findTraces(service: string, operation?: string, limit?: number): Promise<JaegerTrace[]>;
  /** Stops Jaeger and removes its temp folder. Idempotent. */
  stop(): Promise<void>;
}

/** The value of a span tag, or undefined. */
export function tagOf(span: Pick<JaegerSpan, 'tags'>, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

/** Jaeger's collector configuration: OTLP in, memory storage, query API out, no fixed port. */
function configYaml(ports: {
  grpc: number;
  http: number;
  query: number;
  queryGrpc: number;
  health: number;
}): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${ports.health}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${ports.query}
    grpc:
      endpoint: 127.0.0.1:${ports.queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${ports.grpc}
      http:
        endpoint: 127.0.0.1:${ports.http}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/**
 * Starts `jaeger --config FILE` with OTLP receivers and the query API on 127.0.0.1 and
 * resolves once its health check answers and the query API serves.
 */
export function startJaeger(options: JaegerOptions = {}): Promise<Jaeger> {
  return retryOnPortClash(() => startJaegerOnce(options));
}

async function startJaegerOnce(options: JaegerOptions): Promise<Jaeger> {
  const command = findBinary('jaeger');
  const dir = createTempDir('jaeger');
  let server: ServerProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await server?.stop();
      dir.remove();
    })();
    return stopping;
  };
  try {
    const ports = {
      grpc: await freePort(),
      http: options.otlpHttpPort ?? (await freePort()),
      query: options.queryPort ?? (await freePort()),
      queryGrpc: await freePort(),
      health: await freePort(),
    };
    const config = join(dir.path, 'jaeger.yaml');
    writeFileSync(config, configYaml(ports));
    server = startProcess({ name: 'jaeger', command, args: ['--config', config], dir });
    const queryUrl = `http://127.0.0.1:${ports.query}`;
    await waitForReady(
      server,
      async () =>
        (await fetch(`http://127.0.0.1:${ports.health}/status`)).ok &&
        (await fetch(`${queryUrl}/api/services`)).ok,
      {
        what: 'jaeger healthy and serving its query API',
        timeoutMs: options.startTimeoutMs ?? 30_000,
      },
    );
    const otlpHttpUrl = `http://127.0.0.1:${ports.http}`;
    const getJson = async <T>(path: string): Promise<T | undefined> => {
      const res = await fetch(queryUrl + path);
      if (res.status === 404) return undefined;
      if (!res.ok) throw new HarnessError(`jaeger GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    return {
      otlpHttpUrl,
      otlpGrpcAddress: `127.0.0.1:${ports.grpc}`,
      queryUrl,
      process: server,
      otelEnv: (serviceName) => ({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: otlpHttpUrl,
        // Export each batch within a fraction of a second, so tests wait on spans, not timers.
        OTEL_BSP_SCHEDULE_DELAY: '200',
        ...(serviceName ? { OTEL_SERVICE_NAME: serviceName } : {}),
      }),
      async trace(traceId) {
        const body = await getJson<{ data?: JaegerTrace[] }>(`/api/traces/${traceId}`);
        return body?.data?.[0];
      },
      async findTraces(service, operation, limit = 20) {
        const q = new URLSearchParams({ service, limit: String(limit), lookback: '1h' });
        if (operation) q.set('operation', operation);
        const body = await getJson<{ data?: JaegerTrace[] }>(`/api/traces?${q.toString()}`);
        return body?.data ?? [];
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw new HarnessError(
      `start jaeger: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
