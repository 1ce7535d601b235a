import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { classify, errorMessage } from '@driftless/common';
import { answerOf, OutboundGuard } from '../outbound/index.ts';
import { evaluateScope, TRANSITIONS, type ScopeInput } from './evaluate.ts';
import {
  buildStatusRequest,
  clip,
  HOST_LIMITS,
  postStatus,
  StatusPostError,
  type StatusPost,
} from './hosts.ts';
import { matchHost, parseRepoUrl } from './remote.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

type App = ScopeInput['apps'][number];
const app = (o: Partial<App> & Pick<App, 'app' | 'revision'>): App => ({
  cluster: 'prod-eu',
  syncStatus: 'synced',
  syncMode: 'auto',
  health: 'healthy',
  healthMessage: '',
  message: '',
  updatedMs: 1,
  gone: false,
  ...o,
});
const scope = (apps: App[], o: Partial<ScopeInput> = {}): ScopeInput => ({
  clusters: ['prod-eu'],
  apps,
  configs: [],
  pending: [],
  ...o,
});
const bySha = (input: ScopeInput) =>
  Object.fromEntries(evaluateScope(input).map((d) => [d.sha, d]));

describe('commit status state machine', () => {
  it('is pending while agents sync a commit, and success once every app is synced and healthy', () => {
    const syncing = bySha(
      scope([
        app({
          app: 'web',
          revision: A,
          syncStatus: 'syncing',
          health: 'progressing',
          updatedMs: 2,
        }),
        app({ app: 'db', revision: A, updatedMs: 2 }),
      ]),
    );
    assert.equal(syncing[A]?.state, 'pending');
    assert.equal(syncing[A]?.description, `syncing ${A.slice(0, 7)}`);
    assert.deepEqual(syncing[A]?.from, TRANSITIONS.pending);

    const done = bySha(scope([app({ app: 'web', revision: A }), app({ app: 'db', revision: A })]));
    assert.equal(done[A]?.state, 'success');
    assert.equal(done[A]?.description, '2 app(s) synced and healthy');
  });

  it('is success for a commit that re-applied one app and carried the other, unchanged and in sync', () => {
    const decided = bySha(
      scope([
        app({ app: 'web', revision: B, updatedMs: 3 }),
        app({
          app: 'db',
          revision: B,
          updatedMs: 3,
          message: `sources unchanged since ${A.slice(0, 7)}: not planned again at ${B.slice(0, 7)}`,
        }),
      ]),
    );
    assert.equal(decided[B]?.state, 'success');
    const carriedNotYet = bySha(
      scope([
        app({ app: 'web', revision: B, updatedMs: 3 }),
        app({ app: 'db', revision: A, updatedMs: 1 }),
      ]),
    );
    assert.notEqual(carriedNotYet[B]?.state, 'success', 'not before db says it is at the commit');
  });

  it('is not success while an app is still at the older commit, nor while health is progressing', () => {
    const partial = bySha(
      scope([
        app({ app: 'web', revision: B, updatedMs: 5 }),
        app({ app: 'db', revision: A, updatedMs: 1 }),
      ]),
    );
    assert.equal(partial[B]?.state, 'pending');
    // The older commit keeps what it has: no new status is started for it.
    assert.equal(partial[A]?.from.includes('none'), false);
    const progressing = bySha(scope([app({ app: 'web', revision: B, health: 'progressing' })]));
    assert.equal(progressing[B]?.state, 'pending');
  });

  it('is failure with the message of the app that failed, or degraded, or of an invalid driftless.yaml', () => {
    const failed = bySha(
      scope([
        app({
          app: 'web',
          revision: A,
          syncStatus: 'failed',
          message: 'apply Deployment web/web: admission webhook denied\nmore',
        }),
        app({ app: 'db', revision: A }),
      ]),
    );
    assert.equal(failed[A]?.state, 'failure');
    assert.equal(
      failed[A]?.description,
      'web failed: apply Deployment web/web: admission webhook denied',
    );
    assert.deepEqual(failed[A]?.from, ['none', 'pending'], 'the first failure message stands');

    const degraded = bySha(
      scope([app({ app: 'web', revision: A, health: 'degraded', healthMessage: '0/3 ready' })]),
    );
    assert.equal(degraded[A]?.description, 'web degraded: 0/3 ready');

    const config = bySha(
      scope([app({ app: 'web', revision: A, updatedMs: 1 })], {
        configs: [
          { cluster: 'prod-eu', revision: B, valid: false, error: 'x.yaml:3:1: bad', updatedMs: 9 },
        ],
      }),
    );
    assert.equal(config[B]?.state, 'failure');
    assert.equal(config[B]?.description, 'driftless.yaml invalid: x.yaml:3:1: bad');
  });

  it('supersedes a pending commit that no app and no config is at any more, naming the newer one', () => {
    const d = bySha(scope([app({ app: 'web', revision: B, updatedMs: 3 })], { pending: [A] }));
    assert.equal(d[A]?.state, 'superseded');
    assert.equal(d[A]?.supersededBy, B);
    assert.equal(d[A]?.description, `superseded by ${B.slice(0, 7)} before it was synced`);
    assert.deepEqual(d[A]?.from, ['pending'], 'only a pending commit is superseded');
    const shared = bySha(
      scope([app({ cluster: 'eu', app: 'web', revision: B, updatedMs: 3 })], {
        clusters: ['eu', 'us'],
        pending: [A],
      }),
    );
    assert.equal(
      shared[A]?.description,
      `superseded by ${B.slice(0, 7)} before it reached every cluster`,
    );
  });

  it('names cluster/app in a scope of several clusters, and leaves out dry-run and gone apps', () => {
    const d = bySha(
      scope(
        [
          app({ cluster: 'eu', app: 'web', revision: A }),
          app({ cluster: 'us', app: 'web', revision: A, syncStatus: 'failed', message: 'boom' }),
          app({ cluster: 'us', app: 'preview', revision: B, syncMode: 'dry-run', updatedMs: 9 }),
          app({ cluster: 'us', app: 'old', revision: B, gone: true, updatedMs: 9 }),
        ],
        { clusters: ['eu', 'us'] },
      ),
    );
    assert.deepEqual(Object.keys(d), [A]);
    assert.equal(d[A]?.description, 'us/web failed: boom');
  });

  it('is not success in a label scope while one of its clusters has reported nothing at the commit', () => {
    const d = bySha(
      scope([app({ cluster: 'eu', app: 'web', revision: A })], { clusters: ['eu', 'us'] }),
    );
    assert.equal(d[A]?.state, 'pending');
  });

  it('says which apps wait for approval', () => {
    const d = bySha(scope([app({ app: 'web', revision: A, syncStatus: 'out-of-sync' })]));
    assert.equal(d[A]?.state, 'pending');
    assert.equal(d[A]?.description, 'waiting for approval: web');
  });

  it('keeps success and superseded final, and lets failure turn into success but not back to pending', () => {
    assert.equal(TRANSITIONS.pending.includes('success'), false);
    assert.equal(TRANSITIONS.pending.includes('failure'), false);
    assert.equal(TRANSITIONS.failure.includes('success'), false);
    assert.equal(TRANSITIONS.success.includes('failure'), true);
    for (const from of Object.values(TRANSITIONS)) {
      assert.equal(from.includes('superseded'), false);
      assert.equal(from.includes('success'), false);
    }
  });
});

describe('repository URLs', () => {
  it('parses https, ssh and scp-like remotes into host and project path', () => {
    assert.deepEqual(parseRepoUrl('https://github.com/acme/fleet.git'), {
      hostname: 'github.com',
      port: '',
      path: 'acme/fleet',
    });
    assert.deepEqual(parseRepoUrl('git@gitlab.example.com:group/sub/fleet.git'), {
      hostname: 'gitlab.example.com',
      port: '',
      path: 'group/sub/fleet',
    });
    assert.deepEqual(parseRepoUrl('ssh://git@gitea.local:2222/acme/fleet'), {
      hostname: 'gitea.local',
      port: '',
      path: 'acme/fleet',
    });
    assert.equal(parseRepoUrl('https://github.com/fleet.git'), undefined, 'no owner');
    assert.equal(parseRepoUrl('file:///srv/acme/fleet'), undefined);
  });

  it('matches the configured host with the longest match, port and path prefix included', () => {
    const hosts = [
      { name: 'gh', match: 'github.com' },
      { name: 'gl', match: 'git.example.com/gitlab' },
      { name: 'local', match: '127.0.0.1:8080' },
    ];
    assert.deepEqual(matchHost('git@github.com:acme/fleet.git', hosts), {
      host: hosts[0],
      repoPath: 'acme/fleet',
    });
    assert.deepEqual(matchHost('https://git.example.com/gitlab/ops/fleet.git', hosts), {
      host: hosts[1],
      repoPath: 'ops/fleet',
    });
    assert.equal(matchHost('http://127.0.0.1:9090/acme/fleet.git', hosts), undefined);
    assert.equal(matchHost('http://127.0.0.1:8080/acme/fleet.git', hosts)?.host.name, 'local');
  });
});

describe('host requests', () => {
  const post: StatusPost = {
    kind: 'github',
    apiUrl: 'https://api.github.com/',
    token: 'ghp_secret',
    repoPath: 'acme/fleet',
    sha: A,
    state: 'superseded',
    description: 'x'.repeat(300),
    context: 'driftless/prod-eu',
    targetUrl: 'https://hub.example.com/#/clusters/prod-eu',
  };

  it('builds GitHub, GitLab and Gitea requests as each documents them, within their limits', () => {
    const gh = buildStatusRequest(post);
    assert.equal(gh.url, `https://api.github.com/repos/acme/fleet/statuses/${A}`);
    assert.equal(gh.headers['Authorization'], 'Bearer ghp_secret');
    assert.equal(gh.body['state'], 'error');
    assert.equal(gh.body['description']?.length, HOST_LIMITS.github.description);
    assert.equal(gh.body['context'], 'driftless/prod-eu');

    const gl = buildStatusRequest({
      ...post,
      kind: 'gitlab',
      apiUrl: 'https://gitlab.example.com/api/v4',
      repoPath: 'group/sub/fleet',
      state: 'pending',
    });
    assert.equal(
      gl.url,
      `https://gitlab.example.com/api/v4/projects/group%2Fsub%2Ffleet/statuses/${A}`,
    );
    assert.equal(gl.headers['PRIVATE-TOKEN'], 'ghp_secret');
    assert.equal(gl.body['state'], 'running');
    assert.equal(gl.body['name'], 'driftless/prod-eu');
    assert.equal(gl.body['description']?.length, 255);

    const gt = buildStatusRequest({ ...post, kind: 'gitea', apiUrl: 'https://g.local/api/v1' });
    assert.equal(gt.url, `https://g.local/api/v1/repos/acme/fleet/statuses/${A}`);
    assert.equal(gt.headers['Authorization'], 'token ghp_secret');
    assert.equal(gt.body['state'], 'warning');
  });

  it('refuses a project path GitHub cannot name, and clips text on one line', () => {
    assert.throws(() => buildStatusRequest({ ...post, repoPath: 'a/b/c' }), /owner\/repo/);
    assert.equal(clip('a\n b   c', 10), 'a b c');
    assert.equal(clip('abcdef', 4), 'abc…');
  });
});

describe('postStatus', () => {
  it('names only the failure code of a host it cannot reach; the detail is for admins', async () => {
    const guard = new OutboundGuard({ allow: ['127.0.0.0/8'] });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      await assert.rejects(
        postStatus(
          {
            kind: 'gitea',
            apiUrl: `http://127.0.0.1:${port}/api/v1`,
            token: 'tok-123',
            repoPath: 'team/app',
            sha: 'abcdef0123456789',
            state: 'success',
            description: 'synced',
            context: 'driftless/prod',
            targetUrl: '',
          },
          guard,
        ),
        (err: Error) => {
          assert.ok(err instanceof StatusPostError, String(err));
          assert.match(errorMessage(err), /: cannot reach the host \(ECONNREFUSED\)$/);
          // The host as configured names it; what connecting to it said is for admins.
          assert.doesNotMatch(errorMessage(err), /connect ECONNREFUSED/);
          assert.match(answerOf(err), new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
          assert.equal(classify(err), 'transient');
          return true;
        },
      );
    } finally {
      await guard.close();
    }
  });
});
