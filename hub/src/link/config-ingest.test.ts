// A ConfigStatus from an agent becomes the cluster's config state: stored (newest wins),
// announced on the event bus, and an unknown state refused rather than guessed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '@driftless/common';
import {
  AgentMessage,
  AppStatus,
  ConfigState,
  type ConfigStatus,
  type HubMessage,
} from '@driftless/proto';
import { EventBus, type HubEvent } from '../events.ts';
import { createMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import { storeWithCluster } from '../../test/enrolled-store.ts';
import { ingestReport, type IngestDeps } from './ingest.ts';

const GOOD = 'a'.repeat(40);
const BROKEN = 'b'.repeat(40);

describe('config state ingest', () => {
  let store: Store;
  let deps: IngestDeps;
  const events: HubEvent[] = [];
  const session = { send: (_m: HubMessage) => true };

  before(async () => {
    store = await storeWithCluster('dev');
    const bus = new EventBus();
    bus.subscribe((e) => void events.push(e));
    deps = { store, events: bus, metrics: createMetrics(), clock: systemClock };
  });
  after(() => store.close());

  const send = (seq: bigint, value: ConfigStatus) =>
    ingestReport(
      deps,
      'dev',
      AgentMessage.create({ seq, body: { $case: 'configStatus', value } }),
      session,
    );
  const status = (over: Partial<ConfigStatus>): ConfigStatus => ({
    revision: GOOD,
    state: ConfigState.CONFIG_STATE_VALID,
    error: '',
    file: 'clusters/dev/driftless.yaml',
    line: 0,
    appliedRevision: GOOD,
    checkedUnixMs: 5n,
    suspensions: [],
    apps: [],
    ...over,
  });

  it('stores the newest state per cluster, with file, line and the config in force', async () => {
    await send(1n, status({}));
    await send(
      2n,
      status({
        revision: BROKEN,
        state: ConfigState.CONFIG_STATE_INVALID,
        error: 'clusters/dev/driftless.yaml:9:7: spec.apps[0].selfheal: unknown field',
        line: 9,
      }),
    );
    const [c] = await store.listConfigStates({ cluster: 'dev' });
    assert.equal(c?.valid, false);
    assert.equal(c?.revision, BROKEN);
    assert.equal(c?.appliedRevision, GOOD, 'the agent still runs the last good config');
    assert.equal(c?.line, 9);
    assert.match(c?.error ?? '', /selfheal/);
    assert.deepEqual(
      events.filter((e) => e.type === 'config.updated').map((e) => e.data?.['valid']),
      [true, false],
    );
  });

  it('refuses a state it does not know', async () => {
    await assert.rejects(send(3n, status({ state: ConfigState.CONFIG_STATE_UNSPECIFIED })), {
      name: 'InvalidArgumentError',
    });
    assert.equal((await store.listConfigStates({ cluster: 'dev' }))[0]?.revision, BROKEN);
  });

  it('marks the apps a valid config no longer lists gone, and says why', async () => {
    const app = (seq: bigint, name: string) =>
      ingestReport(
        deps,
        'dev',
        AgentMessage.create({
          seq,
          body: {
            $case: 'appStatus',
            value: AppStatus.create({ app: name, revision: GOOD, message: 'old words' }),
          },
        }),
        session,
      );
    await app(3n, 'web');
    await app(4n, 'api');
    // An invalid config, or a valid one that does not say its apps, marks nothing gone.
    await send(5n, status({ state: ConfigState.CONFIG_STATE_INVALID, apps: ['web'] }));
    await send(6n, status({ apps: [] }));
    assert.deepEqual(
      (await store.listApps({ cluster: 'dev' })).filter((a) => a.gone).map((a) => a.app),
      [],
    );
    await send(7n, status({ revision: 'c'.repeat(40), apps: ['web'] }));
    const apps = new Map((await store.listApps({ cluster: 'dev' })).map((a) => [a.app, a]));
    assert.equal(apps.get('web')?.gone, false);
    assert.equal(apps.get('web')?.message, 'old words');
    assert.equal(apps.get('api')?.gone, true);
    assert.equal(apps.get('api')?.message, 'removed from clusters/dev/driftless.yaml at ccccccc');
    // A report of the app (listed again) brings it back.
    await app(8n, 'api');
    assert.equal(
      (await store.listApps({ cluster: 'dev' })).find((a) => a.app === 'api')?.gone,
      false,
    );
  });
});
