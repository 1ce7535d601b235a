/**
 * The Git host receivers refuse what the hosts refuse, so a test passing against them means the
 * request had the documented shape: a wrong token, an unknown repository or route, a state the
 * host does not know, a description over its limit, an unknown field or a non-JSON body.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGitHostReceiver, type GitHostReceiver } from './git-hosts.ts';

const SHA = 'c'.repeat(40);
const TOKEN = 't0ken';

async function post(
  url: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('Git host receivers', () => {
  let github: GitHostReceiver;
  let gitlab: GitHostReceiver;
  let gitea: GitHostReceiver;

  before(async () => {
    const start = (kind: 'github' | 'gitlab' | 'gitea') =>
      startGitHostReceiver({ kind, token: TOKEN, repos: ['acme/fleet', 'grp/sub/fleet'] });
    [github, gitlab, gitea] = await Promise.all([start('github'), start('gitlab'), start('gitea')]);
  });
  after(async () => {
    await Promise.all([github, gitlab, gitea].map((r) => r?.stop()));
  });

  it('accepts GitHub’s documented request and answers 201 with the status', async () => {
    const url = `${github.apiUrl}/repos/acme/fleet/statuses/${SHA}`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const ok = await post(url, auth, { state: 'success', context: 'ci', description: 'ok' });
    assert.equal(ok.status, 201);
    assert.equal(ok.json['state'], 'success');
    assert.equal(ok.json['context'], 'ci');
    assert.equal(
      (await post(url, { authorization: 'Bearer nope' }, { state: 'success', context: 'c' }))
        .status,
      401,
    );
    assert.equal((await post(url, auth, { state: 'running', context: 'c' })).status, 422);
    assert.equal(
      (await post(url, auth, { state: 'pending', context: 'c', description: 'x'.repeat(141) }))
        .status,
      422,
    );
    assert.equal(
      (await post(url, auth, { state: 'pending', context: 'c', extra: '1' })).status,
      422,
    );
    assert.equal((await post(url, auth, '{not json')).status, 400);
    assert.equal(
      (
        await post(`${github.apiUrl}/repos/acme/other/statuses/${SHA}`, auth, {
          state: 'pending',
          context: 'c',
        })
      ).status,
      404,
    );
    assert.equal(github.statuses.length, 1, 'only the valid request was taken');
  });

  it('wants GitLab’s project path URL-encoded, PRIVATE-TOKEN, and its own state names', async () => {
    const auth = { 'private-token': TOKEN };
    const url = `${gitlab.apiUrl}/projects/grp%2Fsub%2Ffleet/statuses/${SHA}`;
    const ok = await post(url, auth, { state: 'running', name: 'driftless/x' });
    assert.equal(ok.status, 201);
    assert.equal(ok.json['status'], 'running');
    assert.equal(ok.json['name'], 'driftless/x');
    assert.equal((await post(url, auth, { state: 'failure', name: 'n' })).status, 400);
    assert.equal(
      (await post(url, { authorization: `Bearer ${TOKEN}` }, { state: 'success', name: 'n' }))
        .status,
      401,
    );
    assert.equal(
      (
        await post(`${gitlab.apiUrl}/projects/grp/sub/fleet/statuses/${SHA}`, auth, {
          state: 'success',
          name: 'n',
        })
      ).status,
      404,
      'a raw slash is not a project id',
    );
  });

  it('wants Gitea’s token header and state names, and can be told to fail', async () => {
    const url = `${gitea.apiUrl}/repos/acme/fleet/statuses/${SHA}`;
    const auth = { authorization: `token ${TOKEN}` };
    assert.equal((await post(url, auth, { state: 'warning', context: 'c' })).status, 201);
    assert.equal((await post(url, auth, { state: 'canceled', context: 'c' })).status, 422);
    assert.equal(
      (await post(url, { authorization: 'token nope' }, { state: 'success', context: 'c' })).status,
      401,
    );
    gitea.failNext(1, 503);
    assert.equal((await post(url, auth, { state: 'success', context: 'c' })).status, 503);
    assert.equal((await post(url, auth, { state: 'success', context: 'c' })).status, 201);
    assert.deepEqual(
      gitea.statuses.map((s) => s.state),
      ['warning', 'success'],
    );
  });
});
