import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLabels, MAX_LABELS } from '../enroll/index.ts';
import { RateLimitedError } from '../errors.ts';
import { checkHelloApps, MAX_HELLO_APPS } from './hello.ts';
import { MAX_RENEWALS_PER_WINDOW, RENEWAL_WINDOW_MS, RenewalLimiter } from './renew.ts';

describe('link limits', () => {
  it('renewals per cluster: a few per hour, then a clear error until the window moves', () => {
    let now = 1_000_000;
    const limiter = new RenewalLimiter({ now: () => now, sleep: async () => undefined });
    for (let i = 0; i < MAX_RENEWALS_PER_WINDOW; i++) limiter.take('edge');
    assert.throws(
      () => limiter.take('edge'),
      (err: unknown) =>
        err instanceof RateLimitedError &&
        /renew certificate of cluster edge: at most 5 renewals per 60 minutes/.test(err.message),
    );
    limiter.take('other'); // per cluster
    now += RENEWAL_WINDOW_MS;
    limiter.take('edge');
  });

  it('a Hello lists at most MAX_HELLO_APPS apps with sane names', () => {
    const apps = Array.from({ length: MAX_HELLO_APPS }, (_, i) => `app-${i}`);
    checkHelloApps({ apps }, 'Hello from cluster edge');
    assert.throws(
      () => checkHelloApps({ apps: [...apps, 'one-more'] }, 'Hello from cluster edge'),
      /Hello from cluster edge: 1001 apps, more than the 1000 a cluster may have/,
    );
    assert.throws(() => checkHelloApps({ apps: ['x'.repeat(254)] }, 'Hello'), /longer than 253/);
    assert.throws(() => checkHelloApps({ apps: ['a\u0000b'] }, 'Hello'), /control characters/);
  });

  it('a cluster has at most MAX_LABELS labels', () => {
    const labels = Object.fromEntries(
      Array.from({ length: MAX_LABELS + 1 }, (_, i) => [`k${i}`, 'v']),
    );
    assert.throws(() => checkLabels(labels, 'Hello'), /65 labels, more than the 64/);
  });
});
