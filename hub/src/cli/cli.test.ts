import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { runCli } from './main.ts';
import { planText } from './plan-text.ts';
import { evaluateRollout } from './rollout.ts';
import { followEvents, parseEvents } from './sse.ts';
import type { HubClient } from './client.ts';
import type { Row } from './table.ts';
import { checkTypePatterns, typeMatches } from './commands/events.ts';
import { UsageError } from './command.ts';

const REV = 'a'.repeat(40);
const LATER = 'b'.repeat(40);

async function* chunks(...parts: string[]) {
  for (const p of parts) yield p;
}

async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: {},
  });
  return { code, stdout, stderr };
}

describe('runCli without a hub', () => {
  it('answers usage errors with exit code 2 and help with 0', async () => {
    assert.equal((await cli([])).code, 2);
    const unknown = await cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const group = await cli(['app']);
    assert.equal(group.code, 2);
    assert.match(group.stderr, /driftless app get CLUSTER\/APP/);
    const flag = await cli(['app', 'list', '--plan-digest', 'x']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown flag --plan-digest\nRun driftless app list --help/);
    assert.equal((await cli(['app', 'list', '-o', 'xml'])).code, 2);
    assert.equal((await cli(['wait', '--revision', 'HEAD'])).code, 2);
    const help = await cli(['wait', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: driftless wait --revision SHA/);
    assert.match(help.stdout, /DRIFTLESS_CLI_TIMEOUT, default 10m/);
    const version = await cli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^driftless \d+\.\d+\.\d+/);
  });
});

describe('driftless version without a hub', () => {
  it("prints the CLI's version, then fails with exit 1 naming the hub it could not reach", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    let stdout = '';
    let stderr = '';
    const code = await runCli(['version'], {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      env: { DRIFTLESS_HUB: `http://127.0.0.1:${port}` },
    });
    assert.equal(code, 1);
    assert.match(stdout, /^CLI: {2}\d+\.\d+\.\d+/);
    assert.match(stderr, /cannot reach the hub at http:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('parseEvents', () => {
  it('reads a CRLF split between two chunks as one line end', async () => {
    const got = [];
    for await (const e of parseEvents(chunks('data: a\r', '\ndata: b\r', '\n\r', '\n')))
      got.push(e.data);
    assert.deepEqual(got, ['a\nb']);
  });

  it('reads frames split anywhere, with ids, types, multi-line data and comments', async () => {
    const got = [];
    for await (const e of parseEvents(
      chunks(
        'retry: 3000\n: connected\n\nid: 7\nevent: sync.rec',
        'orded\ndata: {"a":1}\n\n',
        ': keepalive\r\n\r\ndata: one\ndata: two\n\n',
      ),
    ))
      got.push(e);
    assert.deepEqual(got, [
      { id: '7', type: 'sync.recorded', data: { a: 1 } },
      { id: '7', type: 'message', data: 'one\ntwo' },
    ]);
  });
  it('matches --type by full type or first word', () => {
    assert.ok(typeMatches('drift.updated', 'drift'));
    assert.ok(typeMatches('drift.updated', 'drift.*'));
    assert.ok(typeMatches('drift.updated', 'drift.updated'));
    assert.ok(!typeMatches('drift.updated', 'dri'));
    assert.ok(!typeMatches('sync.recorded', 'drift'));
  });
  it('refuses a --type that matches no event type, naming it and the types', () => {
    assert.doesNotThrow(() => checkTypePatterns(['drift', 'sync.recorded', 'cluster.*']));
    assert.throws(
      () => checkTypePatterns(['drift', 'sync.recorde', 'drfit']),
      (err: Error) =>
        err instanceof UsageError &&
        /--type "sync\.recorde", "drfit" matches no event type; the types are cluster\.enrolled, /.test(
          err.message,
        ),
    );
  });
});

describe('planText', () => {
  it('shows an update as hunks of live against Git, a create as its manifest, a delete by name', () => {
    const text = planText([
      {
        object: { group: 'apps', version: 'v1', kind: 'Deployment', namespace: 'web', name: 'web' },
        action: 'update',
        wave: 0,
        diff: [{ path: '.spec.replicas', before: '2', after: '3' }],
      },
      {
        object: { group: '', version: 'v1', kind: 'ConfigMap', namespace: 'web', name: 'cfg' },
        action: 'create',
        wave: 1,
        diff: [{ path: '.', before: '', after: '{"kind":"ConfigMap","data":{"a":"b"}}' }],
      },
      {
        object: { group: '', version: 'v1', kind: 'Namespace', namespace: '', name: 'old' },
        action: 'delete',
        wave: 0,
        diff: [],
      },
      {
        object: { version: 'v1', kind: 'Service', namespace: 'web', name: 's' },
        action: 'unchanged',
        diff: [],
      },
    ]);
    assert.equal(
      text,
      [
        '=== Deployment web/web (apps/v1): update',
        '--- live',
        '+++ git',
        '@@ .spec.replicas @@',
        '-2',
        '+3',
        '',
        '=== ConfigMap web/cfg (v1): create, wave 1',
        '--- live (absent)',
        '+++ git',
        '+kind: ConfigMap',
        '+data:',
        '+  a: b',
        '',
        '=== Namespace old (v1): delete',
        '    in the inventory and no longer in Git: pruned (when the app prunes)',
        '',
        '(1 object unchanged)',
        '',
      ].join('\n'),
    );
  });
});

describe('evaluateRollout', () => {
  const cluster = (name: string, extra: Row = {}): Row => ({
    name,
    connected: true,
    revoked: false,
    config: { state: 'valid', revision: REV },
    ...extra,
  });
  const app = (c: string, extra: Row): Row => ({
    cluster: c,
    app: 'web',
    revision: REV,
    syncStatus: 'synced',
    syncMode: 'auto',
    health: 'healthy',
    message: '',
    healthMessage: '',
    gone: false,
    ...extra,
  });
  const judge = (clusters: Row[], apps: Row[], history: Record<string, Row[]> = {}) =>
    evaluateRollout({
      revision: REV.slice(0, 10),
      app: '',
      clusters,
      apps,
      history: async (c) => history[c] ?? [],
    });

  it('is done when synced and healthy at the revision, and waits otherwise, saying why', async () => {
    const v = await judge(
      [
        cluster('a'),
        cluster('b'),
        cluster('c', { connected: false }),
        cluster('d'),
        cluster('e', { connected: false }),
        cluster('f'),
      ],
      [
        app('a', {}),
        app('e', {}),
        app('f', { driftCount: 2 }),
        app('b', { syncMode: 'manual', syncStatus: 'out-of-sync' }),
        app('c', { revision: LATER.replace(/b/g, 'c'), syncStatus: 'synced' }),
      ],
    );
    assert.deepEqual(
      v.map((x) => [x.cluster, x.state, x.reason]),
      [
        ['a', 'done', '1 app synced and healthy'],
        ['b', 'waiting', 'web: waits for an approval (driftless approve b/web)'],
        [
          'c',
          'waiting',
          'web: at cccccccccccc, not yet at aaaaaaaaaa (the agent is not connected)',
        ],
        ['d', 'waiting', 'no app reported yet'],
        [
          'e',
          'done',
          '1 app synced and healthy (as last reported: the agent is not connected now)',
        ],
        ['f', 'done', '1 app synced and healthy, 2 objects drifted since'],
      ],
    );
  });

  it('counts a later revision only after a succeeded sync at the waited one', async () => {
    const moved = app('a', { revision: LATER });
    const applied = {
      a: [
        { revision: LATER, result: 'succeeded' },
        { revision: REV, result: 'succeeded' },
      ],
    };
    assert.equal((await judge([cluster('a')], [moved], applied))[0]!.state, 'done');
    const skipped = { a: [{ revision: REV, result: 'failed' }] };
    assert.equal((await judge([cluster('a')], [moved], skipped))[0]!.state, 'waiting');
  });

  it('fails on a sync failure the agent will not retry, an invalid config or a revoked cluster', async () => {
    const failed = app('a', { syncStatus: 'failed', message: 'guard: bad' });
    const terminal = {
      a: [{ revision: REV, result: 'failed', retryable: false, error: 'guard: Bad_Name' }],
    };
    const retrying = {
      a: [{ revision: REV, result: 'failed', retryable: true, error: 'apply: 503' }],
    };
    const [f] = await judge([cluster('a')], [failed], terminal);
    assert.equal(f!.state, 'failed');
    assert.equal(f!.reason, 'web: sync failed at aaaaaaaaaaaa: guard: Bad_Name');
    assert.equal((await judge([cluster('a')], [failed], retrying))[0]!.state, 'waiting');
    const bad = cluster('a', {
      config: { state: 'failed', revision: REV, error: 'line 3: unknown field' },
    });
    assert.match(
      (await judge([bad], [app('a', {})]))[0]!.reason,
      /driftless\.yaml at aaaaaaaaaaaa is invalid: line 3/,
    );
    assert.equal((await judge([cluster('a', { revoked: true })], []))[0]!.state, 'failed');
  });
});

describe('followEvents', () => {
  it(
    'reopens a stream that went silent (no event, no keepalive), sending Last-Event-ID',
    { timeout: 20_000 },
    async () => {
      const asked: (string | undefined)[] = [];
      const client = {
        base: 'http://hub.test',
        stream: (_path: string, o: { headers?: Record<string, string>; signal?: AbortSignal }) => {
          asked.push(o.headers?.['last-event-id']);
          const n = asked.length;
          const body = new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(new TextEncoder().encode(`id: ${n}\ndata: {"n":${n}}\n\n`));
              // The first connection then says nothing more and never closes, as a dropped one.
              if (n > 1) c.close();
              else o.signal?.addEventListener('abort', () => c.error(o.signal?.reason));
            },
          });
          return Promise.resolve(new Response(body));
        },
      } as unknown as HubClient;
      const stop = new AbortController();
      const got: unknown[] = [];
      const retried: string[] = [];
      await followEvents({
        client,
        signal: stop.signal,
        idleMs: 50,
        backoff: { initialMs: 1, maxMs: 1 },
        onRetry: (err) => retried.push((err as Error).message),
        onEvent: (e) => {
          got.push((e.data as { n: number }).n);
          if (got.length === 2) stop.abort();
        },
      });
      assert.deepEqual(got, [1, 2]);
      assert.deepEqual(asked, [undefined, '1']);
      assert.match(retried[0] ?? '', /nothing from the hub for/);
    },
  );
});
