/**
 * A hostile repository against the agent's Git checkout, served by a real `git http-backend`:
 * trees that Git itself never writes but a server serves as they are. A symbolic link
 * followed by a file of the same name would have the checkout write that file wherever the
 * link points (the agent's work directory, another repository's checkout, anything the agent
 * may write). Each case plants the link's target outside the checkout and checks that the
 * sync fails for good (terminal, naming the entry), writes nothing there, and keeps the last
 * good checkout. And compression bombs: a tree that names one compressed blob many times (a
 * fetch of a few kilobytes that would write far more than the disk holds), and one file of
 * zeros that would inflate to far more than the agent's memory.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as nodeHttp from 'isomorphic-git/http/node';
import type { HttpClient } from 'isomorphic-git';
import { classify } from '@driftless/common';
import { GitSource } from '@driftless/agent';
import { startGitServer, type GitRepo, type GitServer } from '@driftless/test';

let server: GitServer;
let base: string;

before(async () => {
  server = await startGitServer();
  base = mkdtempSync(path.join(tmpdir(), 'driftless-git-tree-'));
});
after(async () => {
  await server.stop();
  rmSync(base, { recursive: true, force: true });
});

/** Runs git on the bare repository (plumbing: the trees a normal commit cannot make). */
function git(repo: GitRepo, args: string[], input?: string): string {
  return execFileSync('git', args, {
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      GIT_DIR: repo.path,
      HOME: '/nonexistent',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Mallory',
      GIT_AUTHOR_EMAIL: 'mallory@example.com',
      GIT_COMMITTER_NAME: 'Mallory',
      GIT_COMMITTER_EMAIL: 'mallory@example.com',
    },
    input,
  })
    .toString()
    .trim();
}

/** Commits a root tree of raw entries (`<mode> <type> <oid>\t<name>`) on top of main. */
function commitTree(repo: GitRepo, entries: string[]): string {
  const tree = git(repo, ['mktree'], `${entries.join('\n')}\n`);
  const commit = git(repo, ['commit-tree', tree, '-p', 'main', '-m', 'hostile tree']);
  git(repo, ['update-ref', 'refs/heads/main', commit]);
  return commit;
}

/** A client that asks for Git's protocol v0: the agent then clones instead of its v2 fetch. */
const protocolV0: HttpClient = {
  request: (request) => {
    const headers = Object.fromEntries(
      Object.entries(request.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'git-protocol'),
    );
    return nodeHttp.request({ ...request, headers });
  },
};

let repos = 0;
for (const transport of ['v2 fetch', 'v0 clone'] as const) {
  describe(`a tree with a link and a file of one name (${transport})`, () => {
    it('fails the sync for good, writes nothing through the link, keeps the last good checkout', async () => {
      const repo = await server.createRepo(`hostile-${++repos}`);
      const good = await repo.commit({ 'clusters/dev/driftless.yaml': 'kind: Cluster\n' }, 'good');
      const victim = path.join(base, `victim-${repos}.yaml`);
      const work = mkdtempSync(path.join(base, 'work-'));
      const src = new GitSource({
        url: repo.url,
        branch: 'main',
        dir: work,
        auth: server.credentials,
        ...(transport === 'v0 clone' ? { http: protocolV0 } : {}),
      });
      assert.equal((await src.sync()).revision, good);

      const link = git(repo, ['hash-object', '-w', '--stdin'], victim);
      const file = git(repo, ['hash-object', '-w', '--stdin'], 'written: through the link\n');
      const clusters = git(repo, ['rev-parse', `${good}:clusters`]);
      commitTree(repo, [
        `120000 blob ${link}\tpayload.yaml`,
        `100644 blob ${file}\tpayload.yaml`,
        `040000 tree ${clusters}\tclusters`,
      ]);

      const result = await src.sync();
      assert.equal(existsSync(victim), false, 'nothing is written where the link points');
      // Both ways in go through the one checkout writer: it refuses the tree, terminally.
      assert.equal(result.revision, good, 'the last good checkout stays current');
      assert.equal(result.fromCache, true);
      assert.ok(result.error, 'the sync reports why the new commit was not taken');
      assert.equal(classify(result.error), 'terminal');
      assert.match(result.error.message, /two entries named "payload\.yaml"/);
    });
  });
}

describe('a fresh agent given a hostile tree', () => {
  it('has no checkout at all rather than a half-written one, and says why', async () => {
    const repo = await server.createRepo(`hostile-${++repos}`);
    await repo.commit({ 'clusters/dev/driftless.yaml': 'kind: Cluster\n' }, 'good');
    const victim = path.join(base, `victim-${repos}.yaml`);
    const link = git(repo, ['hash-object', '-w', '--stdin'], victim);
    const file = git(repo, ['hash-object', '-w', '--stdin'], 'written: through the link\n');
    commitTree(repo, [`120000 blob ${link}\ta.yaml`, `100644 blob ${file}\ta.yaml`]);
    const work = mkdtempSync(path.join(base, 'work-'));
    const src = new GitSource({
      url: repo.url,
      branch: 'main',
      dir: work,
      auth: server.credentials,
    });
    await assert.rejects(src.sync(), (err: Error) => {
      assert.equal(classify(err), 'terminal');
      assert.match(err.message, /two entries named "a\.yaml"/);
      assert.ok(!err.message.includes(work), 'the message does not name the work directory');
      return true;
    });
    assert.equal(existsSync(victim), false);
  });
});

for (const transport of ['v2 fetch', 'v0 clone'] as const) {
  describe(`a tree that names one compressed blob many times (${transport})`, () => {
    it('stops writing at the checkout limit, fails for good and leaves nothing behind', async () => {
      const repo = await server.createRepo(`bomb-${++repos}`);
      const good = await repo.commit({ 'clusters/dev/driftless.yaml': 'kind: Cluster\n' }, 'good');
      const work = mkdtempSync(path.join(base, 'work-'));
      const src = new GitSource({
        url: repo.url,
        branch: 'main',
        dir: work,
        auth: server.credentials,
        // 1 MiB fetched at most, so at most 4 MiB written; a file of 1 MiB is allowed here.
        maxFetchBytes: 1024 * 1024,
        maxObjectBytes: 1024 * 1024,
        ...(transport === 'v0 clone' ? { http: protocolV0 } : {}),
      });
      assert.equal((await src.sync()).revision, good);

      // 1 MiB of zeros compresses to about a kilobyte; named 64 times it is 64 MiB.
      const zeros = git(repo, ['hash-object', '-w', '--stdin'], '\0'.repeat(1024 * 1024));
      const clusters = git(repo, ['rev-parse', `${good}:clusters`]);
      commitTree(repo, [
        `040000 tree ${clusters}\tclusters`,
        ...Array.from(
          { length: 64 },
          (_, i) => `100644 blob ${zeros}\tzeros-${String(i).padStart(2, '0')}.bin`,
        ),
      ]);

      const result = await src.sync();
      assert.equal(result.revision, good, 'the last good checkout stays current');
      assert.ok(result.error, 'the sync reports why the new commit was not taken');
      assert.equal(classify(result.error), 'terminal');
      assert.match(result.error.message, /more than 4 MiB checked out/);
      const incoming = path.join(work, 'incoming');
      assert.deepEqual(
        existsSync(incoming) ? readdirSync(incoming) : [],
        [],
        'nothing left behind',
      );
      assert.deepEqual(readdirSync(path.join(work, 'checkouts')), [good]);
    });
  });
}

for (const transport of ['v2 fetch', 'v0 clone'] as const) {
  describe(`a file of zeros that inflates far past its fetch (${transport})`, () => {
    it('is refused by its declared size, for good, before it is inflated', async () => {
      const repo = await server.createRepo(`zeros-${++repos}`);
      const good = await repo.commit({ 'clusters/dev/driftless.yaml': 'kind: Cluster\n' }, 'good');
      const work = mkdtempSync(path.join(base, 'work-'));
      // At most 1 MiB fetched, so one file may be 128 KiB.
      const src = new GitSource({
        url: repo.url,
        branch: 'main',
        dir: work,
        auth: server.credentials,
        maxFetchBytes: 1024 * 1024,
        ...(transport === 'v0 clone' ? { http: protocolV0 } : {}),
      });
      assert.equal((await src.sync()).revision, good);
      // 8 MiB of zeros: about 8 KiB in the pack.
      const zeros = git(repo, ['hash-object', '-w', '--stdin'], '\0'.repeat(8 * 1024 * 1024));
      const clusters = git(repo, ['rev-parse', `${good}:clusters`]);
      commitTree(repo, [`100644 blob ${zeros}\tbig.bin`, `040000 tree ${clusters}\tclusters`]);

      const result = await src.sync();
      assert.equal(result.revision, good, 'the last good checkout stays current');
      assert.ok(result.error);
      assert.equal(classify(result.error), 'terminal');
      assert.match(
        result.error.message,
        /holds a file of 8 MiB, over the 0\.1 MiB one file may be/,
      );
      assert.deepEqual(readdirSync(path.join(work, 'checkouts')), [good]);
    });
  });
}
