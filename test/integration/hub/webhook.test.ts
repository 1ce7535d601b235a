/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument --
   API answers are JSON checked field by field by the assertions; typing each would add nothing. */
// The Git webhook receiver against the real `driftless-hub` process: pushes signed the way
// GitHub, GitLab and Gitea sign them reach, as RefreshHints over real gRPC+mTLS streams, the
// agents that follow the pushed repository and branch, and no other agent.
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPostgres } from '@driftless/test';
import { AgentMessage, type AgentMessageBody, type HubMessage } from '@driftless/proto';
import {
  agentClient,
  api,
  enroll,
  makeAgentKey,
  startHubProcess,
  type HubProcess,
} from './helpers.ts';

const SECRET = 'wh-' + randomUUID();
const FLEET = 'https://git.example.com/platform/fleet.git';
const sha = (c: string) => c.repeat(40);

/** A push payload as each provider shapes it, for the fleet repository. */
const payloads = {
  github: (branch: string, after: string) => ({
    ref: `refs/heads/${branch}`,
    before: sha('0'),
    after,
    repository: {
      full_name: 'platform/fleet',
      html_url: 'https://git.example.com/platform/fleet',
      clone_url: 'https://git.example.com/platform/fleet.git',
      ssh_url: 'git@git.example.com:platform/fleet.git',
      default_branch: 'main',
    },
    commits: [{ id: after, message: 'bump podinfo' }],
  }),
  gitlab: (branch: string, after: string) => ({
    object_kind: 'push',
    ref: `refs/heads/${branch}`,
    after,
    checkout_sha: after,
    project: {
      path_with_namespace: 'platform/fleet',
      web_url: 'https://git.example.com/platform/fleet',
      git_http_url: 'https://git.example.com/platform/fleet.git',
      git_ssh_url: 'git@git.example.com:platform/fleet.git',
      default_branch: 'main',
    },
  }),
  gitea: (branch: string, after: string) => ({
    ref: `refs/heads/${branch}`,
    after,
    repository: {
      full_name: 'platform/fleet',
      html_url: 'https://Git.Example.com/platform/fleet',
      clone_url: 'https://git.example.com/platform/fleet.git',
      ssh_url: 'ssh://git@git.example.com:22/platform/fleet.git',
      default_branch: 'main',
    },
  }),
};
type Provider = keyof typeof payloads;

const hmac = (body: string, secret = SECRET) =>
  createHmac('sha256', secret).update(body).digest('hex');

/** The headers each provider sends with a delivery of `event`, signed with `secret`. */
function signedHeaders(
  provider: Provider,
  event: string,
  body: string,
  secret = SECRET,
): Record<string, string> {
  switch (provider) {
    case 'github':
      return {
        'x-github-event': event,
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': `sha256=${hmac(body, secret)}`,
      };
    case 'gitlab':
      return { 'x-gitlab-event': event, 'x-gitlab-token': secret };
    case 'gitea':
      // Gitea also sends GitHub's headers, as the real one does.
      return {
        'x-gitea-event': event,
        'x-gitea-delivery': randomUUID(),
        'x-gitea-signature': hmac(body, secret),
        'x-github-event': event,
        'x-hub-signature-256': `sha256=${hmac(body, secret)}`,
      };
  }
}

/** POSTs a delivery to the receiver, without any API token. */
async function deliver(
  hub: { http: string },
  headers: Record<string, string>,
  body: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by assertions
): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${hub.http}/api/v1/webhooks/git`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

async function push(hub: { http: string }, provider: Provider, branch: string, after: string) {
  const event = provider === 'gitlab' ? 'Push Hook' : 'push';
  const body = JSON.stringify(payloads[provider](branch, after));
  return deliver(hub, signedHeaders(provider, event, body), body);
}

/**
 * An agent's Connect stream that keeps every hub message it receives, so a test can both
 * wait for a hint and check that none came, without a timed-out read swallowing a message.
 */
class AgentInbox {
  readonly #messages: HubMessage[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #call: ReturnType<ReturnType<typeof agentClient>['connect']>;
  readonly #client: ReturnType<typeof agentClient>;

  constructor(hub: { grpc: string; caPem: string }, identity: { keyPem: string; certPem: string }) {
    this.#client = agentClient(hub, identity);
    this.#call = this.#client.connect();
    this.#call.on('data', (m: HubMessage) => {
      this.#messages.push(m);
      for (const w of this.#waiters) w();
    });
    // The stream ends when the hub stops; the test's assertions report what was missing.
    this.#call.on('error', () => undefined);
  }

  send(body: AgentMessageBody): void {
    this.#call.write(AgentMessage.create({ seq: 0n, body, sentAtUnixMs: BigInt(Date.now()) }));
  }

  /** The first message of `kind` not taken yet, waiting up to `ms`; undefined if none came. */
  async take(kind: string, ms: number): Promise<HubMessage | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.#messages.findIndex((m) => m.body?.$case === kind);
      if (i >= 0) return this.#messages.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
  }

  close(): void {
    this.#call.end();
    this.#call.cancel();
    this.#client.close();
  }
}

/** The next RefreshHint on the stream. */
async function nextHint(s: AgentInbox): Promise<{ repoUrl: string; revision: string }> {
  const m = await s.take('refreshHint', 5000);
  assert.ok(m, 'a RefreshHint arrives within 5 s');
  assert.equal(m.seq, 0n, 'a hint is not sequenced');
  assert.equal(m.body?.$case, 'refreshHint');
  return m.body.value;
}

/** Resolves when no RefreshHint arrives within `ms`. */
async function noHint(s: AgentInbox, ms = 400): Promise<void> {
  const m = await s.take('refreshHint', ms);
  assert.equal(m, undefined, `unexpected hint ${JSON.stringify(m?.body)}`);
}

function webhookSuite(
  store: 'sqlite' | 'postgres',
  database: () => Promise<{ url: string | undefined; stop(): Promise<void> }>,
): void {
  describe(`git webhook receiver (${store})`, { timeout: 120_000 }, () => {
    let db: { url: string | undefined; stop(): Promise<void> };
    let hub: HubProcess;
    let admin: string;
    const streams: Record<string, AgentInbox> = {};

    /** Enrolls `cluster` and opens its stream with a Hello naming what it follows. */
    async function agent(cluster: string, repoUrl: string, branch: string): Promise<AgentInbox> {
      const t = await api(hub, admin, 'POST', '/api/v1/tokens', { cluster });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      const key = await makeAgentKey();
      const res = await enroll(hub, {
        token: t.body.token,
        clusterName: cluster,
        csrPem: key.csrPem,
      });
      const s = new AgentInbox(hub, { keyPem: key.keyPem, certPem: res.certificatePem });
      s.send({
        $case: 'hello',
        value: {
          clusterName: cluster,
          agentVersion: '0.1.0-test',
          lastAckedHubSeq: 0n,
          labels: {},
          apps: ['podinfo'],
          repoUrl,
          branch,
        },
      });
      assert.ok(await s.take('ack', 5000), `${cluster}: the hub acks the Hello`);
      return s;
    }

    before(async () => {
      db = await database();
      // The secret comes from a file, as from a mounted Kubernetes Secret (trailing newline).
      const dir = mkdtempSync(join(tmpdir(), 'driftless-webhook-it-'));
      const secretFile = join(dir, 'webhook-secret');
      writeFileSync(secretFile, SECRET + '\n', { mode: 0o600 });
      hub = await startHubProcess({
        store,
        databaseUrl: db.url,
        args: ['--webhook-secret-file', secretFile],
      });
      admin = hub.bootstrapToken!;
      streams['main'] = await agent('wh-main', FLEET, 'main');
      // Same repository written another way: the hub must still match it.
      streams['ssh'] = await agent('wh-ssh', 'git@GIT.example.com:platform/fleet', 'main');
      streams['dev'] = await agent('wh-dev', FLEET, 'dev');
      streams['other'] = await agent(
        'wh-other',
        'https://git.example.com/platform/other.git',
        'main',
      );
    });
    after(async () => {
      for (const s of Object.values(streams)) s.close();
      await hub?.stop();
      await db?.stop();
    });

    it('keeps the repository and branch from Hello in the cluster view', async () => {
      const c = await api(hub, admin, 'GET', '/api/v1/clusters/wh-dev');
      assert.equal(c.status, 200);
      assert.equal(c.body.repoUrl, FLEET);
      assert.equal(c.body.branch, 'dev');
    });

    for (const [provider, c] of [
      ['github', '1'],
      ['gitlab', '2'],
      ['gitea', '3'],
    ] as const) {
      it(`a ${provider} push to main hints the agents following fleet@main, and no other`, async () => {
        const res = await push(hub, provider, 'main', sha(c));
        assert.equal(res.status, 202, res.text);
        assert.deepEqual(res.body, { matched: 2 });
        // Each agent gets the URL exactly as it sent it, and the pushed commit.
        assert.deepEqual(await nextHint(streams['main']!), { repoUrl: FLEET, revision: sha(c) });
        assert.deepEqual(await nextHint(streams['ssh']!), {
          repoUrl: 'git@GIT.example.com:platform/fleet',
          revision: sha(c),
        });
        await Promise.all([noHint(streams['dev']!), noHint(streams['other']!)]);
      });
    }

    it('a push to another branch hints only the agent following that branch', async () => {
      const res = await push(hub, 'github', 'dev', sha('4'));
      assert.equal(res.status, 202, res.text);
      assert.deepEqual(res.body, { matched: 1 });
      assert.deepEqual(await nextHint(streams['dev']!), { repoUrl: FLEET, revision: sha('4') });
      await Promise.all([noHint(streams['main']!), noHint(streams['other']!)]);
    });

    it('a wrong signature or token gets 401 without detail, and no hint', async () => {
      for (const provider of ['github', 'gitlab', 'gitea'] as const) {
        const event = provider === 'gitlab' ? 'Push Hook' : 'push';
        const body = JSON.stringify(payloads[provider]('main', sha('5')));
        const res = await deliver(
          hub,
          signedHeaders(provider, event, body, 'not-the-secret-1234'),
          body,
        );
        assert.equal(res.status, 401, `${provider}: ${res.text}`);
        assert.ok(!res.text.includes(SECRET), 'the answer holds no secret');
        assert.ok(!res.text.includes(hmac(body)), 'the answer holds no expected signature');
        // A valid signature over another body does not carry over.
        const signed = signedHeaders(provider, event, body);
        const tampered = body.replace(sha('5'), sha('6'));
        if (provider !== 'gitlab')
          assert.equal((await deliver(hub, signed, tampered)).status, 401, `${provider} tampered`);
      }
      const unsigned = JSON.stringify(payloads.github('main', sha('5')));
      assert.equal((await deliver(hub, { 'x-github-event': 'push' }, unsigned)).status, 401);
      await Promise.all(Object.values(streams).map((s) => noHint(s)));
    });

    it('a ping or a tag push is answered with a note and hints nobody', async () => {
      const ping = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
      const p = await deliver(hub, signedHeaders('github', 'ping', ping), ping);
      assert.equal(p.status, 200, p.text);
      assert.equal(p.body.matched, 0);
      assert.match(p.body.ignored, /ping/);
      const tag = JSON.stringify({ ...payloads.gitea('main', sha('7')), ref: 'refs/tags/v1.2.0' });
      const t = await deliver(hub, signedHeaders('gitea', 'push', tag), tag);
      assert.equal(t.status, 200, t.text);
      assert.match(t.body.ignored, /not a branch/);
      const gl = JSON.stringify(payloads.gitlab('main', sha('7')));
      const g = await deliver(hub, signedHeaders('gitlab', 'Tag Push Hook', gl), gl);
      assert.equal(g.status, 200, g.text);
      await Promise.all(Object.values(streams).map((s) => noHint(s)));
    });

    it('a malformed body gets 400 naming the problem; an oversized one 413', async () => {
      const bad = '{"ref": "refs/heads/main", ';
      const res = await deliver(hub, signedHeaders('github', 'push', bad), bad);
      assert.equal(res.status, 400, res.text);
      assert.match(res.body.error.message, /not valid JSON/);
      const noRepo = JSON.stringify({ ref: 'refs/heads/main', after: sha('8') });
      const r2 = await deliver(hub, signedHeaders('gitea', 'push', noRepo), noRepo);
      assert.equal(r2.status, 400, r2.text);
      assert.match(r2.body.error.message, /no repository URL/);
      const r3 = await deliver(hub, { 'x-unknown': '1' }, '{}');
      assert.equal(r3.status, 400, r3.text);
      assert.match(r3.body.error.message, /X-GitHub-Event/);
      const huge = JSON.stringify({
        ...payloads.github('main', sha('9')),
        pad: 'x'.repeat(5 << 20),
      });
      const r4 = await deliver(hub, signedHeaders('github', 'push', huge), huge);
      assert.equal(r4.status, 413, r4.text.slice(0, 200));
      await Promise.all(Object.values(streams).map((s) => noHint(s)));
    });

    it('pushes are audited as system events and counted by provider and result', async () => {
      const audit = await api(hub, admin, 'GET', '/api/v1/audit?limit=50');
      const pushes = (
        audit.body.items as {
          actor: string;
          action: string;
          details: { revision: string; hinted: string[] };
        }[]
      ).filter((e) => e.action === 'webhook.push');
      const github = pushes.find((e) => e.details.revision === sha('1'));
      assert.equal(github?.actor, 'git webhook (github)');
      assert.deepEqual(github?.details.hinted, ['wh-main', 'wh-ssh']);
      assert.ok(pushes.some((e) => e.actor === 'git webhook (gitlab)'));
      assert.ok(pushes.some((e) => e.actor === 'git webhook (gitea)'));

      const metrics = (await api(hub, undefined, 'GET', '/metrics')).body as string;
      const count = (provider: string, result: string) =>
        Number(
          new RegExp(
            `driftless_hub_webhook_deliveries_total\\{provider="${provider}",result="${result}"\\} (\\d+)`,
          ).exec(metrics)?.[1] ?? 0,
        );
      assert.equal(count('github', 'accepted'), 2);
      assert.equal(count('gitlab', 'accepted'), 1);
      assert.equal(count('gitea', 'accepted'), 1);
      assert.ok(count('github', 'unauthorized') >= 2);
      assert.equal(count('github', 'ignored'), 1);
      assert.equal(count('github', 'malformed'), 1);
      assert.equal(count('github', 'too-large'), 1);
      assert.ok(!hub.stderr().includes(SECRET), 'the logs hold no secret');
    });
  });
}

webhookSuite('sqlite', async () => ({ url: undefined, stop: async () => undefined }));
webhookSuite('postgres', async () => {
  const pg = await startPostgres();
  return { url: pg.connectionString, stop: () => pg.stop() };
});

describe('git webhook receiver without a secret', () => {
  it('is off: deliveries get 404 saying how to turn it on', async () => {
    const hub = await startHubProcess({});
    try {
      const body = JSON.stringify(payloads.github('main', sha('1')));
      const res = await deliver(hub, signedHeaders('github', 'push', body), body);
      assert.equal(res.status, 404, res.text);
      assert.match(res.body.error.message, /--webhook-secret/);
    } finally {
      await hub.stop();
    }
  });
});
