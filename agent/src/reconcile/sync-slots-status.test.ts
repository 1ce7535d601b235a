import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../test/engine/clock.ts';
import {
  appEntry,
  clusterYaml,
  configMap,
  testEngine,
  type TestEngine,
} from '../../test/engine/engine.ts';

describe('an app waiting for a sync slot (appConcurrency)', () => {
  let e: TestEngine | undefined;
  afterEach(async () => {
    await e?.agent.stop();
    e?.close();
    e = undefined;
  });

  it('says in its status that it waits its turn, then syncs', async () => {
    e = testEngine(
      {
        'clusters/test/driftless.yaml': clusterYaml(appEntry('a') + appEntry('b')),
        'apps/a/cm.yaml': configMap('a-config'),
        'apps/b/cm.yaml': configMap('b-config'),
      },
      { appConcurrency: 1 },
    );
    e.kube.hold('apply', (ref) => ref.namespace?.startsWith('ns-') === true);
    const pass = e.agent.reconcileOnce();
    await waitFor(() => e!.kube.heldCount === 1, 'one app applying');
    const [holding, waiting] =
      e.reporter.status('a')?.message?.includes('apply') === true ? ['a', 'b'] : ['b', 'a'];
    await waitFor(
      () => /waiting for a free sync slot/.test(e!.reporter.status(waiting)?.message ?? ''),
      `${waiting} shows that it waits for a slot`,
    );
    const status = e.reporter.status(waiting);
    assert.equal(status?.syncStatus, 'Syncing');
    assert.match(
      status?.message ?? '',
      /^syncing [0-9a-f]{7}: waiting for a free sync slot \(--app-concurrency\)$/,
    );
    assert.match(e.reporter.status(holding)?.message ?? '', /: apply$/);
    e.kube.release();
    assert.equal(await pass, true);
    assert.equal(e.reporter.status(waiting)?.syncStatus, 'Synced');
  });
});
