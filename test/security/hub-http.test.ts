/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call --
   API answers are JSON checked field by field by the assertions. */
// The hub's HTTP surface under hostile input, against a real `driftless-hub` process: every
// route with malformed paths, bodies, headers and methods; token guessing; a trusted proxy;
// replayed webhooks; event-stream floods. The hub must answer each with 4xx (never 5xx),
// never log an uncaught error, and keep serving.
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { api, startHubProcess, type HubProcess } from '../integration/hub/helpers.ts';

const WEBHOOK_SECRET = 'security-test-webhook-secret-0123456789';

/** Sends raw bytes and returns the status code of the answer, or 0 when the server just closed. */
function raw(hub: { http: string }, bytes: string | Buffer): Promise<number> {
  const { hostname, port } = new URL(hub.http);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: hostname, port: Number(port) });
    let text = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (/^HTTP\/1\.[01] \d{3}/.test(text)) socket.end();
    });
    socket.on('error', (err) =>
      (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(0) : reject(err),
    );
    socket.on('close', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.write(bytes);
  });
}

/** Sends raw bytes and returns the whole answer (the hub closes the connection after it). */
function rawAnswer(
  hub: { http: string },
  bytes: string,
): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(hub.http);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: hostname, port: Number(port) });
    let text = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0),
        type: /^content-type: *([^;\r]*)/im.exec(head)?.[1] ?? '',
        body,
      });
    });
    socket.write(bytes);
  });
}

/** A request that must be answered below 500 (and JSON-shaped when it is an API error). */
async function probe(
  hub: { http: string },
  init: {
    method: string;
    path: string;
    token?: string;
    headers?: Record<string, string>;
    body?: string;
  },
): Promise<number> {
  const res = await fetch(hub.http + init.path, {
    method: init.method,
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body: init.body,
  });
  // An event stream never ends by itself: its headers are the answer.
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) await res.body?.cancel();
  const text = res.bodyUsed ? '' : await res.text();
  const what = `${init.method} ${init.path.slice(0, 120)} (${text.slice(0, 200)})`;
  assert.ok(res.status < 500, `${what}: answered ${res.status}`);
  if (res.status >= 400 && init.path.startsWith('/api/')) {
    const body = JSON.parse(text);
    assert.equal(body.error.status, res.status, what);
    assert.equal(typeof body.error.message, 'string', what);
  }
  return res.status;
}

/** Runs `jobs` a few at a time. */
async function inBatches<T>(jobs: (() => Promise<T>)[], size = 8): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < jobs.length; i += size)
    out.push(...(await Promise.all(jobs.slice(i, i + size).map((j) => j()))));
  return out;
}

const PARAM_VARIANTS = [
  '%ff',
  '%',
  '%E0%A4%A',
  '..%2F..%2Fetc%2Fpasswd',
  '%00',
  'x'.repeat(3000),
  'nope',
];
const BODY_VARIANTS: [string, string | undefined][] = [
  ['{not json', 'application/json'],
  ['[1]', 'application/json'],
  ['null', 'application/json'],
  ['"text"', 'application/json'],
  ['{"__proto__": {"role": "admin"}, "constructor": {"prototype": {"x": 1}}}', 'application/json'],
  [
    JSON.stringify({
      cluster: 1,
      app: [],
      revision: {},
      planDigest: null,
      name: 5,
      role: 7,
      labels: 5,
      ttl: [],
      uses: 'x',
      repoUrl: 3,
    }),
    'application/json',
  ],
  ['['.repeat(100_000) + ']'.repeat(100_000), 'application/json'],
  [JSON.stringify({ cluster: 'a'.repeat(2 << 20) }), 'application/json'],
  ['cluster=x', 'application/x-www-form-urlencoded'],
  ['{"cluster": "x"}', 'text/plain'],
  ['{"cluster": "x"}', 'application/json; charset=utf-16'],
  ['--b\r\ncontent-disposition: form-data\r\n\r\nx\r\n--b--', 'multipart/form-data; boundary=b'],
  ['{"cluster": "x"}', undefined],
];

describe('hub HTTP security', { timeout: 300_000 }, () => {
  let hub: HubProcess;
  let proxied: HubProcess;
  let admin: string;
  let routes: { method: string; path: string }[];

  before(async () => {
    [hub, proxied] = await Promise.all([
      startHubProcess({
        args: ['--webhook-secret', WEBHOOK_SECRET, '--api-max-failures', '5'],
      }),
      startHubProcess({
        args: [
          '--trusted-proxies',
          '127.0.0.1',
          '--api-max-failures',
          '3',
          '--sse-max-streams',
          '3',
          '--sse-max-streams-per-token',
          '2',
        ],
      }),
    ]);
    admin = hub.bootstrapToken!;
    const doc = (await api(hub, undefined, 'GET', '/api/v1/openapi.json')).body;
    routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })),
    );
    assert.ok(routes.length >= 20, `the OpenAPI document lists the routes (${routes.length})`);
  });
  after(async () => {
    await Promise.all([hub?.stop(), proxied?.stop()]);
  });

  /** The hub still serves, and no input reached the process-level guard. */
  const stillServing = async (h: HubProcess) => {
    assert.equal(h.proc.exitCode, null, 'the hub process is running');
    assert.equal((await api(h, undefined, 'GET', '/healthz')).status, 200);
    assert.doesNotMatch(h.stderr(), /uncaught error|unhandled rejection|API request failed/);
  };

  it('GET /api/v1/clusters/%ff without a token is a 4xx, and the hub keeps serving', async () => {
    assert.equal(
      await raw(hub, 'GET /api/v1/clusters/%ff HTTP/1.1\r\nhost: hub\r\nconnection: close\r\n\r\n'),
      400,
    );
    assert.equal(
      await probe(hub, { method: 'GET', path: '/api/v1/clusters/%ff', token: admin }),
      400,
    );
    await stillServing(hub);
  });

  it('every route, with malformed path parameters, with and without a token: never 5xx', async () => {
    const jobs = routes.flatMap(({ method, path }) =>
      PARAM_VARIANTS.flatMap((v) =>
        [undefined, 'at_0000000000000000.' + 'A'.repeat(43), admin].map(
          (token) => () =>
            probe(hub, {
              method,
              path: path
                .replace(/\{[^}]+\}/g, v)
                .replace(/^([^?]*)$/, `$1?selector=${v}&limit=${v}&cluster=${v}`),
              token,
            }),
        ),
      ),
    );
    const statuses = await inBatches(jobs);
    assert.ok(statuses.every((s) => s >= 200 && s < 500));
    await stillServing(hub);
  });

  it('every route that takes a body, with broken, huge, deep, mistyped and mislabelled bodies: never 5xx', async () => {
    const writes = routes.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
    const jobs = writes.flatMap(({ method, path }) =>
      BODY_VARIANTS.map(
        ([body, type]) =>
          () =>
            probe(hub, {
              method,
              path: path.replace(/\{[^}]+\}/g, 'nope'),
              token: admin,
              headers: type ? { 'content-type': type } : {},
              body,
            }),
      ),
    );
    await inBatches(jobs, 4);
    // The prototype of the hub's objects is untouched: an admin role was not smuggled in.
    const who = await api(hub, admin, 'GET', '/api/v1/whoami');
    assert.equal(who.body.role, 'admin');
    await stillServing(hub);
  });

  it('odd headers, methods and request lines: never 5xx, and the hub keeps serving', async () => {
    const requests = [
      'PROPFIND /api/v1/clusters HTTP/1.1\r\nhost: h\r\n\r\n',
      'FOO /api/v1/clusters HTTP/1.1\r\nhost: h\r\n\r\n',
      'TRACE / HTTP/1.1\r\nhost: h\r\n\r\n',
      'CONNECT hub:443 HTTP/1.1\r\nhost: h\r\n\r\n',
      'GET * HTTP/1.1\r\nhost: h\r\n\r\n',
      'GET http://evil.example/api/v1/clusters HTTP/1.1\r\nhost: h\r\n\r\n',
      'GET /api/v1/clusters?selector=%zz&limit=1&limit=2 HTTP/1.1\r\nhost: h\r\n\r\n',
      `GET /api/v1/clusters HTTP/1.1\r\nhost: h\r\nauthorization: Bearer ${'x'.repeat(60_000)}\r\n\r\n`,
      'GET /api/v1/clusters HTTP/1.1\r\nhost: h\r\nauthorization: Bearer a\r\nauthorization: Bearer b\r\n\r\n',
      'GET /api/v1/clusters HTTP/1.1\r\nhost: h\r\nx-bad: a\u0001b\r\n\r\n',
      'POST /api/v1/tokens HTTP/1.1\r\nhost: h\r\ncontent-length: -1\r\n\r\n',
      'POST /api/v1/tokens HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
      'POST /api/v1/tokens HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\nzz\r\nxx\r\n0\r\n\r\n',
      'POST /api/v1/webhooks/git HTTP/1.1\r\nhost: h\r\ncontent-length: 999999999\r\nx-github-event: push\r\n\r\n{',
      'GET /\u00ff\u00fe HTTP/1.1\r\nhost: h\r\n\r\n',
      'GET /assets/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\nhost: h\r\n\r\n',
      'garbage\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
    ];
    for (const r of requests) {
      const status = await raw(
        hub,
        r.includes('connection:') ? r : r.replace('\r\n\r\n', '\r\nconnection: close\r\n\r\n'),
      );
      assert.ok(status < 500, `${JSON.stringify(r.slice(0, 60))}: ${status}`);
    }
    await stillServing(hub);
  });

  it('requests refused by the HTTP parser or the router are answered in the API error shape', async () => {
    const cases: [string, number, RegExp][] = [
      [
        'POST /api/v1/tokens HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n',
        400,
        /malformed HTTP request: .*Content-Length/i,
      ],
      [
        'POST /api/v1/tokens HTTP/1.1\r\nhost: h\r\ncontent-length: -1\r\n\r\n',
        400,
        /malformed HTTP request/,
      ],
      ['garbage\r\n\r\n', 400, /malformed HTTP request/],
      [
        `GET /api/v1/clusters HTTP/1.1\r\nhost: h\r\nx-big: ${'x'.repeat(60_000)}\r\n\r\n`,
        431,
        /headers are larger than the limit/,
      ],
      [
        'GET * HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n',
        400,
        /GET \*: the request target must be a path/,
      ],
      ['OPTIONS * HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n', 400, /must be a path/],
      ['GET /api/v1/clusters/%ff HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n', 400, /./],
      [
        'GET /api/v1/nothing-here HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n',
        404,
        /no such endpoint/,
      ],
      [
        'DELETE /api/v1/clusters HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n',
        405,
        /method not allowed/,
      ],
    ];
    for (const [request, status, message] of cases) {
      const what = JSON.stringify(request.slice(0, 60));
      const answer = await rawAnswer(hub, request);
      assert.equal(answer.status, status, `${what}: ${answer.status} ${answer.body.slice(0, 200)}`);
      assert.equal(answer.type, 'application/json', what);
      const body = JSON.parse(answer.body) as { error: { status: number; message: string } };
      assert.deepEqual(Object.keys(body), ['error'], `${what}: ${answer.body}`);
      assert.equal(body.error.status, status, what);
      assert.match(body.error.message, message, what);
    }
    await stillServing(hub);
  });

  it("a valid token is never throttled by someone else's failures from the same address", async () => {
    const bad = 'at_0000000000000000.' + 'B'.repeat(43);
    const statuses = [];
    for (let i = 0; i < 7; i++)
      statuses.push(await probe(hub, { method: 'GET', path: '/api/v1/clusters', token: bad }));
    assert.ok(statuses.includes(429), `bad tokens are limited: ${statuses.join(',')}`);
    assert.equal(await probe(hub, { method: 'GET', path: '/api/v1/clusters', token: admin }), 200);
    const limited = await fetch(hub.http + '/api/v1/clusters', {
      headers: { authorization: `Bearer ${bad}` },
    });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    // Without a trusted proxy, X-Forwarded-For changes nothing: still this address.
    const spoofed = await fetch(hub.http + '/api/v1/clusters', {
      headers: { authorization: `Bearer ${bad}`, 'x-forwarded-for': '10.9.9.9' },
    });
    assert.equal(spoofed.status, 429);
  });

  it('a --trusted-proxies entry that is no address or range stops the hub at start, saying which', async () => {
    await assert.rejects(
      startHubProcess({ args: ['--trusted-proxies', '10.0.0.0/8,proxy.example'] }),
      /--trusted-proxies "proxy.example": use IP addresses/,
    );
  });

  it('behind a trusted proxy, failures count per forwarded client address', async () => {
    const bad = 'at_0000000000000000.' + 'C'.repeat(43);
    const from = (client: string, token = bad) =>
      fetch(proxied.http + '/api/v1/clusters', {
        headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client },
      }).then((r) => r.status);
    const first = [];
    for (let i = 0; i < 4; i++) first.push(await from('10.0.0.1'));
    assert.deepEqual(first, [401, 401, 401, 429]);
    assert.equal(await from('10.0.0.2'), 401, 'another client behind the proxy is not locked out');
    assert.equal(await from('10.0.0.1', proxied.bootstrapToken), 200);
  });

  it('a replayed signed webhook delivery is answered but acted on once, for every provider', async () => {
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      after: 'f'.repeat(40),
      repository: {
        clone_url: 'https://git.example.com/platform/replay.git',
        default_branch: 'main',
      },
      project: {
        git_http_url: 'https://git.example.com/platform/replay.git',
        default_branch: 'main',
      },
      object_kind: 'push',
    });
    const hmac = createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex');
    const providers: Record<string, Record<string, string>> = {
      github: {
        'x-github-event': 'push',
        'x-hub-signature-256': `sha256=${hmac}`,
        'x-github-delivery': randomUUID(),
      },
      gitlab: {
        'x-gitlab-event': 'Push Hook',
        'x-gitlab-token': WEBHOOK_SECRET,
        'x-gitlab-event-uuid': randomUUID(),
      },
      gitea: {
        'x-gitea-event': 'push',
        'x-gitea-signature': hmac,
        'x-gitea-delivery': randomUUID(),
      },
    };
    for (const [provider, headers] of Object.entries(providers)) {
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(hub.http + '/api/v1/webhooks/git', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        });
        const answer = (await res.json()) as { ignored?: string };
        statuses.push(res.status);
        if (i > 0) assert.match(answer.ignored ?? '', /already handled/, provider);
      }
      assert.deepEqual(statuses, [202, 200, 200, 200, 200], provider);
    }
    // The delivery id is not signed: a captured body sent again with a new id, or with none,
    // is the same delivery.
    const replays: Record<string, string>[] = [
      { 'x-github-delivery': randomUUID() },
      { 'x-github-delivery': randomUUID() },
      {},
    ];
    for (const extra of replays) {
      const res = await fetch(hub.http + '/api/v1/webhooks/git', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-hub-signature-256': `sha256=${hmac}`,
          ...extra,
        },
        body,
      });
      const answer = (await res.json()) as { ignored?: string };
      assert.equal(res.status, 200, JSON.stringify(extra));
      assert.match(answer.ignored ?? '', /already handled/, JSON.stringify(extra));
    }
    const audit = await api(hub, admin, 'GET', '/api/v1/audit?limit=1000');
    const pushes = audit.body.items.filter((a: { action: string }) => a.action === 'webhook.push');
    assert.equal(pushes.length, 3, 'one audited push per delivery');
  });

  it('event streams are limited per token and in total; a closed stream frees its place', async () => {
    const viewer = async (name: string) =>
      (
        await api(proxied, proxied.bootstrapToken, 'POST', '/api/v1/api-tokens', {
          name,
          role: 'viewer',
        })
      ).body.token as string;
    const [v1, v2] = [await viewer('sse-1'), await viewer('sse-2')];
    const open: AbortController[] = [];
    const stream = async (token: string) => {
      const abort = new AbortController();
      const res = await fetch(proxied.http + '/api/v1/events', {
        headers: { authorization: `Bearer ${token}` },
        signal: abort.signal,
      });
      if (res.status === 200) open.push(abort);
      else await res.text();
      return res;
    };
    try {
      assert.equal((await stream(v1)).status, 200);
      assert.equal((await stream(v1)).status, 200);
      const third = await stream(v1);
      assert.equal(third.status, 429);
      assert.ok(Number(third.headers.get('retry-after')) > 0);
      assert.equal((await stream(v2)).status, 200);
      const over = await stream(v2);
      assert.equal(over.status, 429, 'the total is reached');
      open.shift()!.abort();
      const deadline = Date.now() + 10_000;
      let again = await stream(v2);
      while (again.status !== 200 && Date.now() < deadline) again = await stream(v2);
      assert.equal(again.status, 200, 'a closed stream frees its place');
    } finally {
      for (const a of open) a.abort();
    }
    await stillServing(proxied);
  });
});
