import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify } from '@driftless/common';
import { loadOptionalModule, OptionalModuleError } from './optional-module.ts';

/** A module that is not there (a variable, so that the type checker does not look for it). */
const missing = './no-such-module-for-this-test.ts';

describe('loadOptionalModule', () => {
  it('gives the module when it loads', async () => {
    const mod = await loadOptionalModule(
      'the metrics endpoint',
      () => import('./metrics/index.ts'),
    );
    assert.equal(typeof mod.serveMetrics, 'function');
  });

  it('turns a failed import into one terminal error naming the feature, with the cause', async () => {
    const err = await loadOptionalModule('the NATS transport', () => import(missing)).then(
      () => assert.fail('loaded a module that does not exist'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OptionalModuleError);
    assert.match(err.message, /^cannot load the NATS transport: .*no-such-module-for-this-test/);
    assert.ok(err.cause instanceof Error);
    assert.equal(classify(err), 'terminal');
  });
});
