/**
 * GitSource against a real `git http-backend` with basic auth: clone, the
 * one-request head check, new commits (one v2 fetch), hub hints (used only when
 * Git names the same head), outages, bad credentials, a missing branch,
 * restarts on the same work directory and a fetch cut off midway.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as nodeHttp from 'isomorphic-git/http/node';
import type { HttpClient } from 'isomorphic-git';
import { classify, errorMessage } from '@driftless/common';
import { GitSource, type GitSourceOptions } from '@driftless/agent';
import { startGitServer, type GitRepo, type GitServer } from '@driftless/test';

let server: GitServer;
const workDirs: string[] = [];

before(async () => {
  server = await startGitServer();
});
after(async () => {
  await server.stop();
  await Promise.all(workDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function workDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-source-it-'));
  workDirs.push(dir);
  return dir;
}

let repos = 0;
/** A fresh repository with one commit holding a cluster config. */
async function newRepo(): Promise<{ repo: GitRepo; first: string }> {
  const repo = await server.createRepo(`fleet-${++repos}`);
  const first = await repo.commit(
    {
      'clusters/dev/driftless.yaml': 'kind: Cluster\n',
      'apps/web/deploy.yaml': 'replicas: 1\n',
    },
    'first',
  );
  return { repo, first };
}

function source(repo: GitRepo, dir: string, extra: Partial<GitSourceOptions> = {}): GitSource {
  return new GitSource({ url: repo.url, branch: 'main', dir, auth: server.credentials, ...extra });
}

/** Requests the server received while `fn` ran. */
async function requestsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; requests: number }> {
  const start = server.requestCount;
  const result = await fn();
  return { result, requests: server.requestCount - start };
}

describe('GitSource against git http-backend', () => {
  it('clones on the first sync, then costs exactly one request per unchanged sync', async () => {
    const { repo, first } = await newRepo();
    const src = source(repo, await workDir());

    const cloned = await src.sync();
    assert.equal(cloned.revision, first);
    assert.equal(cloned.changed, true);
    assert.equal(cloned.fromCache, false);
    assert.equal(
      await readFile(path.join(cloned.dir, 'apps/web/deploy.yaml'), 'utf8'),
      'replicas: 1\n',
    );
    assert.equal(await src.readFile('clusters/dev/driftless.yaml'), 'kind: Cluster\n');

    for (let i = 0; i < 3; i++) {
      const { result, requests } = await requestsDuring(() => src.sync());
      assert.equal(requests, 1, 'an unchanged head is one request');
      assert.equal(result.changed, false);
      assert.equal(result.revision, first);
      assert.equal(result.dir, cloned.dir);
    }
    const last = server.requests.at(-1);
    assert.ok(last && last.responseBytes < 200, `head check answered ${last?.responseBytes} bytes`);
  });

  it('fetches a new commit, and keeps only the previous checkout besides the current one', async () => {
    const { repo, first } = await newRepo();
    const dir = await workDir();
    const src = source(repo, dir);
    await src.sync();

    const second = await repo.commit({ 'apps/web/deploy.yaml': 'replicas: 3\n' }, 'scale up');
    const moved = await src.sync();
    assert.equal(moved.revision, second);
    assert.equal(moved.changed, true);
    assert.equal(await src.readFile('apps/web/deploy.yaml'), 'replicas: 3\n');

    const third = await repo.commit({ 'apps/web/deploy.yaml': null }, 'remove web');
    assert.equal((await src.sync()).revision, third);
    await assert.rejects(src.readFile('apps/web/deploy.yaml'), { name: 'PathNotFoundError' });
    // Old checkouts are removed after the switch, off the sync's path.
    await src.settled();
    assert.deepEqual(readdirSync(path.join(dir, 'checkouts')).sort(), [second, third].sort());
    assert.ok(!existsSync(path.join(dir, 'checkouts', first)));
  });

  it('fetches a new commit in one request after the head check, and nothing more', async () => {
    const { repo } = await newRepo();
    const dir = await workDir();
    const src = source(repo, dir);
    await src.sync();
    const next = await repo.commit({ 'apps/web/deploy.yaml': 'replicas: 4\n' }, 'scale');
    const { result, requests } = await requestsDuring(() => src.sync());
    assert.equal(result.revision, next);
    assert.equal(requests, 2, 'ls-refs, then one fetch of that commit');
    assert.equal(await src.readFile('apps/web/deploy.yaml'), 'replicas: 4\n');
    assert.deepEqual(
      server.requests.slice(-2).map((r) => [r.method, r.url.replace(/^.*\.git/, '')]),
      [
        ['POST', '/git-upload-pack'],
        ['POST', '/git-upload-pack'],
      ],
    );
  });

  it('uses a hinted commit only once Git names it the head', async () => {
    const { repo } = await newRepo();
    const dir = await workDir();
    const src = source(repo, dir);
    await src.sync();
    const next = await repo.commit({ 'apps/web/deploy.yaml': 'replicas: 5\n' }, 'scale');
    const { result, requests } = await requestsDuring(() => src.sync(undefined, { hint: next }));
    assert.equal(result.revision, next);
    assert.equal(result.changed, true);
    assert.equal(requests, 2, 'the hinted fetch and ls-refs, side by side');
    assert.equal(await src.readFile('apps/web/deploy.yaml'), 'replicas: 5\n');
  });

  it('ignores a hint that is not the head: an older commit, or one that does not exist', async () => {
    const { repo } = await newRepo();
    const dir = await workDir();
    const src = source(repo, dir);
    await src.sync();
    const second = await repo.commit({ 'apps/web/deploy.yaml': 'replicas: 2\n' }, 'two');
    const third = await repo.commit({ 'apps/web/deploy.yaml': 'replicas: 3\n' }, 'three');
    // The hub names a commit Git has, but not as the head: the head is what is checked out.
    const older = await src.sync(undefined, { hint: second });
    assert.equal(older.revision, third);
    assert.equal(await src.readFile('apps/web/deploy.yaml'), 'replicas: 3\n');
    await src.settled();
    assert.ok(!existsSync(path.join(dir, 'checkouts', second)), 'the hinted commit is not kept');
    assert.deepEqual(readdirSync(path.join(dir, 'incoming')), []);
    // A commit that does not exist, at an unchanged head: nothing changes.
    const bogus = await src.sync(undefined, { hint: 'f'.repeat(40) });
    assert.equal(bogus.revision, third);
    assert.equal(bogus.changed, false);
    assert.equal(bogus.fromCache, false);
    assert.equal(bogus.error, undefined);
    // A hint naming the current commit costs just the head check.
    const { requests } = await requestsDuring(() => src.sync(undefined, { hint: third }));
    assert.equal(requests, 1);
  });

  it('returns the last good checkout while the server is down, and catches up after', async () => {
    const { repo, first } = await newRepo();
    const src = source(repo, await workDir());
    await src.sync();

    await server.pause();
    let down;
    try {
      down = await src.sync();
    } finally {
      await server.resume();
    }
    assert.equal(down.fromCache, true);
    assert.equal(down.revision, first);
    assert.equal(down.error?.name, 'GitUnavailableError');
    assert.equal(classify(down.error), 'transient');
    assert.match(errorMessage(down.error), new RegExp(`git ${repo.url}: unreachable`));

    const next = await repo.commit({ 'apps/web/deploy.yaml': 'replicas: 2\n' }, 'while down');
    const up = await src.sync();
    assert.equal(up.fromCache, false);
    assert.equal(up.revision, next);
  });

  it('reports a wrong password clearly, without the password or it in the URL', async () => {
    const { repo, first } = await newRepo();
    const password = 'definitely-wrong-password';
    const wrong = { username: server.credentials.username, password };
    const withUserInUrl = repo.url.replace('http://', `http://${wrong.username}:${password}@`);

    const fresh = source(repo, await workDir(), { url: withUserInUrl, auth: undefined });
    await assert.rejects(fresh.sync(), (err: Error) => {
      assert.equal(err.name, 'GitAuthError');
      assert.equal(classify(err), 'terminal');
      assert.equal(
        err.message,
        `git ${repo.url}: authentication failed (HTTP 401): check the user name and password or token`,
      );
      assert.ok(!errorMessage(err).includes(password));
      return true;
    });

    // With a last good checkout, the agent keeps running it and reports why.
    const dir = await workDir();
    await source(repo, dir).sync();
    const cached = await source(repo, dir, { auth: wrong }).sync();
    assert.equal(cached.fromCache, true);
    assert.equal(cached.revision, first);
    assert.equal(cached.error?.name, 'GitAuthError');

    const anonymous = source(repo, await workDir(), { auth: undefined });
    await assert.rejects(
      anonymous.sync(),
      /authentication required \(HTTP 401\) and no credentials/,
    );
  });

  it('names the branch when it does not exist', async () => {
    const { repo } = await newRepo();
    await assert.rejects(source(repo, await workDir(), { branch: 'prod' }).sync(), (err: Error) => {
      assert.equal(err.name, 'GitNotFoundError');
      assert.equal(classify(err), 'terminal');
      assert.equal(err.message, `git ${repo.url}: branch "prod" not found`);
      return true;
    });
    const missingRepo = { ...repo, url: `${server.url}/no-such-repo.git` };
    await assert.rejects(source(missingRepo, await workDir()).sync(), {
      name: 'GitNotFoundError',
      message: `git ${server.url}/no-such-repo.git: repository not found (HTTP 404)`,
    });
  });

  it('reuses the work directory after a restart without fetching again', async () => {
    const { repo, first } = await newRepo();
    const dir = await workDir();
    const cloned = await source(repo, dir).sync();

    const restarted = source(repo, dir);
    const { result, requests } = await requestsDuring(() => restarted.sync());
    assert.equal(requests, 1);
    assert.equal(result.revision, first);
    assert.equal(result.dir, cloned.dir);
    assert.equal(result.changed, false);

    // Restarted while Git is down: the checkout on disk is still served.
    await server.pause();
    try {
      const offline = await source(repo, dir).sync();
      assert.equal(offline.fromCache, true);
      assert.equal(offline.revision, first);
      assert.equal(
        await readFile(path.join(offline.dir, 'clusters/dev/driftless.yaml'), 'utf8'),
        'kind: Cluster\n',
      );
    } finally {
      await server.resume();
    }
  });

  it('keeps the last good checkout intact when a fetch breaks off midway', async () => {
    const { repo, first } = await newRepo();
    const dir = await workDir();
    await source(repo, dir).sync();
    await repo.commit({ 'apps/web/deploy.yaml': 'replicas: 9\n' }, 'next');

    // Cut the connection as the pack starts to arrive.
    const cutting: HttpClient = {
      async request(req) {
        const res = await nodeHttp.request(req);
        if (req.method === 'POST' && req.url.endsWith('/git-upload-pack') && !isLsRefs(req)) {
          return {
            ...res,
            body: (async function* () {
              yield new Uint8Array([0x30]);
              throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
            })(),
          };
        }
        return res;
      },
    };
    const broken = await source(repo, dir, { http: cutting }).sync();
    assert.equal(broken.fromCache, true);
    assert.equal(broken.revision, first);
    assert.equal(broken.error?.name, 'GitUnavailableError');
    assert.match(errorMessage(broken.error), /unreachable \(ECONNRESET\)/);
    assert.equal(
      await readFile(path.join(broken.dir, 'apps/web/deploy.yaml'), 'utf8'),
      'replicas: 1\n',
    );
    assert.deepEqual(readdirSync(path.join(dir, 'incoming')), [], 'the partial clone is removed');

    const healed = await source(repo, dir).sync();
    assert.equal(healed.changed, true);
    assert.equal(
      await readFile(path.join(healed.dir, 'apps/web/deploy.yaml'), 'utf8'),
      'replicas: 9\n',
    );
  });
});

/** True for the head check's request (a v2 `ls-refs` command), as opposed to a fetch. */
function isLsRefs(req: { body?: unknown }): boolean {
  const first: unknown = Array.isArray(req.body) ? req.body[0] : undefined;
  return first instanceof Uint8Array && Buffer.from(first).toString().includes('command=ls-refs');
}
