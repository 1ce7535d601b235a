import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readNatsInfo, startNats, type NatsServer } from './index.ts';

describe('startNats', () => {
  let nats: NatsServer;
  let plain: NatsServer;

  before(async () => {
    [nats, plain] = await Promise.all([
      startNats(),
      startNats({ jetstream: false, config: 'max_payload: 65536\n' }),
    ]);
  });

  after(async () => {
    await Promise.all([nats?.stop(), plain?.stop()]);
  });

  it('greets clients on its URL with JetStream enabled', async () => {
    assert.match(nats.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    const info = await readNatsInfo(nats.port);
    assert.equal(info['jetstream'], true);
    assert.equal(info['port'], nats.port);
  });

  it('reports JetStream on its monitoring endpoint', async () => {
    const res = await fetch(`${nats.monitorUrl}/jsz`);
    assert.equal(res.status, 200);
    const jsz = (await res.json()) as { config?: { store_dir?: string } };
    assert.ok(jsz.config?.store_dir?.includes('driftless-nats-'), JSON.stringify(jsz.config));
  });

  it('applies the given config and can run without JetStream', async () => {
    const info = await readNatsInfo(plain.port);
    assert.equal(info['max_payload'], 65536);
    assert.notEqual(info['jetstream'], true);
  });
});
