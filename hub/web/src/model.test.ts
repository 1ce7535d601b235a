import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { App } from './api.ts';
import { EventStreamParser } from './events.ts';
import {
  ago,
  appTone,
  asLastReported,
  describeApp,
  isReporting,
  SYNC,
  fillTemplate,
  lineDiff,
  matchesSelector,
  parseSelector,
  passesStates,
  totals,
} from './model.ts';

const app = (o: Partial<App>): App => ({
  cluster: 'prod-eu',
  app: 'web',
  revision: 'a'.repeat(40),
  syncStatus: 'synced',
  syncMode: 'auto',
  health: 'healthy',
  healthMessage: '',
  driftCount: 0,
  planDigest: '',
  pendingPlan: [],
  message: '',
  lastSync: null,
  updatedAt: null,
  gone: false,
  ...o,
});

describe('label selectors', () => {
  it('match as the hub matches them', () => {
    const labels = { env: 'prod', region: 'eu', gpu: '' };
    const yes = ['', 'env=prod', 'env==prod,region!=us', 'gpu', '!legacy', ' env = prod , gpu '];
    const no = ['env=dev', 'region!=eu', 'legacy', '!gpu', 'env=prod,region=us'];
    for (const s of yes) assert.ok(matchesSelector(labels, parseSelector(s)), s);
    for (const s of no) assert.ok(!matchesSelector(labels, parseSelector(s)), s);
  });
  it('name the bad term', () => {
    assert.throws(() => parseSelector('env=prod,a=b=c'), /"a=b=c"/);
    assert.throws(() => parseSelector('bad key'), /"bad key"/);
  });
});

describe('cells', () => {
  it('take the tone of their worst part and say everything in words', () => {
    assert.equal(appTone(app({})), 'ok');
    assert.equal(appTone(app({ driftCount: 2 })), 'warn');
    assert.equal(appTone(app({ driftCount: 2, health: 'degraded' })), 'bad');
    assert.equal(appTone(app({ syncStatus: 'syncing' })), 'info');
    assert.equal(
      describeApp(app({ syncStatus: 'out-of-sync', driftCount: 1 })),
      'web on prod-eu: out of sync, healthy, 1 drifted object',
    );
  });
  it('pass state filters when any chosen filter holds', () => {
    const a = app({ driftCount: 1 });
    assert.ok(passesStates(a, []));
    assert.ok(passesStates(a, ['degraded', 'drifted']));
    assert.ok(!passesStates(a, ['degraded', 'out-of-sync']));
  });
  it('add up to fleet totals, leaving out apps gone from Git', () => {
    const apps = [
      app({}),
      app({ app: 'b', syncStatus: 'out-of-sync', syncMode: 'manual', planDigest: 'sha256:x' }),
      app({ app: 'c', health: 'missing', driftCount: 3 }),
      app({ app: 'd', gone: true, driftCount: 9 }),
    ];
    const t = totals(
      [
        { name: 'prod-eu', connected: true } as never,
        { name: 'dev', connected: false, config: { state: 'failed' } } as never,
      ],
      (c) => (c === 'prod-eu' ? apps : []),
    );
    assert.deepEqual(t, {
      clusters: 2,
      connected: 1,
      apps: 3,
      synced: 2,
      outOfSync: 1,
      failed: 0,
      degraded: 1,
      driftedApps: 1,
      driftedObjects: 3,
      awaitingApproval: 1,
      configFailed: 1,
      notReporting: 0,
    });
  });
  it('say a time from a clock ahead is in the future, never "0 s ago"', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    assert.equal(ago('2026-12-01T09:59:30Z', now), '30 s ago');
    assert.equal(ago('2026-12-01T10:00:20Z', now), '0 s ago');
    assert.equal(ago('2026-12-01T11:00:00Z', now), '1 h in the future (clocks disagree)');
    assert.equal(ago('2026-11-29T10:00:00Z', now), '2 d ago');
  });
  it('never show an app of a cluster whose agent does not report as synced and good now', () => {
    const gone = {
      name: 'prod-eu',
      connected: false,
      revoked: false,
      lastSeen: new Date(Date.now() - 2 * 3_600_000).toISOString(),
    };
    const revoked = { ...gone, connected: true, revoked: true };
    assert.equal(appTone(app({}), isReporting(gone as never)), 'muted');
    assert.equal(appTone(app({ health: 'degraded' }), false), 'bad');
    assert.equal(
      describeApp(app({}), gone),
      'web on prod-eu: synced, healthy, no drift as last reported; the agent is not connected (last seen 2 h ago)',
    );
    assert.match(describeApp(app({}), revoked), /as last reported; the cluster is revoked$/);
    assert.deepEqual(asLastReported(SYNC.synced, false), {
      tone: 'muted',
      symbol: '✓',
      text: 'Synced (last reported)',
    });
    assert.equal(asLastReported(SYNC.failed, false).tone, 'bad');
    const t = totals([gone as never], () => [app({}), app({ app: 'b', syncStatus: 'failed' })]);
    assert.equal(t.synced, 0);
    assert.equal(t.failed, 1);
    assert.equal(t.notReporting, 2);
  });
});

describe('link templates', () => {
  it('fill placeholders, encoding values but not the repository URL', () => {
    assert.equal(
      fillTemplate('{repo}/commit/{revision}', {
        repo: 'https://github.com/acme/fleet.git',
        revision: 'abc123',
      }),
      'https://github.com/acme/fleet/commit/abc123',
    );
    assert.equal(
      fillTemplate('http://tempo/explore?q={traceId}&c={cluster}', {
        traceId: 'ab',
        cluster: 'a b',
      }),
      'http://tempo/explore?q=ab&c=a%20b',
    );
  });
  it('refuse anything but http(s) links', () => {
    assert.equal(fillTemplate('', { revision: 'x' }), undefined);
    assert.equal(fillTemplate('javascript:alert({revision})', { revision: 'x' }), undefined);
  });
});

describe('line diff', () => {
  it('keeps common lines and marks removed and added ones', () => {
    assert.deepEqual(lineDiff('a\nb\nc', 'a\nB\nc'), [
      { op: ' ', text: 'a' },
      { op: '-', text: 'b' },
      { op: '+', text: 'B' },
      { op: ' ', text: 'c' },
    ]);
  });
});

describe('event stream parser', () => {
  it('joins chunks, skips comments and keeps only complete events', () => {
    const p = new EventStreamParser();
    assert.deepEqual(p.push('retry: 3000\n: connected\n\nid: 1\nevent: app.updated\nda'), []);
    assert.deepEqual(p.push('ta: {"id":1}\n\n: keepalive\n\nid: 2\r\ndata: {"id":2}\r\n\r\n'), [
      '{"id":1}',
      '{"id":2}',
    ]);
  });
});
