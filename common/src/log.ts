import { pino, type Logger, type LoggerOptions } from 'pino';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';

export type { Logger } from 'pino';

/** Options of {@link createLogger}. */
export interface LogOptions {
  /** Component name, logged as `name`. */
  name: string;
  /** Minimum level. Default `$LOG_LEVEL`, else `info`. */
  level?: string;
  /** Where lines go. Default standard error, so command output on stdout stays clean. */
  destination?: NodeJS.WritableStream;
}

/**
 * Fields that may hold a secret; pino replaces their values before a line is
 * written, wherever they appear one level deep.
 */
const REDACT = ['token', 'password', 'authorization', 'secret', 'privateKey', 'key'].flatMap(
  (k) => [k, `*.${k}`],
);

/**
 * A pino JSON logger whose lines carry `trace_id` and `span_id` of the active
 * OpenTelemetry span, so logs join the trace of the sync that wrote them.
 */
export function createLogger(options: LogOptions): Logger {
  const config: LoggerOptions = {
    name: options.name,
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const span = trace.getSpan(context.active());
      const sc = span?.spanContext();
      return sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
    },
  };
  return pino(config, (options.destination ?? process.stderr) as pino.DestinationStream);
}
