import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { linksTo, otlpRequested, otlpTracesUrl, spanContextOf, traceIdOf } from './telemetry.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('telemetry helpers', () => {
  it('reads the OTLP traces URL as the OpenTelemetry exporter specification says', () => {
    assert.equal(
      otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/' }),
      'http://jaeger:4318/v1/traces',
    );
    assert.equal(
      otlpTracesUrl({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/custom',
      }),
      'http://tempo:4318/custom',
    );
    assert.equal(otlpTracesUrl({}), undefined);
    assert.equal(otlpRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }), true);
    assert.equal(
      otlpRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_TRACES_EXPORTER: 'none' }),
      false,
    );
  });

  it('turns a W3C traceparent into a span link, and nothing else into one', () => {
    assert.equal(traceIdOf(TRACEPARENT), '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(spanContextOf(TRACEPARENT)?.spanId, '00f067aa0ba902b7');
    const [link, ...more] = linksTo(TRACEPARENT, { why: 'test' });
    assert.equal(more.length, 0);
    assert.equal(link?.context.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.deepEqual(link?.attributes, { why: 'test' });
    for (const bad of [
      '',
      'not-a-traceparent',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    ]) {
      assert.deepEqual(linksTo(bad), [], bad);
      assert.equal(traceIdOf(bad), '', bad);
    }
  });
});
