import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { classify, errorMessage, redactUrl } from '@driftless/common';
import {
  GitAuthError,
  GitNotFoundError,
  GitSource,
  GitUnavailableError,
  PathNotFoundError,
  PathOutsideCheckoutError,
  toGitSourceError,
} from './index.ts';
import { lsRefsRequest, lsRemoteRef, parseLsRefsResponse } from './ls-refs.ts';

const SHA = 'a'.repeat(40);
const OTHER = 'b'.repeat(40);
const URL = 'https://git.example.com/fleet.git';

const text = new TextEncoder();
const pkt = (s: string) => (s.length + 4).toString(16).padStart(4, '0') + s;

/** A fake transport: answers each request with `answer`, recording what was asked. */
function fakeHttp(answer: (req: GitHttpRequest) => Partial<GitHttpResponse> | Error) {
  const requests: GitHttpRequest[] = [];
  const http: HttpClient = {
    async request(req) {
      requests.push(req);
      const a = answer(req);
      if (a instanceof Error) throw a;
      return { url: req.url, statusCode: 200, statusMessage: 'OK', headers: {}, ...a };
    },
  };
  return { http, requests };
}

/** A response body of one string. */
function body(s: string): AsyncIterableIterator<Uint8Array> {
  return (async function* () {
    yield text.encode(s);
  })();
}

/** An ls-refs v2 answer listing `refs`. */
const lsRefsAnswer = (refs: Record<string, string>) =>
  body(
    Object.entries(refs)
      .map(([ref, sha]) => pkt(`${sha} ${ref}\n`))
      .join('') + '0000',
  );

const networkError = () =>
  Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const httpError = (status: number) =>
  Object.assign(new Error(`HTTP Error: ${status}`), {
    code: 'HttpError',
    data: { statusCode: status, statusMessage: '', response: '' },
  });

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A work dir as a previous agent process left it: `revision` checked out with `files`. */
function workDirWith(revision: string, files: Record<string, string>, url = URL, branch = 'main') {
  const dir = mkdtempSync(join(tmpdir(), 'driftless-source-'));
  dirs.push(dir);
  const checkout = join(dir, 'checkouts', revision);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(checkout, path, '..'), { recursive: true });
    writeFileSync(join(checkout, path), content);
  }
  writeFileSync(join(dir, 'current.json'), JSON.stringify({ url, branch, revision }));
  return dir;
}

describe('ls-refs', () => {
  it('encodes a v2 ls-refs request limited to one prefix', () => {
    assert.equal(
      new TextDecoder().decode(lsRefsRequest('refs/heads/main')),
      '0014command=ls-refs\n0014agent=driftless\n0001001fref-prefix refs/heads/main\n0000',
    );
  });

  it('parses answers and refuses anything that is not one', () => {
    const ok = text.encode(
      `${pkt(`${SHA} refs/heads/main\n`)}${pkt(`${OTHER} refs/heads/main-old\n`)}0000`,
    );
    assert.deepEqual(
      parseLsRefsResponse(ok),
      new Map([
        ['refs/heads/main', SHA],
        ['refs/heads/main-old', OTHER],
      ]),
    );
    assert.deepEqual(parseLsRefsResponse(text.encode('0000')), new Map());
    assert.equal(parseLsRefsResponse(text.encode(pkt(`${SHA} refs/heads/main\n`))), undefined);
    assert.equal(parseLsRefsResponse(text.encode(`${pkt('ERR unknown command')}0000`)), undefined);
    assert.equal(parseLsRefsResponse(text.encode('<html>')), undefined);
  });

  it('asks once with a POST, and falls back to discovery when the server does not speak v2', async () => {
    const direct = fakeHttp(() => ({ body: lsRefsAnswer({ 'refs/heads/main': SHA }) }));
    const headers = { Authorization: 'Basic eDp5' };
    assert.deepEqual(
      await lsRemoteRef({ http: direct.http, url: URL, ref: 'refs/heads/main', headers }),
      {
        sha: SHA,
        twoStep: false,
      },
    );
    assert.equal(direct.requests.length, 1);
    assert.equal(direct.requests[0]?.method, 'POST');
    assert.equal(direct.requests[0]?.headers?.['Authorization'], 'Basic eDp5');

    // A v0-only server: the POST fails, the v1 advertisement answers.
    const advertisement =
      pkt('# service=git-upload-pack\n') +
      '0000' +
      pkt(`${SHA} HEAD\0multi_ack symref=HEAD:refs/heads/main\n`) +
      pkt(`${SHA} refs/heads/main\n`) +
      '0000';
    const old = fakeHttp((req) =>
      req.method === 'POST'
        ? { statusCode: 400, statusMessage: 'Bad Request', body: body('') }
        : {
            headers: { 'content-type': 'application/x-git-upload-pack-advertisement' },
            body: body(advertisement),
          },
    );
    assert.deepEqual(
      await lsRemoteRef({ http: old.http, url: URL, ref: 'refs/heads/main', headers }),
      {
        sha: SHA,
        twoStep: true,
      },
    );
    assert.deepEqual(
      old.requests.map((r) => r.method ?? 'GET'),
      ['POST', 'GET'],
    );
  });
});

describe('errors', () => {
  const where = { url: URL, branch: 'main' };
  it('classifies what Git and the network throw', () => {
    const cases: [unknown, string, string][] = [
      [httpError(401), 'GitAuthError', 'terminal'],
      [httpError(403), 'GitAuthError', 'terminal'],
      [httpError(404), 'GitNotFoundError', 'terminal'],
      [httpError(503), 'GitUnavailableError', 'transient'],
      [httpError(429), 'GitUnavailableError', 'transient'],
      [networkError(), 'GitUnavailableError', 'transient'],
      [Object.assign(new Error('x'), { code: 'SmartHttpError' }), 'GitProtocolError', 'terminal'],
      [new Error('pack truncated'), 'GitUnavailableError', 'transient'],
    ];
    for (const [err, name, cls] of cases) {
      const e = toGitSourceError(err, where, { hasCredentials: true });
      assert.equal(e.name, name, errorMessage(err));
      assert.equal(classify(e), cls, errorMessage(err));
      assert.equal(e.cause, err);
    }
  });

  it('says when credentials are missing rather than wrong', () => {
    assert.equal(
      toGitSourceError(httpError(401), where, { hasCredentials: false }).message,
      `git ${URL}: authentication required (HTTP 401) and no credentials are configured`,
    );
  });

  it('shows URLs without credentials, query or fragment', () => {
    assert.equal(
      redactUrl('https://bot:tok@git.example.com/x.git?t=1#f'),
      'https://git.example.com/x.git',
    );
    assert.equal(redactUrl('not a url with secret'), '<invalid URL>');
  });
});

describe('GitSource', () => {
  it('reuses a checkout left on disk and does not fetch an unchanged head (one request)', async () => {
    const dir = workDirWith(SHA, { 'clusters/dev/driftless.yaml': 'kind: Cluster\n' });
    const { http, requests } = fakeHttp(() => ({ body: lsRefsAnswer({ 'refs/heads/main': SHA }) }));
    const source = new GitSource({ url: URL, branch: 'main', dir, http });
    const result = await source.sync();
    assert.equal(result.revision, SHA);
    assert.equal(result.dir, join(dir, 'checkouts', SHA));
    assert.equal(result.changed, false);
    assert.equal(result.fromCache, false);
    assert.equal(requests.length, 1);
    assert.equal(await source.readFile('clusters/dev/driftless.yaml'), 'kind: Cluster\n');
  });

  it('returns the last good checkout with a transient error when Git is unreachable', async () => {
    const dir = workDirWith(SHA, { 'a.yaml': 'a' });
    const { http } = fakeHttp(networkError);
    const result = await new GitSource({ url: URL, branch: 'main', dir, http }).sync();
    assert.equal(result.fromCache, true);
    assert.equal(result.revision, SHA);
    assert.ok(result.error instanceof GitUnavailableError);
    assert.equal(classify(result.error), 'transient');
  });

  it('returns the last good checkout with a terminal error when auth fails', async () => {
    const dir = workDirWith(SHA, { 'a.yaml': 'a' });
    const { http } = fakeHttp(() => ({
      statusCode: 401,
      statusMessage: 'Unauthorized',
      body: body(''),
    }));
    const result = await new GitSource({
      url: URL,
      branch: 'main',
      dir,
      http,
      auth: { username: 'bot', password: 'wrong-secret' },
    }).sync();
    assert.equal(result.fromCache, true);
    assert.ok(result.error instanceof GitAuthError);
    assert.equal(classify(result.error), 'terminal');
    assert.ok(!errorMessage(result.error).includes('wrong-secret'));
  });

  it('throws when Git fails and there is no last good checkout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'driftless-source-'));
    dirs.push(dir);
    const { http } = fakeHttp(networkError);
    await assert.rejects(
      new GitSource({ url: URL, branch: 'main', dir, http }).sync(),
      GitUnavailableError,
    );
    const missing = fakeHttp(() => ({ body: lsRefsAnswer({}) }));
    await assert.rejects(
      new GitSource({ url: URL, branch: 'prod', dir, http: missing.http }).sync(),
      (err: Error) =>
        err instanceof GitNotFoundError && err.message === `git ${URL}: branch "prod" not found`,
    );
  });

  it('does not reuse a checkout of another repository or branch', async () => {
    const dir = workDirWith(SHA, { 'a.yaml': 'a' }, 'https://git.example.com/other.git');
    const { http } = fakeHttp(networkError);
    await assert.rejects(
      new GitSource({ url: URL, branch: 'main', dir, http }).sync(),
      GitUnavailableError,
    );
    const branchDir = workDirWith(SHA, { 'a.yaml': 'a' }, URL, 'staging');
    await assert.rejects(
      new GitSource({ url: URL, branch: 'main', dir: branchDir, http }).sync(),
      GitUnavailableError,
    );
  });

  it('moves credentials out of the URL into a header sent up front', async () => {
    const dir = workDirWith(SHA, { 'a.yaml': 'a' });
    const { http, requests } = fakeHttp(() => ({ body: lsRefsAnswer({ 'refs/heads/main': SHA }) }));
    const source = new GitSource({
      url: 'https://bot:s3cret@git.example.com/fleet.git',
      branch: 'main',
      dir,
      http,
    });
    assert.equal(source.url, URL);
    assert.equal((await source.sync()).fromCache, false, 'the checkout of the same URL is reused');
    assert.equal(requests[0]?.url, `${URL}/git-upload-pack`);
    assert.equal(
      requests[0]?.headers?.['Authorization'],
      `Basic ${Buffer.from('bot:s3cret').toString('base64')}`,
    );
  });

  it('gives every request the abort signal and the idle timeout', async () => {
    const dir = workDirWith(SHA, { 'a.yaml': 'a' });
    const { http, requests } = fakeHttp(() => ({ body: lsRefsAnswer({ 'refs/heads/main': SHA }) }));
    const controller = new AbortController();
    await new GitSource({ url: URL, branch: 'main', dir, http, idleTimeoutMs: 1234 }).sync(
      controller.signal,
    );
    assert.equal(requests[0]?.signal, controller.signal);
    assert.deepEqual(requests[0]?.fetchOptions, { timeout: 1234 });
  });

  it('runs one sync at a time: overlapping calls share it', async () => {
    const dir = workDirWith(SHA, { 'a.yaml': 'a' });
    const { http, requests } = fakeHttp(() => ({ body: lsRefsAnswer({ 'refs/heads/main': SHA }) }));
    const source = new GitSource({ url: URL, branch: 'main', dir, http });
    const [a, b] = await Promise.all([source.sync(), source.sync()]);
    assert.equal(a, b);
    assert.equal(requests.length, 1);
  });

  it('throws the abort reason rather than falling back when aborted', async () => {
    const dir = workDirWith(SHA, { 'a.yaml': 'a' });
    const controller = new AbortController();
    const { http } = fakeHttp(() => {
      controller.abort(new Error('sync deadline'));
      return networkError();
    });
    await assert.rejects(
      new GitSource({ url: URL, branch: 'main', dir, http }).sync(controller.signal),
      /sync deadline/,
    );
  });

  it('measures the sync with the given clock', async () => {
    const dir = workDirWith(SHA, { 'a.yaml': 'a' });
    let now = 1000;
    const clock = { now: () => now, sleep: () => Promise.resolve() };
    const { http } = fakeHttp(() => {
      now += 250; // the server takes 250 ms to answer
      return { body: lsRefsAnswer({ 'refs/heads/main': SHA }) };
    });
    const result = await new GitSource({ url: URL, branch: 'main', dir, http, clock }).sync();
    assert.equal(result.durationMs, 250);
    assert.deepEqual(result.phases, { lsRefsMs: 250, cloneMs: 0, verifyMs: 0 });
  });

  it('refuses paths that leave the checkout, also through symlinks and into .git', async () => {
    const dir = workDirWith(SHA, {
      'apps/web/deploy.yaml': 'kind: Deployment\n',
      '.git/config': '[core]\n',
    });
    const outside = join(dir, 'secret.txt');
    writeFileSync(outside, 'node secret');
    symlinkSync(outside, join(dir, 'checkouts', SHA, 'apps', 'escape.yaml'));
    symlinkSync('web/deploy.yaml', join(dir, 'checkouts', SHA, 'apps', 'inside.yaml'));
    const { http } = fakeHttp(() => ({ body: lsRefsAnswer({ 'refs/heads/main': SHA }) }));
    const source = new GitSource({ url: URL, branch: 'main', dir, http });
    await assert.rejects(source.readFile('a.yaml'), /no checkout yet/);
    await source.sync();
    assert.equal(await source.readFile('apps/inside.yaml'), 'kind: Deployment\n');
    assert.equal(await source.readFile('./apps/web/../web/deploy.yaml'), 'kind: Deployment\n');
    assert.equal(await source.resolvePath('apps/web'), join(dir, 'checkouts', SHA, 'apps', 'web'));
    for (const bad of [
      '../../secret.txt',
      '/etc/passwd',
      'apps/escape.yaml',
      '.git/config',
      '.git',
    ]) {
      await assert.rejects(source.readFile(bad), PathOutsideCheckoutError, bad);
    }
    await assert.rejects(
      source.readFile('apps/nope.yaml'),
      (err: Error) =>
        err instanceof PathNotFoundError &&
        err.message === `apps/nope.yaml not found at ${SHA.slice(0, 7)}` &&
        errorMessage(err) === err.message,
    );
  });
});
