/**
 * A hostile repository against the agent's Git checkout, served by a real `git http-backend`:
 * trees that Git itself never writes but a server serves as they are. A symbolic link
 * followed by a file of the same name would have the checkout write that file wherever the
 * link points (the agent's work directory, another repository's checkout, anything the agent
 * may write). Each case plants the link's target outside the checkout and checks that the
 * sync fails for good (terminal, naming the entry), writes nothing there, and keeps the last
 * good checkout.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
      if (transport === 'v2 fetch') {
        // The v2 fetch writes the tree itself: it must refuse it, terminally.
        assert.equal(result.revision, good, 'the last good checkout stays current');
        assert.equal(result.fromCache, true);
        assert.ok(result.error, 'the sync reports why the new commit was not taken');
        assert.equal(classify(result.error), 'terminal');
        assert.match(result.error.message, /two entries named "payload\.yaml"/);
      } else if (!result.error) {
        // isomorphic-git's checkout writes one of the two; either way not through the link.
        const written = path.join(result.dir, 'payload.yaml');
        assert.ok(!existsSync(written) || !readFileSync(written, 'utf8').includes(victim));
      }
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
