import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  classifyDelivery,
  followsPush,
  identifyDelivery,
  parseBody,
  repoKey,
  verifyDelivery,
  WebhookPayloadError,
  WebhookSignatureError,
  type PushEvent,
} from './index.ts';

const SECRET = 'correct-horse-battery-staple';
const SHA = '1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c';
const hmac = (body: string) => createHmac('sha256', SECRET).update(body).digest('hex');

describe('repoKey', () => {
  it('gives one key for every way of writing the same repository', () => {
    for (const url of [
      'https://github.com/Org/Repo',
      'https://github.com/org/repo.git',
      'https://github.com/org/repo/',
      'http://GitHub.com/org/repo.git/',
      'https://ci:s3cret@github.com/org/repo.git',
      'https://github.com:443/org/repo',
      'ssh://git@github.com/org/repo.git',
      'ssh://git@github.com:22/org/repo.git',
      'git@github.com:org/repo.git',
      'git://github.com/org/repo.git',
    ])
      assert.equal(repoKey(url), 'github.com/org/repo', url);
  });

  it('keeps what tells repositories apart: non-default ports, nested groups', () => {
    assert.equal(repoKey('http://127.0.0.1:3000/org/fleet.git'), '127.0.0.1:3000/org/fleet');
    assert.notEqual(
      repoKey('http://127.0.0.1:3000/org/fleet'),
      repoKey('http://127.0.0.1/org/fleet'),
    );
    assert.equal(
      repoKey('https://gitlab.example.com/group/sub/fleet.git'),
      'gitlab.example.com/group/sub/fleet',
    );
    assert.notEqual(
      repoKey('https://github.com/org/fleet'),
      repoKey('https://github.com/org/fleet2'),
    );
  });

  it('has no key for what is not a repository URL', () => {
    for (const url of ['', 'not a url', 'https://github.com/', 'https://github.com'])
      assert.equal(repoKey(url), undefined, url);
  });
});

describe('identifyDelivery and verifyDelivery', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');

  it('accepts a GitHub signature over the exact body and refuses any other', () => {
    const h = {
      'x-github-event': 'push',
      'x-hub-signature-256': `sha256=${hmac(body.toString())}`,
    };
    assert.equal(identifyDelivery(h).provider, 'github');
    verifyDelivery('github', h, body, SECRET);
    assert.throws(
      () => verifyDelivery('github', h, Buffer.from(body.toString() + ' '), SECRET),
      WebhookSignatureError,
    );
    assert.throws(() => verifyDelivery('github', h, body, SECRET + 'x'), WebhookSignatureError);
    assert.throws(
      () => verifyDelivery('github', { 'x-github-event': 'push' }, body, SECRET),
      WebhookSignatureError,
    );
  });

  it('accepts the GitLab token only when it equals the secret', () => {
    const h = { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET };
    assert.equal(identifyDelivery(h).provider, 'gitlab');
    verifyDelivery('gitlab', h, body, SECRET);
    assert.throws(
      () => verifyDelivery('gitlab', { ...h, 'x-gitlab-token': SECRET.slice(1) }, body, SECRET),
      WebhookSignatureError,
    );
  });

  it('takes Gitea and Forgejo for themselves although they also send GitHub headers', () => {
    const h = {
      'x-gitea-event': 'push',
      'x-gitea-signature': hmac(body.toString()),
      'x-github-event': 'push',
      'x-hub-signature-256': `sha256=${hmac(body.toString())}`,
    };
    assert.equal(identifyDelivery(h).provider, 'gitea');
    verifyDelivery('gitea', h, body, SECRET);
    const forgejo = { 'x-forgejo-event': 'push', 'x-forgejo-signature': hmac(body.toString()) };
    assert.equal(identifyDelivery(forgejo).provider, 'gitea');
    verifyDelivery('gitea', forgejo, body, SECRET);
    assert.throws(
      () => verifyDelivery('gitea', { ...h, 'x-gitea-signature': 'ab'.repeat(32) }, body, SECRET),
      WebhookSignatureError,
    );
  });

  it('never puts the secret or the expected signature in a refusal', () => {
    const h = { 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=00' };
    try {
      verifyDelivery('github', h, body, SECRET);
      assert.fail('should throw');
    } catch (err) {
      const text = String((err as Error).message);
      assert.ok(!text.includes(SECRET) && !text.includes(hmac(body.toString())), text);
    }
  });

  it('refuses a request from no known Git server', () => {
    assert.throws(
      () => identifyDelivery({ 'content-type': 'application/json' }),
      WebhookPayloadError,
    );
  });
});

describe('classifyDelivery', () => {
  const github = { provider: 'github' as const, event: 'push', deliveryId: 'd1' };
  const push = (extra: Record<string, unknown> = {}) => ({
    ref: 'refs/heads/main',
    after: SHA,
    repository: {
      html_url: 'https://github.com/org/fleet',
      clone_url: 'https://github.com/org/fleet.git',
      ssh_url: 'git@github.com:org/fleet.git',
      default_branch: 'main',
    },
    ...extra,
  });

  it('reads a GitHub push: repository keys, branch, revision, default branch', () => {
    const k = classifyDelivery(github, push());
    assert.equal(k.kind, 'push');
    const p = (k as { push: PushEvent }).push;
    assert.deepEqual([...p.repoKeys], ['github.com/org/fleet']);
    assert.equal(p.branch, 'main');
    assert.equal(p.revision, SHA);
    assert.equal(p.defaultBranch, 'main');
  });

  it('reads a GitLab push from project URLs', () => {
    const k = classifyDelivery(
      { provider: 'gitlab', event: 'Push Hook', deliveryId: '' },
      {
        object_kind: 'push',
        ref: 'refs/heads/release/1.x',
        after: SHA,
        checkout_sha: SHA,
        project: {
          git_http_url: 'https://gitlab.example.com/platform/fleet.git',
          git_ssh_url: 'git@gitlab.example.com:platform/fleet.git',
          web_url: 'https://gitlab.example.com/platform/fleet',
          default_branch: 'main',
        },
      },
    );
    assert.equal(k.kind, 'push');
    const p = (k as { push: PushEvent }).push;
    assert.deepEqual([...p.repoKeys], ['gitlab.example.com/platform/fleet']);
    assert.equal(p.branch, 'release/1.x');
  });

  it('ignores pings, tag pushes, branch deletions and other events, saying why', () => {
    const reason = (d: Parameters<typeof classifyDelivery>[0], body: Record<string, unknown>) => {
      const k = classifyDelivery(d, body);
      assert.equal(k.kind, 'ignored');
      return (k as { reason: string }).reason;
    };
    assert.match(reason({ ...github, event: 'ping' }, { zen: 'hi' }), /ping/);
    assert.match(reason(github, push({ ref: 'refs/tags/v1.0.0' })), /not a branch/);
    assert.match(reason(github, push({ deleted: true, after: '0'.repeat(40) })), /deleted/);
    assert.match(
      reason({ provider: 'gitlab', event: 'Tag Push Hook', deliveryId: '' }, push()),
      /Tag Push Hook/,
    );
  });

  it('refuses a push that lacks its ref, a SHA or any repository URL', () => {
    assert.throws(() => classifyDelivery(github, push({ ref: undefined })), /"ref" is missing/);
    assert.throws(() => classifyDelivery(github, push({ after: 'HEAD; rm -rf' })), /not a hex/);
    assert.throws(() => classifyDelivery(github, push({ repository: {} })), /no repository URL/);
  });
});

describe('parseBody', () => {
  it('names what is wrong with a body', () => {
    assert.throws(
      () => parseBody(Buffer.from('{"ref":'), 'application/json', 'x'),
      /not valid JSON/,
    );
    assert.throws(() => parseBody(Buffer.from('[1]'), 'application/json', 'x'), /JSON object/);
    assert.throws(() => parseBody(Buffer.from(''), 'application/json', 'x'), /empty/);
  });

  it('takes the JSON from the payload field of a form body', () => {
    const form = `payload=${encodeURIComponent('{"ref":"refs/heads/main"}')}`;
    assert.deepEqual(parseBody(Buffer.from(form), 'application/x-www-form-urlencoded', 'x'), {
      ref: 'refs/heads/main',
    });
  });
});

describe('followsPush', () => {
  const push: PushEvent = {
    repoKeys: new Set(['github.com/org/fleet']),
    repoUrl: 'https://github.com/org/fleet',
    branch: 'main',
    defaultBranch: 'main',
    revision: SHA,
  };

  it('matches the repository however it was written, and the branch exactly', () => {
    assert.ok(followsPush({ repoUrl: 'git@github.com:org/fleet.git', branch: 'main' }, push));
    assert.ok(
      followsPush({ repoUrl: 'https://github.com/org/fleet', branch: 'refs/heads/main' }, push),
    );
    assert.ok(!followsPush({ repoUrl: 'https://github.com/org/fleet', branch: 'dev' }, push));
    assert.ok(!followsPush({ repoUrl: 'https://github.com/org/other', branch: 'main' }, push));
    assert.ok(!followsPush({ repoUrl: '', branch: 'main' }, push));
  });

  it('takes an empty branch for the default branch, when the payload names it', () => {
    assert.ok(followsPush({ repoUrl: 'https://github.com/org/fleet', branch: '' }, push));
    assert.ok(
      !followsPush(
        { repoUrl: 'https://github.com/org/fleet', branch: '' },
        { ...push, defaultBranch: '' },
      ),
    );
    assert.ok(
      !followsPush(
        { repoUrl: 'https://github.com/org/fleet', branch: '' },
        { ...push, branch: 'dev' },
      ),
    );
  });
});
