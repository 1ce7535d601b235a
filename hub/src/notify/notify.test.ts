import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { classify, createLogger, errorMessage } from '@driftless/common';
import { storeWithCluster } from '../../test/enrolled-store.ts';
import { EventBus, type HubEvent } from '../events.ts';
import type { Store } from '../store/index.ts';
import { EventDeriver } from './derive.ts';
import { commitLink, dashboardLink, traceLink, type NotificationEvent } from './model.ts';
import { slackMessage, SLACK_LIMITS } from './providers/index.ts';
import { postJson } from './providers/http.ts';
import { answerOf, OutboundGuard } from '../outbound/index.ts';

/** The test servers listen on loopback, which the hub refuses unless allowed. */
const LOOPBACK_ALLOWED = new OutboundGuard({ allow: ['127.0.0.0/8'] });
import { labelsMatch } from './rules.ts';
import { parseSelector } from '../store/index.ts';
import { ManualClock } from '../../test/manual-clock.ts';

const log = createLogger({ name: 'notify-test', level: 'silent' });
const links = { publicUrl: 'https://hub.example/', commitUrlTemplate: '', traceUrlTemplate: '' };

/** Lets queued promise callbacks run (timers resolved by the manual clock, the deriver queue). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe('EventDeriver', () => {
  let store: Store;
  const clock = new ManualClock(1_000_000);
  const emitted: NotificationEvent[] = [];
  const deriver = (s: Store) =>
    new EventDeriver({
      store: s,
      events: new EventBus(),
      links,
      disconnectGraceMs: 60_000,
      emit: async (e) => {
        emitted.push(e);
      },
      log,
      clock,
    });
  let a: EventDeriver;
  let b: EventDeriver;
  let seq = 0;
  const ev = (type: HubEvent['type'], extra: Partial<HubEvent> = {}): HubEvent => ({
    id: 0,
    atMs: 0,
    type,
    cluster: 'edge',
    ...extra,
  });
  const appReport = (health: 'healthy' | 'degraded' | 'progressing', message = '') =>
    store.ingest(
      'edge',
      ++seq,
      {
        kind: 'app',
        app: {
          app: 'web',
          revision: 'a'.repeat(40),
          syncStatus: 'synced',
          syncMode: 'auto',
          health,
          healthMessage: message,
          driftCount: 0,
          planDigest: '',
          pendingPlan: [],
          message: '',
          lastSyncMs: 0,
        },
      },
      clock.now(),
    );

  before(async () => {
    store = await storeWithCluster('edge');
    // Two derivers on one store stand for two replicas seeing the same events.
    a = deriver(store);
    b = deriver(store);
  });
  after(() => store.close());

  it('health: one degraded per episode, one recovery, nothing for the first healthy report', async () => {
    emitted.length = 0;
    for (const [health, msg] of [
      ['healthy', ''],
      ['progressing', ''],
      ['degraded', 'Deployment web: 0/3 ready'],
      ['degraded', 'Deployment web: 1/3 ready'],
      ['healthy', ''],
    ] as const) {
      await appReport(health, msg);
      await a.handle(ev('app.updated', { app: 'web' }));
      await b.handle(ev('app.updated', { app: 'web' }));
    }
    assert.deepEqual(
      emitted.map((e) => [e.kind, e.severity, e.outcome, e.alert?.firing]),
      [
        ['health.degraded', 'error', 'bad', true],
        ['health.recovered', 'error', 'good', false],
      ],
    );
    assert.equal(emitted[0]!.message, 'Deployment web: 0/3 ready');
    assert.equal(emitted[0]!.links.dashboard, 'https://hub.example/#/clusters/edge/apps/web');
    assert.notEqual(emitted[0]!.key, emitted[1]!.key);
  });

  it('disconnection: nothing within the grace period, one after it, one reconnection', async () => {
    emitted.length = 0;
    await store.setConnected('edge', true, clock.now());
    // Back within the grace period: nothing.
    await store.setConnected('edge', false, clock.now());
    await a.handle(ev('cluster.disconnected'));
    clock.advance(30_000);
    await store.setConnected('edge', true, clock.now());
    await a.handle(ev('cluster.connected'));
    clock.advance(60_000);
    await settle();
    assert.equal(emitted.length, 0);
    // Gone for longer: one notification, even with both replicas timing it.
    await store.setConnected('edge', false, clock.now());
    await a.handle(ev('cluster.disconnected'));
    await b.handle(ev('cluster.disconnected'));
    clock.advance(60_000);
    await settle();
    await a.stop();
    await b.stop();
    assert.deepEqual(
      emitted.map((e) => e.kind),
      ['cluster.disconnected'],
    );
    await store.setConnected('edge', true, clock.now());
    await a.handle(ev('cluster.connected'));
    await b.handle(ev('cluster.connected'));
    assert.deepEqual(
      emitted.map((e) => e.kind),
      ['cluster.disconnected', 'cluster.reconnected'],
    );
  });

  it('config: one error until it is valid again', async () => {
    emitted.length = 0;
    const config = (valid: boolean, revision: string) =>
      store.ingest(
        'edge',
        ++seq,
        {
          kind: 'config',
          config: {
            revision,
            valid,
            error: valid ? '' : 'driftless.yaml:3:5: spec.apps: expected a list',
            file: 'clusters/edge/driftless.yaml',
            line: valid ? 0 : 3,
            appliedRevision: '',
            checkedMs: clock.now(),
          },
        },
        clock.now(),
      );
    for (const [valid, rev] of [
      [false, 'b'],
      [false, 'c'],
      [true, 'd'],
    ] as const) {
      await config(valid, rev.repeat(40));
      await a.handle(ev('config.updated'));
    }
    assert.deepEqual(
      emitted.map((e) => [e.kind, e.revision.slice(0, 1)]),
      [
        ['config.error', 'b'],
        ['config.fixed', 'd'],
      ],
    );
    assert.match(emitted[0]!.message, /expected a list/);
  });
});

describe('links and selectors', () => {
  it('commit links come from the template, or from known hosts; never with credentials', () => {
    const s = { publicUrl: '', commitUrlTemplate: '', traceUrlTemplate: '' };
    const v = { revision: 'abc1234', cluster: 'c', app: 'a' };
    assert.equal(
      commitLink(s, { ...v, repoUrl: 'https://user:pw@github.com/acme/fleet.git' }),
      'https://github.com/acme/fleet/commit/abc1234',
    );
    assert.equal(
      commitLink(s, { ...v, repoUrl: 'git@gitlab.com:acme/fleet.git' }),
      'https://gitlab.com/acme/fleet/-/commit/abc1234',
    );
    assert.equal(commitLink(s, { ...v, repoUrl: 'https://git.internal/acme/fleet.git' }), '');
    assert.equal(
      commitLink(
        { ...s, commitUrlTemplate: '{repo}/commit/{revision}?app={app}' },
        { ...v, repoUrl: 'https://git.internal/acme/fleet.git' },
      ),
      'https://git.internal/acme/fleet/commit/abc1234?app=a',
    );
    assert.equal(
      traceLink({ ...s, traceUrlTemplate: 'http://jaeger/trace/{traceId}' }, 'f00'),
      'http://jaeger/trace/f00',
    );
    assert.equal(dashboardLink(s, 'c', 'a'), '');
  });

  it('labels match selectors as the API reads them', () => {
    const labels = { env: 'prod', region: 'eu' };
    assert.ok(labelsMatch(parseSelector('env=prod,region!=us,!canary'), labels));
    assert.ok(!labelsMatch(parseSelector('env=prod,gpu'), labels));
    assert.ok(labelsMatch(parseSelector(''), labels));
  });

  it('Slack messages stay within the documented limits whatever the input', () => {
    const m = slackMessage({
      version: 1,
      key: 'k',
      kind: 'sync.failed',
      severity: 'error',
      outcome: 'bad',
      atMs: 0,
      title: '🔥'.repeat(400),
      message: '<&>'.repeat(5000),
      cluster: 'c',
      labels: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'v'])),
      app: 'a',
      revision: 'r',
      links: { commit: '', trace: '', dashboard: `https://x/${'p'.repeat(4000)}` },
    }) as { attachments: { blocks: { type: string; text?: { text: string } }[] }[] };
    const blocks = m.attachments[0]!.blocks;
    assert.ok(blocks.length <= SLACK_LIMITS.blocks);
    const header = blocks.find((b) => b.type === 'header')!;
    assert.ok(Array.from(header.text!.text).length <= SLACK_LIMITS.headerText);
    for (const b of blocks.filter((x) => x.type === 'section' && x.text))
      assert.ok(Array.from(b.text!.text).length <= SLACK_LIMITS.sectionText);
    assert.ok(!blocks.some((b) => b.type === 'actions'), 'a link beyond the URL limit is left out');
  });
});

describe('postJson', () => {
  after(() => LOOPBACK_ALLOWED.close());
  it('names only the failure code of a destination it cannot reach; the detail is for admins', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await assert.rejects(
      postJson(LOOPBACK_ALLOWED, 'webhook destination w', `http://127.0.0.1:${port}/`, '{}'),
      (err: Error) => {
        assert.equal(
          errorMessage(err),
          'webhook destination w: cannot reach the destination (ECONNREFUSED)',
        );
        assert.match(answerOf(err), new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
        assert.equal(classify(err), 'transient');
        return true;
      },
    );
  });
  it('reads only the head of an answer that never ends, and keeps it apart from the error', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.write('upstream broke\n' + 'x'.repeat(8192));
      // Never ended: the connection stays open until the client lets go.
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await assert.rejects(
        postJson(LOOPBACK_ALLOWED, 'webhook destination w', `http://127.0.0.1:${port}/`, '{}'),
        (err: Error) => {
          assert.equal(err.message, 'webhook destination w: HTTP 500');
          assert.equal(answerOf(err), 'upstream broke');
          return true;
        },
      );
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
