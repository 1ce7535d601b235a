/**
 * The commit-status poster over the real store (SQLite file and PostgreSQL) posting to HTTP
 * receivers that check GitHub's, GitLab's and Gitea's documented requests: each host gets
 * the request it documents; a 500 is retried with backoff and shows in the post log; a
 * refused token waits until the host's token is replaced; two replicas post each status once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@driftless/common';
import {
  startGitHostReceiver,
  startPostgres,
  waitFor,
  type GitHostReceiver,
  type PostgresServer,
} from '@driftless/test';
import { hostTokenContext, StatusPoster } from '../../../hub/src/commit-status/index.ts';
import { OutboundGuard } from '../../../hub/src/outbound/index.ts';
import { AesGcmSecretBox } from '../../../hub/src/secrets/index.ts';
import { openStore, type GitHostKind, type Store } from '../../../hub/src/store/index.ts';

const log = createLogger({ name: 'test', level: 'silent' });
const secrets = new AesGcmSecretBox([randomBytes(32)]);
const audit = { actor: 'test', action: 'commit-status-host.create', target: 'test' };
const TOKEN = 'host-token-' + randomBytes(8).toString('hex');
const sha = () => randomBytes(20).toString('hex');
// The receivers listen on loopback, which the hub refuses unless the operator allows it.
const LOOPBACK_ALLOWED = new OutboundGuard({ allow: ['127.0.0.0/8'] });

/** Registers a receiver as host `name` (with `token`) on the store. */
async function addHost(store: Store, name: string, r: GitHostReceiver, token = TOKEN) {
  const now = Date.now();
  await store.putStatusHost(
    {
      name,
      kind: r.kind,
      match: `git.${name}.test`,
      apiUrl: r.apiUrl,
      tokenSealed: secrets.seal(token, hostTokenContext(name)),
      createdMs: now,
      createdBy: 'test',
      updatedMs: now,
    },
    audit,
  );
}

/** Wants `state` on a new commit of `repoPath` at host `host`; returns the key. */
async function want(store: Store, host: string, repoPath: string, state = 'pending' as const) {
  const key = {
    repoUrl: `https://git.${host}.test/${repoPath}.git`,
    sha: sha(),
    context: 'driftless/prod-eu',
  };
  await store.setDesiredStatus(
    key,
    {
      state,
      description: 'syncing',
      targetUrl: 'http://hub.test/#/clusters/prod-eu',
      host,
      repoPath,
      supersededBy: '',
    },
    ['none'],
    Date.now(),
  );
  return key;
}

function posterSuite(name: string, open: () => Promise<Store>) {
  describe(`commit-status poster on ${name}`, () => {
    let store: Store;
    const receivers = {} as Record<GitHostKind, GitHostReceiver>;
    const posters: StatusPoster[] = [];
    const poster = (o: Partial<ConstructorParameters<typeof StatusPoster>[0]> = {}) => {
      const p = new StatusPoster({
        store,
        secrets,
        log,
        guard: LOOPBACK_ALLOWED,
        intervalMs: 50,
        retryInitialMs: 50,
        retryMaxMs: 200,
        ...o,
      });
      posters.push(p);
      return p;
    };

    before(async () => {
      store = await open();
      for (const kind of ['github', 'gitlab', 'gitea'] as const) {
        receivers[kind] = await startGitHostReceiver({
          kind,
          token: TOKEN,
          repos: ['acme/fleet', 'group/sub/fleet'],
        });
        await addHost(store, kind, receivers[kind]);
      }
    });
    after(async () => {
      for (const p of posters) await p.stop();
      for (const r of Object.values(receivers)) await r.stop();
      await store?.close();
    });

    it('posts to each host the request it documents, and logs the post', async () => {
      const keys = {
        github: await want(store, 'github', 'acme/fleet'),
        gitlab: await want(store, 'gitlab', 'group/sub/fleet'),
        gitea: await want(store, 'gitea', 'acme/fleet'),
      };
      const pending = await store.listCommitStatuses({
        context: 'driftless/prod-eu',
        repoUrl: keys.gitea.repoUrl,
        states: ['pending'],
      });
      assert.deepEqual(
        pending.map((s) => s.sha),
        [keys.gitea.sha],
        "the engine finds a scope's pending commits",
      );
      assert.equal(
        await store.setDesiredStatus(
          keys.gitea,
          { ...pending[0]!, state: 'superseded', supersededBy: 'f'.repeat(40) },
          ['success'],
          Date.now(),
        ),
        false,
        'a transition from a state it is not in changes nothing',
      );
      assert.equal(await poster().round(), 3);
      for (const kind of ['github', 'gitlab', 'gitea'] as const) {
        const r = receivers[kind];
        const got = r.statuses.find((s) => s.sha === keys[kind].sha);
        assert.ok(got, `${kind} received the status`);
        assert.equal(got.state, kind === 'gitlab' ? 'running' : 'pending');
        assert.equal(got.context, 'driftless/prod-eu');
        assert.equal(got.targetUrl, 'http://hub.test/#/clusters/prod-eu');
        assert.deepEqual(
          r.requests.filter((q) => q.refusal !== ''),
          [],
          `${kind} refused nothing`,
        );
        const [status] = await store.listCommitStatuses({ sha: keys[kind].sha });
        assert.equal(status?.postedVersion, status?.version);
        const [post] = await store.listStatusPosts({ sha: keys[kind].sha });
        assert.equal(post?.result, 'posted');
        assert.equal(post?.httpStatus, 201);
      }
    });

    it('retries a host answering 500 with backoff, and shows each failure in the post log', async () => {
      receivers.github.failNext(2, 500);
      const key = await want(store, 'github', 'acme/fleet');
      const running = poster();
      running.start();
      await waitFor('the status to reach GitHub after two 500s', () =>
        receivers.github.statuses.some((s) => s.sha === key.sha),
      );
      await running.stop();
      const posts = (await store.listStatusPosts({ sha: key.sha })).reverse();
      assert.deepEqual(
        posts.map((p) => [p.result, p.httpStatus, p.attempt]),
        [
          ['failed', 500, 1],
          ['failed', 500, 2],
          ['posted', 201, 3],
        ],
      );
      // The host's message is its answer, apart from the error everyone reads.
      assert.match(posts[0]!.error, /: HTTP 500$/);
      assert.equal(posts[0]!.answer, 'Internal Server Error');
    });

    it('refuses to post to a loopback API root unless allowed, naming the reason; nothing reaches the host', async () => {
      const github = receivers.github;
      const before = github.requests.length;
      const key = await want(store, 'github', 'acme/fleet');
      // The hub's default: only public addresses.
      const p = poster({ guard: new OutboundGuard(), terminalRetryMs: 3_600_000 });
      assert.equal(await p.round(), 1);
      const [held] = await store.listCommitStatuses({ sha: key.sha });
      assert.match(
        held!.lastError,
        /^post pending status to github 127\.0\.0\.1:\d+ for acme\/fleet@[0-9a-f]{7}: refused: 127\.0\.0\.1 is a loopback address; the hub sends only to public addresses unless --allow-private-destinations allows it$/,
      );
      assert.ok(held!.nextAttemptMs > Date.now() + 3_000_000, 'terminal: not retried at once');
      assert.equal(github.requests.length, before, 'nothing reached the host');
      const [post] = await store.listStatusPosts({ sha: key.sha });
      assert.deepEqual([post!.result, post!.httpStatus, post!.answer], ['failed', 0, '']);
    });

    it('holds a status refused for its token until the token is replaced, never showing the token', async () => {
      const wrong = 'wrong-' + randomBytes(8).toString('hex');
      const gitea = receivers.gitea;
      await addHost(store, 'gitea', gitea, wrong);
      const key = await want(store, 'gitea', 'acme/fleet', 'pending');
      const p = poster({ terminalRetryMs: 3_600_000 });
      assert.equal(await p.round(), 1);
      const [held] = await store.listCommitStatuses({ sha: key.sha });
      assert.equal(held?.attempts, 1);
      assert.match(held.lastError, /: HTTP 401$/);
      assert.equal(held.lastAnswer, 'token is required');
      assert.ok(held.nextAttemptMs > Date.now() + 3_000_000, 'a refused token is not hammered');
      assert.equal(await p.round(), 0, 'nothing due');
      for (const post of await store.listStatusPosts({ sha: key.sha }))
        assert.ok(!post.error.includes(wrong), 'no token in the post log');
      await addHost(store, 'gitea', gitea, TOKEN);
      assert.equal(await p.round(), 1, 'a replaced token is tried at once');
      assert.ok(gitea.statuses.some((s) => s.sha === key.sha));
    });

    it('posts each status once when two replicas claim at the same time', async () => {
      const before = receivers.gitlab.statuses.length;
      const keys = await Promise.all(
        Array.from({ length: 6 }, () => want(store, 'gitlab', 'group/sub/fleet')),
      );
      const [a, b] = [poster({ owner: 'replica-a' }), poster({ owner: 'replica-b' })];
      const [na, nb] = await Promise.all([a.round(), b.round()]);
      assert.equal(na + nb, 6);
      const got = receivers.gitlab.statuses.slice(before).map((s) => s.sha);
      assert.deepEqual([...got].sort(), keys.map((k) => k.sha).sort(), 'each posted exactly once');
    });

    it('forgets old statuses, but not one a replica is posting', async () => {
      const busy = await want(store, 'github', 'acme/fleet');
      const now = Date.now();
      assert.equal((await store.claimDueStatuses('replica-c', now, now + 60_000, 100)).length, 1);
      const forgotten = await store.pruneCommitStatuses(now + 1, now);
      assert.ok(forgotten > 0);
      assert.deepEqual(
        (await store.listCommitStatuses({})).map((s) => s.sha),
        [busy.sha],
      );
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'driftless-commit-status-'));
after(() => rmSync(dir, { recursive: true, force: true }));
after(() => LOOPBACK_ALLOWED.close());
posterSuite('SQLite', () => openStore({ kind: 'sqlite', path: join(dir, 'hub.db') }));

let pg: PostgresServer | undefined;
after(() => pg?.stop());
posterSuite('PostgreSQL', async () => {
  pg = await startPostgres();
  return openStore({ kind: 'postgres', connectionString: pg.connectionString });
});
