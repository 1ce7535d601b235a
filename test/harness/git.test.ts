import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as fs from 'node:fs';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { startGitServer, type GitRepo, type GitServer } from './index.ts';

describe('git server', () => {
  let server: GitServer;
  let repo: GitRepo;
  let firstCommit: string;
  const workDirs: string[] = [];

  const workDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'driftless-git-test-'));
    workDirs.push(dir);
    return dir;
  };
  const onAuth = () => server.credentials;

  before(async () => {
    server = await startGitServer();
    repo = await server.createRepo('apps', { branch: 'main' });
    firstCommit = await repo.commit(
      { 'clusters/dev/driftless.yaml': 'kind: Cluster\n', 'README.md': 'hello\n' },
      'first',
    );
  });

  after(async () => {
    await server?.stop();
    await Promise.all(workDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('clones the branch over HTTP with credentials', async () => {
    const dir = await workDir();
    await git.clone({ fs, http, dir, url: repo.url, singleBranch: true, depth: 1, onAuth });
    assert.equal(
      await readFile(join(dir, 'clusters/dev/driftless.yaml'), 'utf8'),
      'kind: Cluster\n',
    );
    assert.equal(await git.resolveRef({ fs, dir, ref: 'HEAD' }), firstCommit);
    assert.equal(await git.currentBranch({ fs, dir }), 'main');
  });

  it('rejects a clone without credentials with a 401', async () => {
    const dir = await workDir();
    await assert.rejects(git.clone({ fs, http, dir, url: repo.url }), (error: Error) => {
      assert.equal(error.name, 'HttpError');
      assert.match(error.message, /401/);
      return true;
    });
  });

  it('rejects a wrong password', async () => {
    await assert.rejects(
      git.getRemoteInfo({
        http,
        url: repo.url,
        onAuth: () => ({ username: server.credentials.username, password: 'wrong' }),
        onAuthFailure: () => ({ cancel: true }),
      }),
      /401|cancel/i,
    );
  });

  it('moves the branch with each commit, deleting files given as null', async () => {
    const second = await repo.commit(
      { 'README.md': null, 'apps/web/deploy.yaml': 'kind: Deployment\n' },
      'second',
    );
    assert.notEqual(second, firstCommit);
    assert.equal(await repo.head(), second);
    const info = await git.getRemoteInfo2({ http, url: repo.url, onAuth, protocolVersion: 1 });
    const heads = info.refs?.filter((ref) => ref.ref === 'refs/heads/main') ?? [];
    assert.equal(heads[0]?.oid, second);

    const dir = await workDir();
    await git.clone({ fs, http, dir, url: repo.url, singleBranch: true, depth: 1, onAuth });
    assert.deepEqual((await git.listFiles({ fs, dir })).sort(), [
      'apps/web/deploy.yaml',
      'clusters/dev/driftless.yaml',
    ]);
  });

  it('counts requests: checking an unchanged head is one small request', async () => {
    // Sending the credentials up front, as a polling agent should, saves the 401 round trip.
    const { username, password } = server.credentials;
    const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const before = server.requestCount;
    await git.getRemoteInfo2({
      http,
      url: repo.url,
      headers: { authorization },
      protocolVersion: 1,
    });
    assert.equal(server.requestCount, before + 1);
    const last = server.requests.at(-1);
    assert.equal(last?.status, 200);
    assert.match(last?.url ?? '', /\/apps\.git\/info\/refs\?service=git-upload-pack$/);
    assert.ok((last?.responseBytes ?? Infinity) < 2048, `${last?.responseBytes} bytes`);
  });

  it('is unreachable while paused and serves again after resume', async () => {
    await server.pause();
    await assert.rejects(
      git.getRemoteInfo2({ http, url: repo.url, onAuth, protocolVersion: 1 }),
      /ECONNREFUSED|ECONNRESET|socket hang up/,
    );
    await server.resume();
    const info = await git.getRemoteInfo2({ http, url: repo.url, onAuth, protocolVersion: 1 });
    assert.ok(info.refs?.some((ref) => ref.ref === 'refs/heads/main'));
  });
});
