/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-explicit-any --
   API answers are JSON checked field by field by the assertions. */
// The drift ledger's numbers against a scripted sequence of drift episodes with known times,
// sent as an agent sends them (gRPC, through the hub's real ingest) to the real hub process on
// SQLite and on PostgreSQL. Every expected number below is worked out by hand in its comment.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DriftChangeTimeSource,
  DriftClosedBy,
  DriftType,
  type AgentMessageBody,
} from '@driftless/proto';
import { startPostgres, waitFor, type PostgresServer } from '@driftless/test';
import { runCli } from '../../../hub/src/cli/index.ts';
import {
  api,
  connect,
  enroll,
  makeAgentKey,
  startHubProcess,
  type AgentStream,
  type HubProcess,
} from './helpers.ts';

const DAY = 86_400_000;
/** 2026-10-01T00:00:00Z: the window is the 7 days from here. */
const T0 = Date.parse('2026-10-01T00:00:00Z');
const WINDOW = 'from=2026-10-01&to=2026-10-08';
const FORMULA_MANAGER = '=HYPERLINK("http://evil.example")';

interface Episode {
  id: string;
  cluster: 'prod-eu' | 'dev-us';
  app: string;
  kind: string;
  name: string;
  manager: string;
  paths: string[];
  /** When the change happened, and how the agent knows; undefined: unknown. */
  changed?: { at: number; source: 'managed-fields' | 'watch-event' };
  detected: number;
  /** How and when it closed; undefined: still open. */
  closed?: { at: number; by: 'heal' | 'sync' | 'reverted' };
  /** The manager a fight was with (on the open report). */
  fight?: string;
  deleted?: boolean;
}

/** Most episodes: someone edits the web Deployment in prod-eu with kubectl. */
const WEB = {
  cluster: 'prod-eu',
  app: 'web',
  kind: 'Deployment',
  name: 'web',
  manager: 'kubectl-edit',
} as const;

const at = (day: number, hh: number, ms = 0) => T0 + day * DAY + hh * 3_600_000 + ms;
const EPISODES: Episode[] = [
  // detect 500, heal 300
  {
    id: 'e1',
    ...WEB,
    paths: ['.spec.replicas'],
    changed: { at: at(0, 1), source: 'managed-fields' },
    detected: at(0, 1, 500),
    closed: { at: at(0, 1, 800), by: 'heal' },
  },
  // detect 2000, heal 1200
  {
    id: 'e2',
    ...WEB,
    paths: ['.spec.replicas'],
    changed: { at: at(0, 10), source: 'managed-fields' },
    detected: at(0, 10, 2000),
    closed: { at: at(0, 10, 3200), by: 'heal' },
  },
  // detect 1000, heal 700
  {
    id: 'e3',
    ...WEB,
    paths: ['.spec.template.spec.containers[0].image'],
    changed: { at: at(1, 9), source: 'managed-fields' },
    detected: at(1, 9, 1000),
    closed: { at: at(1, 9, 1700), by: 'heal' },
  },
  // detect 250, heal 5000; a manager and a path that CSV must quote and neutralise
  {
    id: 'e4',
    cluster: 'prod-eu',
    app: 'web',
    kind: 'ConfigMap',
    name: 'settings',
    manager: FORMULA_MANAGER,
    paths: ['.data["a,b"]'],
    changed: { at: at(1, 12), source: 'watch-event' },
    detected: at(1, 12, 250),
    closed: { at: at(1, 12, 5250), by: 'heal' },
  },
  // a fight with the HPA, closed by a sync once Git stopped declaring replicas: no timings
  {
    id: 'e5',
    cluster: 'prod-eu',
    app: 'web',
    kind: 'Deployment',
    name: 'web',
    manager: 'hpa-controller',
    paths: ['.spec.replicas'],
    changed: { at: at(2, 8), source: 'managed-fields' },
    detected: at(2, 8, 400),
    closed: { at: at(2, 9), by: 'sync' },
    fight: 'hpa-controller',
  },
  // another cluster; changed back by someone else after 60 s; change time unknown
  {
    id: 'e6',
    cluster: 'dev-us',
    app: 'api',
    kind: 'Service',
    name: 'api',
    manager: 'kubectl-patch',
    paths: ['.spec.ports'],
    detected: at(3, 15),
    closed: { at: at(3, 15, 60_000), by: 'reverted' },
  },
  // a deletion, still open; detect 100 (from the watch event)
  {
    id: 'e7',
    ...WEB,
    paths: [],
    deleted: true,
    changed: { at: at(4, 6), source: 'watch-event' },
    detected: at(4, 6, 100),
  },
  // after the window: in no number below
  {
    id: 'e8',
    ...WEB,
    paths: ['.spec.replicas'],
    detected: at(10, 1),
    closed: { at: at(10, 1, 100), by: 'heal' },
  },
  // detect 3000, heal 20000
  {
    id: 'e9',
    ...WEB,
    paths: ['.spec.replicas'],
    changed: { at: at(5, 20), source: 'managed-fields' },
    detected: at(5, 20, 3000),
    closed: { at: at(5, 20, 23_000), by: 'heal' },
  },
];

const CLOSED_BY = {
  heal: DriftClosedBy.DRIFT_CLOSED_BY_HEAL,
  sync: DriftClosedBy.DRIFT_CLOSED_BY_SYNC,
  reverted: DriftClosedBy.DRIFT_CLOSED_BY_REVERTED,
};
const SOURCE = {
  'managed-fields': DriftChangeTimeSource.DRIFT_CHANGE_TIME_SOURCE_MANAGED_FIELDS,
  'watch-event': DriftChangeTimeSource.DRIFT_CHANGE_TIME_SOURCE_WATCH_EVENT,
};

/** The reports an agent sends for `e`: on detection, and on closing. */
function reports(e: Episode): AgentMessageBody[] {
  const group = e.kind === 'Deployment' ? 'apps' : '';
  const base = {
    driftId: e.id,
    app: e.app,
    object: { group, version: 'v1', kind: e.kind, namespace: 'prod', name: e.name },
    type: e.deleted ? DriftType.DRIFT_TYPE_DELETED : DriftType.DRIFT_TYPE_MODIFIED,
    fields: e.paths.map((path) => ({ path, desiredJson: '3', liveJson: '5' })),
    changedBy: e.manager,
    detectedUnixMs: BigInt(e.detected),
    message: '',
    lastSyncTraceId: '',
    ...(e.changed
      ? { changedUnixMs: BigInt(e.changed.at), changedAtSource: SOURCE[e.changed.source] }
      : {}),
  };
  const open: AgentMessageBody = {
    $case: 'driftReport',
    value: {
      ...base,
      healed: false,
      healedUnixMs: 0n,
      ...(e.fight ? { fight: { manager: e.fight, paths: e.paths, periodMs: 15_000 } } : {}),
    },
  };
  if (!e.closed) return [open];
  return [
    open,
    {
      $case: 'driftReport',
      value: {
        ...base,
        healed: true,
        healedUnixMs: BigInt(e.closed.at),
        closedBy: CLOSED_BY[e.closed.by],
      },
    },
  ];
}

function ledgerSuite(store: 'sqlite' | 'postgres'): void {
  describe(`drift ledger from scripted drift (${store})`, { timeout: 180_000 }, () => {
    let pgServer: PostgresServer | undefined;
    let hub: HubProcess;
    let admin: string;
    const streams: AgentStream[] = [];
    const get = (path: string) => api(hub, admin, 'GET', path);

    before(async () => {
      if (store === 'postgres') pgServer = await startPostgres();
      hub = await startHubProcess({
        store,
        databaseUrl: pgServer?.connectionString,
        // The scripted reports carry fixed 2026-10 times: keep drift of any age.
        args: ['--history-max-age', '0'],
      });
      admin = hub.bootstrapToken!;
      const labels = { 'prod-eu': 'env=prod', 'dev-us': 'env=dev' } as const;
      for (const cluster of ['prod-eu', 'dev-us'] as const) {
        const token = await api(hub, admin, 'POST', '/api/v1/tokens', {
          cluster,
          labels: labels[cluster],
        });
        assert.equal(token.status, 201, JSON.stringify(token.body));
        const key = await makeAgentKey();
        const res = await enroll(hub, {
          token: token.body.token,
          clusterName: cluster,
          csrPem: key.csrPem,
        });
        const s = connect(hub, { keyPem: key.keyPem, certPem: res.certificatePem });
        streams.push(s);
        s.send(0n, {
          $case: 'hello',
          value: {
            clusterName: cluster,
            agentVersion: '0.1.0-test',
            lastAckedHubSeq: 0n,
            labels: {},
            apps: [],
            repoUrl: '',
            branch: '',
          },
        });
        await s.next();
        const bodies = EPISODES.filter((e) => e.cluster === cluster).flatMap(reports);
        bodies.forEach((body, i) => s.send(BigInt(i + 1), body));
        // Every report is stored once the hub acks the last one.
        await waitFor(`the hub acks ${bodies.length} reports of ${cluster}`, async () => {
          const m = await s.next(10_000);
          return m.body?.$case === 'ack' && m.body.value.agentSeq === BigInt(bodies.length);
        });
      }
    });
    after(async () => {
      for (const s of streams) s.close();
      await hub?.stop();
      await pgServer?.stop();
    });

    it('counts episodes by how they stand, with medians and p90 worked out by hand', async () => {
      const res = await get(`/api/v1/drift/ledger?${WINDOW}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const l = res.body;
      assert.equal(l.from, '2026-10-01T00:00:00.000Z');
      assert.equal(l.to, '2026-10-08T00:00:00.000Z');
      const s = l.summary;
      // e1–e7 and e9; e8 is after the window.
      assert.equal(s.episodes, 8);
      assert.equal(s.healed, 5, 'e1 e2 e3 e4 e9');
      assert.equal(s.closed, 1, 'e6, changed back');
      assert.equal(s.open, 1, 'e7');
      assert.equal(s.fights, 1, 'e5, whose closing report no longer names the fight');
      assert.deepEqual(s.byClosedBy, { heal: 5, reverted: 1, sync: 1 });
      // 8 episodes / 7 days
      assert.equal(s.episodesPerDay, 1.14);
      // heal: 300 700 1200 5000 20000 → median 1200; p90 at rank 3.6: 5000 + 0.6·15000
      assert.deepEqual(s.timeToHeal, { count: 5, medianMs: 1200, p90Ms: 14_000 });
      // detect: 100 250 500 1000 2000 3000 (e6 unknown, e5 a fight) → median (500+1000)/2;
      // p90 at rank 4.5: 2000 + 0.5·1000
      assert.deepEqual(s.timeToDetect, { count: 6, medianMs: 750, p90Ms: 2500 });
      assert.equal(s.sampled, 8);
      assert.equal(s.truncated, false);
    });

    it('has every day of the window and the time-to-heal histogram', async () => {
      const l = (await get(`/api/v1/drift/ledger?${WINDOW}`)).body;
      assert.deepEqual(
        l.days.map((d: any) => [d.date, d.episodes, d.healed, d.closed, d.open, d.fights]),
        [
          ['2026-10-01', 2, 2, 0, 0, 0],
          ['2026-10-02', 2, 2, 0, 0, 0],
          ['2026-10-03', 1, 0, 0, 0, 1],
          ['2026-10-04', 1, 0, 1, 0, 0],
          ['2026-10-05', 1, 0, 0, 1, 0],
          ['2026-10-06', 1, 1, 0, 0, 0],
          ['2026-10-07', 0, 0, 0, 0, 0],
        ],
      );
      const counted = l.healBuckets.filter((b: any) => b.count > 0);
      assert.deepEqual(
        counted.map((b: any) => [b.label, b.count]),
        [
          ['250 ms – 500 ms', 1], // 300
          ['500 ms – 1 s', 1], // 700
          ['1 s – 2 s', 1], // 1200
          ['5 s – 10 s', 1], // 5000
          ['10 s – 30 s', 1], // 20000
        ],
      );
      assert.equal(
        l.healBuckets.reduce((n: number, b: any) => n + b.count, 0),
        5,
      );
    });

    it('names the managers, fields and objects that drift most', async () => {
      const l = (await get(`/api/v1/drift/ledger?${WINDOW}`)).body;
      const top = l.managers[0];
      assert.equal(top.manager, 'kubectl-edit');
      // e1 e2 e3 e7 e9: four healed, one open, all on one object
      assert.deepEqual(
        [top.episodes, top.healed, top.open, top.fights, top.objects],
        [5, 4, 1, 0, 1],
      );
      // heal 300 700 1200 20000 → median 950; p90 at rank 2.7: 1200 + 0.7·18800
      assert.deepEqual(top.timeToHeal, { count: 4, medianMs: 950, p90Ms: 14_360 });
      assert.deepEqual(
        new Set(l.managers.slice(1).map((m: any) => `${m.manager}:${m.episodes}:${m.fights}`)),
        new Set([`${FORMULA_MANAGER}:1:0`, 'hpa-controller:1:1', 'kubectl-patch:1:0']),
      );
      const replicas = l.fields[0];
      // e1 e2 e5 e9, by two managers, one of them a fight
      assert.deepEqual(
        [replicas.kind, replicas.path, replicas.episodes, replicas.fights, replicas.managers],
        ['Deployment', '.spec.replicas', 4, 1, 2],
      );
      assert.equal(l.fields.length, 4, 'the deletion has no fields');
      assert.deepEqual(l.objects, [
        {
          cluster: 'prod-eu',
          app: 'web',
          objectRef: 'apps/v1 Deployment prod/web',
          // e1 e2 e3 e5 e7 e9
          episodes: 6,
          healed: 4,
          closed: 0,
          open: 1,
          fights: 1,
          managers: 2,
          lastDetectedAt: new Date(at(5, 20, 3000)).toISOString(),
        },
      ]);
      const group = l.groups.find(
        (g: any) => g.cluster === 'prod-eu' && g.app === 'web' && g.manager === 'kubectl-edit',
      );
      // detect 100 500 1000 2000 3000 → median 1000; p90 at rank 3.6: 2000 + 0.6·1000
      assert.deepEqual(group.timeToDetect, { count: 5, medianMs: 1000, p90Ms: 2600 });
      assert.deepEqual(group.timeToHeal, top.timeToHeal);
    });

    it('filters by window, cluster labels, cluster, app and manager', async () => {
      const episodes = async (q: string) => {
        const res = await get(`/api/v1/drift/ledger?${q}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body.summary.episodes as number;
      };
      assert.equal(await episodes('from=2026-10-01&to=2026-10-02'), 2, 'e1 e2');
      assert.equal(await episodes('from=2026-10-01T10:00:00Z&to=2026-10-02'), 1, 'e2');
      assert.equal(await episodes(`${WINDOW}&selector=env%3Ddev`), 1, 'e6');
      assert.equal(await episodes(`${WINDOW}&selector=env%3Dprod`), 7);
      assert.equal(await episodes(`${WINDOW}&cluster=dev-us`), 1);
      assert.equal(await episodes(`${WINDOW}&cluster=prod-eu&app=web`), 7);
      assert.equal(await episodes(`${WINDOW}&app=api`), 1);
      assert.equal(await episodes(`${WINDOW}&manager=kubectl-edit`), 5);
      assert.equal(await episodes('from=2026-10-01&to=2026-10-12'), 9, 'e8 too');
      // The default window is the 30 days before now: the 2026-10 episodes are older.
      const recent = await get('/api/v1/drift/ledger');
      assert.equal(recent.status, 200);
      assert.equal(recent.body.summary.episodes, 0);
      assert.equal(recent.body.days.length, 31);
    });

    it('refuses a bad window or selector with one clear message', async () => {
      const bad: [string, RegExp][] = [
        ['from=yesterday', /from "yesterday": use an ISO 8601 date/],
        ['from=2026-10-08&to=2026-10-01', /must be before to/],
        ['from=2020-01-01&to=2026-01-01', /longer than the 400 days allowed/],
        ['selector=bad%20key!', /label selector/],
      ];
      for (const [q, message] of bad) {
        const res = await get(`/api/v1/drift/ledger?${q}`);
        assert.equal(res.status, 400, q);
        assert.match(res.body.error.message, message);
        const csv = await get(`/api/v1/drift/ledger.csv?${q}`);
        assert.equal(csv.status, 400, q);
      }
      assert.equal((await api(hub, undefined, 'GET', '/api/v1/drift/ledger.csv')).status, 401);
    });

    it('exports every episode as CSV, quoted and safe from spreadsheet formulas', async () => {
      const res = await fetch(`${hub.http}/api/v1/drift/ledger.csv?${WINDOW}`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
      assert.equal(
        res.headers.get('content-disposition'),
        'attachment; filename="drift-ledger-2026-10-01-2026-10-08.csv"',
      );
      const text = await res.text();
      const lines = text.split('\r\n');
      assert.equal(lines.at(-1), '', 'every line ends in CRLF');
      assert.equal(
        lines[0],
        'cluster,app,object,drift_type,field_manager,fields,changed_at,change_time_source,detected_at,time_to_detect_seconds,closed_at,closed_by,time_to_heal_seconds,fight,drift_id',
      );
      assert.equal(lines.length - 2, 8, 'one row per episode of the window, oldest first');
      assert.equal(
        lines[1],
        'prod-eu,web,apps/v1 Deployment prod/web,modified,kubectl-edit,.spec.replicas,2026-10-01T01:00:00.000Z,managed-fields,2026-10-01T01:00:00.500Z,0.500,2026-10-01T01:00:00.800Z,heal,0.300,,e1',
      );
      assert.equal(
        lines[4],
        `prod-eu,web,v1 ConfigMap prod/settings,modified,"'=HYPERLINK(""http://evil.example"")",".data[""a,b""]",2026-10-02T12:00:00.000Z,watch-event,2026-10-02T12:00:00.250Z,0.250,2026-10-02T12:00:05.250Z,heal,5.000,,e4`,
      );
      assert.match(lines[5]!, /,2026-10-03T09:00:00\.000Z,sync,,yes,e5$/);
      assert.match(
        lines[6]!,
        /^dev-us,api,v1 Service prod\/api,modified,kubectl-patch,.spec.ports,,,/,
      );
      assert.match(lines[7]!, /,deleted,kubectl-edit,,.*,open,,,e7$/);
      const filtered = await fetch(
        `${hub.http}/api/v1/drift/ledger.csv?${WINDOW}&manager=kubectl-patch`,
        { headers: { authorization: `Bearer ${admin}` } },
      );
      assert.equal((await filtered.text()).trimEnd().split('\r\n').length, 2, 'header + e6');
    });

    it('driftless drift ledger prints the same numbers, and the CSV with --csv', async () => {
      const run = async (...args: string[]) => {
        let out = '';
        let err = '';
        const code = await runCli(
          ['drift', 'ledger', '--hub', hub.http, '--token', admin, ...args],
          { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} },
        );
        return { code, out, err };
      };
      const window = ['--from', '2026-10-01', '--to', '2026-10-08'];
      const text = await run(...window);
      assert.equal(text.code, 0, text.err);
      assert.match(
        text.out,
        /Episodes +8 \(1\.14\/day\): 5 healed, 1 closed otherwise, 1 open, 1 fights/,
      );
      assert.match(
        text.out,
        /Time to detect +median 750 ms, p90 2\.5 s \(6 with a known change time\)/,
      );
      assert.match(text.out, /Time to heal +median 1\.2 s, p90 14 s \(5 healed\)/);
      assert.match(text.out, /kubectl-edit +5 +0 +1 +950 ms +14\.4 s/);
      const json = await run(...window, '--manager', 'kubectl-patch', '-o', 'json');
      assert.equal(JSON.parse(json.out).summary.episodes, 1);
      const csv = await run(...window, '--csv', '--cluster', 'dev-us');
      assert.equal(csv.out.trimEnd().split('\r\n').length, 2, 'header + e6');
      const bad = await run('--from', 'last week');
      assert.equal(bad.code, 1);
      assert.match(bad.err, /from "last week": use an ISO 8601 date/);
      assert.equal((await run('--csv', '-o', 'json')).code, 2, 'a usage error');
    });
  });
}

ledgerSuite('sqlite');
ledgerSuite('postgres');
