import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@driftless/common';
import { FakeKube } from '../../test/engine/fake-kube.ts';
import { settle } from '../../test/engine/clock.ts';
import { EventReporter } from './events.ts';
import { syncReport as sync } from '../../test/reports.ts';

const reporter = (kube: FakeKube) =>
  new EventReporter({
    client: kube.client,
    cluster: 'dev',
    namespace: 'driftless-system',
    logger: createLogger({ name: 'events-test', level: 'silent' }),
  });

describe('EventReporter', () => {
  it('records no Event for a carried app: nothing happened in the cluster', async () => {
    const kube = new FakeKube();
    const r = reporter(kube);
    r.syncResult(sync({ carriedFrom: 'b'.repeat(40), steps: [{ name: 'carry', durationMs: 0 }] }));
    r.syncResult(sync({}));
    await settle();
    assert.equal(kube.events.length, 1, 'only the real sync');
    assert.equal(kube.events[0]?.['reason'], 'Synced');
  });

  it('records an invalid driftless.yaml as a Warning in the state namespace, and its repair as Normal', async () => {
    const kube = new FakeKube();
    const r = reporter(kube);
    r.configStatus({
      revision: 'b'.repeat(40),
      valid: false,
      error: 'clusters/dev/driftless.yaml:8:7: spec.apps[0].selfheal: unknown field',
      file: 'clusters/dev/driftless.yaml',
      line: 8,
      appliedRevision: 'a'.repeat(40),
      checkedAt: 1,
    });
    r.configStatus({
      revision: 'c'.repeat(40),
      valid: true,
      error: '',
      file: 'clusters/dev/driftless.yaml',
      line: 0,
      appliedRevision: 'c'.repeat(40),
      checkedAt: 2,
    });
    await settle();
    const [bad, good] = kube.events;
    assert.equal(bad?.['reason'], 'ConfigInvalid');
    assert.equal(bad?.['type'], 'Warning');
    assert.equal((bad?.['metadata'] as { namespace: string }).namespace, 'driftless-system');
    assert.match(
      String(bad?.['note']),
      /bbbbbbb is invalid; apps stay at the config of aaaaaaa: .*:8:7: .*selfheal/,
    );
    assert.equal(good?.['reason'], 'ConfigValid');
    assert.equal(good?.['type'], 'Normal');
  });

  it('names a sync result by its outcome, Warning only for failures', async () => {
    const kube = new FakeKube();
    const r = reporter(kube);
    r.syncResult(sync({}));
    r.syncResult(sync({ outcome: 'failed', error: 'apply ConfigMap web/x: 503', retryable: true }));
    await settle();
    assert.deepEqual(
      kube.events.map((e) => [e['reason'], e['type']]),
      [
        ['Synced', 'Normal'],
        ['SyncFailed', 'Warning'],
      ],
    );
  });

  it('says what a sync left undone, and makes a sync that left the app degraded a Warning', async () => {
    const kube = new FakeKube();
    const r = reporter(kube);
    const held = '2 object(s) Git no longer declares not pruned while app api does not render';
    r.syncResult(sync({ notes: [held] }));
    r.syncResult(sync({ health: 'Degraded' }));
    r.syncResult(sync({ health: 'Missing' }));
    await settle();
    const [notes, degraded, missing] = kube.events;
    assert.equal(notes?.['type'], 'Normal');
    assert.match(
      String(notes?.['note']),
      /health Healthy; 2 object\(s\) Git no longer declares not pruned/,
    );
    assert.deepEqual(
      [degraded, missing].map((e) => [e?.['reason'], e?.['type']]),
      [
        ['Synced', 'Warning'],
        ['Synced', 'Warning'],
      ],
    );
  });

  it('never throws or blocks when the API server refuses an Event', async () => {
    const kube = new FakeKube();
    kube.fail({ verb: 'event', status: 403 });
    assert.doesNotThrow(() => reporter(kube).syncResult(sync({})));
    await settle();
    assert.equal(kube.events.length, 0);
  });
});
