import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Writable } from 'node:stream';
import {
  Backoff,
  canonicalJson,
  flagEnvName,
  createLogger,
  extractTraceContext,
  FlagError,
  flagsHelp,
  formatDuration,
  getTracer,
  initTelemetry,
  injectTraceContext,
  inSpan,
  parseDuration,
  parseFlags,
  retry,
  TerminalError,
  TransientError,
  type Clock,
} from './index.ts';

describe('backoff', () => {
  it('grows by the factor up to the cap, with bounded jitter', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0, random: () => 0.5 });
    assert.deepEqual(
      [b.next(), b.next(), b.next(), b.next(), b.next()],
      [100, 200, 400, 800, 1000],
    );
    b.reset();
    assert.equal(b.next(), 100);
    const j = new Backoff({ initialMs: 1000, jitter: 0.2, random: () => 0 });
    assert.equal(j.next(), 800);
  });
  it('retries transient errors and stops at a terminal one', async () => {
    const waits: number[] = [];
    const clock: Clock = { now: () => 0, sleep: async (ms) => void waits.push(ms) };
    let calls = 0;
    const value = await retry(
      async () => {
        if (++calls < 3) throw new TransientError('try again');
        return 'ok';
      },
      { clock, jitter: 0, initialMs: 10 },
    );
    assert.equal(value, 'ok');
    assert.deepEqual(waits, [10, 20]);
    calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw new TerminalError('bad input');
        },
        { clock },
      ),
      /bad input/,
    );
    assert.equal(calls, 1);
  });
});

describe('durations and flags', () => {
  it('parses durations and names bad ones', () => {
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.throws(() => parseDuration('ten seconds'), /invalid duration "ten seconds"/);
  });
  it('formats durations the way people write them', () => {
    assert.deepEqual(
      [250, 1500, 30_000, 60_000, 90_000, 86_400_000, 604_800_000, 5_400_000].map(formatDuration),
      ['250ms', '1.5s', '30s', '1m', '1m30s', '1d', '7d', '90m'],
    );
  });
  const spec = {
    repoUrl: { type: 'string', default: '', help: 'Git repository URL.' },
    pollInterval: { type: 'duration', default: 60_000, help: 'How often to poll.' },
    selfHeal: { type: 'boolean', default: true, help: 'Heal drift.' },
    labels: { type: 'list', default: [] as string[], help: 'Labels.' },
    output: { type: 'string', default: 'table', help: 'Output format.', short: 'o' },
  } as const;
  it('takes flag over env over default', () => {
    const env = { DL_REPO_URL: 'http://env', DL_POLL_INTERVAL: '5s' };
    const { values, positionals } = parseFlags(
      spec,
      ['--repo-url=http://flag', 'run', '--no-self-heal', '-o', 'json', '--labels', 'a=1,b=2'],
      { envPrefix: 'DL', env },
    );
    assert.equal(values.repoUrl, 'http://flag');
    assert.equal(values.pollInterval, 5000);
    assert.equal(values.selfHeal, false);
    assert.equal(values.output, 'json');
    assert.deepEqual(values.labels, ['a=1', 'b=2']);
    assert.deepEqual(positionals, ['run']);
  });
  it('names the unknown flag and the bad value', () => {
    assert.throws(
      () => parseFlags(spec, ['--repo'], { envPrefix: 'DL', env: {} }),
      (e: unknown) => e instanceof FlagError && /unknown flag --repo/.test(e.message),
    );
    assert.throws(
      () => parseFlags(spec, ['--poll-interval', 'soon'], { envPrefix: 'DL', env: {} }),
      /flag --poll-interval: invalid duration "soon"/,
    );
    assert.throws(
      () => parseFlags(spec, [], { envPrefix: 'DL', env: { DL_SELF_HEAL: 'maybe' } }),
      /DL_SELF_HEAL: "maybe" is not a boolean/,
    );
  });
  it('documents every flag with env var and default', () => {
    const help = flagsHelp(spec, 'DL');
    assert.match(
      help,
      /--poll-interval duration\n\s+How often to poll.\n\s+env DL_POLL_INTERVAL, default 1m/,
    );
    assert.match(help, /-o, --output string/);
  });
});

describe('telemetry and logs', () => {
  const exporter = new InMemorySpanExporter();
  initTelemetry({
    serviceName: 'test',
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    env: {},
  });
  it('carries a trace across a W3C carrier and into log lines', async () => {
    const tracer = getTracer('test');
    const lines: string[] = [];
    const log = createLogger({
      name: 't',
      destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }),
    });
    let carrier = { traceparent: '', tracestate: '' };
    await inSpan(tracer, 'sync', { app: 'web' }, async () => {
      carrier = injectTraceContext();
      log.info({ token: 's3cret' }, 'synced');
    });
    await inSpan(tracer, 'ingest', {}, async () => undefined, extractTraceContext(carrier));
    const [sync, ingest] = exporter.getFinishedSpans();
    assert.ok(sync && ingest);
    assert.equal(ingest.spanContext().traceId, sync.spanContext().traceId);
    assert.equal(ingest.parentSpanContext?.spanId, sync.spanContext().spanId);
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(line['trace_id'], sync.spanContext().traceId);
    assert.equal(line['token'], '[redacted]');
  });
  it('marks a failed span as an error', async () => {
    exporter.reset();
    await assert.rejects(
      inSpan(getTracer('test'), 'apply', {}, async () => {
        throw new Error('boom');
      }),
    );
    assert.equal(exporter.getFinishedSpans()[0]?.status.code, 2);
  });
});

describe('canonicalJson', () => {
  it('gives equal text for equal values whatever the key order, and keeps array order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [2, 1], c: null } }),
      '{"a":{"c":null,"d":[2,1]},"b":1}',
    );
    assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
    assert.equal(canonicalJson(undefined), 'undefined');
  });
});

describe('flagEnvName', () => {
  it('is the prefix and the flag name in upper snake case', () => {
    assert.equal(flagEnvName('DRIFTLESS', 'repoUrl'), 'DRIFTLESS_REPO_URL');
    assert.equal(flagEnvName('DRIFTLESS', 'namespace'), 'DRIFTLESS_NAMESPACE');
  });
});
