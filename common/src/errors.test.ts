import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  classify,
  CODE_CLASSES,
  DriftlessError,
  errorMessage,
  explainClass,
  GRPC_CODE_CLASSES,
  HTTP_STATUS_CLASSES,
  isAbort,
  isRetryable,
  SQLSTATE_CLASSES,
  TerminalError,
  TransientError,
  WaitingError,
  type ErrorClass,
} from './index.ts';

/** An error shaped like the API server's answer, wrapped the way our modules wrap it. */
function wrapped(cause: object): DriftlessError {
  return new DriftlessError('apply Deployment web/api', {
    cause: Object.assign(new Error('x'), cause),
  });
}

describe('classify', () => {
  it('takes the class of our typed errors from their type, whatever their cause', () => {
    assert.equal(
      classify(new TerminalError('bad manifest', { cause: { statusCode: 503 } })),
      'terminal',
    );
    assert.equal(
      classify(new TransientError('git down', { cause: { statusCode: 422 } })),
      'transient',
    );
    assert.equal(classify(new WaitingError('not healthy yet')), 'waiting');
  });

  it('classifies every listed HTTP status, wherever the client put it', () => {
    const expected: Record<number, ErrorClass> = {
      400: 'terminal',
      401: 'terminal',
      403: 'terminal',
      404: 'terminal',
      405: 'terminal',
      406: 'terminal',
      408: 'transient',
      409: 'transient',
      410: 'transient',
      413: 'terminal',
      415: 'terminal',
      422: 'terminal',
      425: 'transient',
      429: 'transient',
      500: 'transient',
      501: 'terminal',
      502: 'transient',
      503: 'transient',
      504: 'transient',
    };
    assert.deepEqual(
      Object.keys(HTTP_STATUS_CLASSES).map(Number),
      Object.keys(expected).map(Number),
    );
    for (const [status, cls] of Object.entries(expected)) {
      const s = Number(status);
      for (const shape of [
        { statusCode: s },
        { status: s },
        { code: s },
        { response: { status: s } },
        { data: { statusCode: s } },
      ]) {
        assert.equal(classify(shape), cls, `${JSON.stringify(shape)}`);
        assert.equal(classify(wrapped(shape)), cls, `wrapped ${JSON.stringify(shape)}`);
      }
      assert.match(explainClass({ statusCode: s }).reason, new RegExp(`^HTTP ${s}: \\w`));
    }
    assert.equal(classify({ statusCode: 418 }), 'terminal', 'unlisted 4xx');
    assert.equal(classify({ statusCode: 507 }), 'transient', 'unlisted 5xx');
  });

  it('classifies every gRPC code, as grpc-js reports it and as our link errors carry it', () => {
    const expected: Record<number, ErrorClass> = {
      1: 'transient',
      2: 'transient',
      3: 'terminal',
      4: 'transient',
      5: 'terminal',
      6: 'terminal',
      7: 'terminal',
      8: 'transient',
      9: 'terminal',
      10: 'transient',
      11: 'terminal',
      12: 'terminal',
      13: 'transient',
      14: 'transient',
      15: 'terminal',
      16: 'terminal',
    };
    assert.deepEqual(Object.keys(GRPC_CODE_CLASSES).map(Number), Object.keys(expected).map(Number));
    for (const [code, cls] of Object.entries(expected)) {
      const c = Number(code);
      assert.equal(classify({ code: c, details: 'd', metadata: {} }), cls, `ServiceError ${c}`);
      assert.equal(classify(new DriftlessError('enroll', { cause: { grpcCode: c } })), cls);
    }
  });

  it('classifies every listed string code (sockets, NATS, files)', () => {
    for (const [code, [cls]] of Object.entries(CODE_CLASSES)) {
      assert.equal(classify(Object.assign(new Error(code), { code })), cls, code);
      assert.equal(classify(wrapped({ code })), cls, `wrapped ${code}`);
    }
    assert.equal(classify({ code: 'ECONNRESET' }), 'transient');
    assert.equal(classify({ code: 'AUTHORIZATION_VIOLATION' }), 'terminal');
    assert.equal(classify({ code: '503' }), 'transient', 'NATS no responders');
    assert.equal(classify({ code: '404' }), 'terminal', 'JetStream not found');
  });

  it('classifies database errors: PostgreSQL SQLSTATE classes and SQLite result codes', () => {
    for (const [prefix, [cls]] of Object.entries(SQLSTATE_CLASSES)) {
      assert.equal(classify({ code: `${prefix}001`, severity: 'ERROR' }), cls, prefix);
    }
    assert.equal(classify({ code: '57P01', severity: 'FATAL' }), 'transient', 'admin shutdown');
    assert.equal(classify({ code: '23505', severity: 'ERROR' }), 'terminal', 'unique violation');
    assert.equal(classify({ code: 'ERR_SQLITE_ERROR', errcode: 5 }), 'transient', 'busy');
    assert.equal(
      classify({ code: 'ERR_SQLITE_ERROR', errcode: 517 }),
      'transient',
      'busy snapshot',
    );
    assert.equal(classify({ code: 'ERR_SQLITE_ERROR', errcode: 19 }), 'terminal', 'constraint');
  });

  it('treats aborts and timeouts as transient, and sees aborts through causes', () => {
    const abort = new DOMException('stopped', 'AbortError');
    assert.equal(classify(abort), 'transient');
    assert.equal(classify(new DOMException('late', 'TimeoutError')), 'transient');
    assert.equal(isAbort(new DriftlessError('plan', { cause: abort })), true);
    assert.equal(isAbort(new Error('boom')), false);
    const c = new AbortController();
    c.abort(new Error('agent stopping'));
    assert.equal(isAbort(new Error('anything'), c.signal), true);
  });

  it('takes the worst member of an AggregateError', () => {
    const both = new AggregateError([{ statusCode: 503 }, { statusCode: 422 }]);
    assert.equal(classify(new DriftlessError('apply', { cause: both })), 'terminal');
    assert.equal(
      classify(new AggregateError([{ statusCode: 503 }, { code: 'ECONNRESET' }])),
      'transient',
    );
    assert.equal(
      classify(new AggregateError([{ statusCode: 503 }, new WaitingError('w')])),
      'waiting',
    );
  });

  it('assumes an unexplained failure passes, and exposes the class on our errors', () => {
    assert.equal(classify(new Error('truncated pack')), 'transient');
    assert.equal(classify('a string'), 'transient');
    assert.equal(isRetryable(new TerminalError('x')), false);
    assert.equal(wrapped({ statusCode: 409 }).errorClass, 'transient');
  });

  it('joins the chain of causes into one message', () => {
    const err = new TerminalError('apply Deployment web/api', {
      cause: new Error('field is immutable'),
    });
    assert.equal(errorMessage(err), 'apply Deployment web/api: field is immutable');
    assert.equal(errorMessage(new DriftlessError('a', { cause: new AggregateError([]) })), 'a');
    // A cause there only to classify (an HTTP status) adds no "[object Object]".
    assert.equal(
      errorMessage(new DriftlessError('HTTP 500', { cause: { status: 500 } })),
      'HTTP 500',
    );
    assert.equal(errorMessage(new DriftlessError('a', { cause: { message: 'b' } })), 'a: b');
  });
});
