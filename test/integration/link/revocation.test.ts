/* eslint-disable @typescript-eslint/no-unsafe-member-access -- hub API answers are JSON, checked by the assertions. */
/**
 * Revocation means what it says: a revoked cluster's NATS credentials stop working at once
 * (the account JWT with the revocation is pushed to nats-server), its open enrollment tokens
 * are revoked with it and its name cannot enroll again until an administrator allows it
 * (audited); the agent, told it is revoked, stops connecting and enrolling and says so.
 * Real nats-server, the real hub process, the agent's link as a process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, jwtAuthenticator } from 'nats';
import { api, startHub, waitFor, type HubProcess } from './helpers.ts';
import {
  enrollmentToken,
  startLinkAgent,
  startRestartableNats,
  type LinkAgent,
  type RestartableNats,
} from './link-fixtures.ts';

const HUB_BIN = path.resolve(import.meta.dirname, '../../../hub/bin/driftless-hub.ts');

describe('revocation sticks', { timeout: 300_000 }, () => {
  let nats: RestartableNats;
  let hub: HubProcess;
  let admin: string;
  const dirs: string[] = [];
  const agents: LinkAgent[] = [];
  const workDir = async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'driftless-revoke-agent-'));
    dirs.push(d);
    return d;
  };

  before(async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-revoke-hub-'));
    dirs.push(dataDir);
    const config = execFileSync(process.execPath, [HUB_BIN, 'nats-config', '--data-dir', dataDir], {
      encoding: 'utf8',
    });
    nats = await startRestartableNats(config);
    hub = await startHub({ dataDir, args: ['--nats-url', nats.url] });
    admin = hub.bootstrapToken!;
  });
  after(async () => {
    for (const a of agents) await a.kill();
    await hub?.stop();
    await nats?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a revoked cluster’s NATS credentials stop working at once', async () => {
    const name = 'nats-revoked';
    const dir = await workDir();
    const agent = startLinkAgent({
      hub,
      cluster: name,
      workDir: dir,
      token: await enrollmentToken(hub, admin, name),
      natsUrl: nats.url,
    });
    agents.push(agent);
    await agent.waitState('connected');
    const identity = JSON.parse(await readFile(path.join(dir, 'identity.json'), 'utf8')) as {
      nats: { jwt: string; seed: string };
    };
    const creds = () =>
      connect({
        servers: nats.url,
        authenticator: jwtAuthenticator(
          identity.nats.jwt,
          new TextEncoder().encode(identity.nats.seed),
        ),
        inboxPrefix: `_INBOX.${name.replaceAll('.', '_')}`,
        maxReconnectAttempts: 0,
      });
    await (await creds()).close(); // the credentials work before the revocation
    const revoked = await api(hub, admin, 'POST', `/api/v1/clusters/${name}/revoke`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    await waitFor('the credentials refused by nats-server', async () => {
      try {
        await (await creds()).close();
        return undefined;
      } catch (err) {
        return String((err as Error).message || err);
      }
    })
      .catch((err: unknown) => {
        const lines = hub
          .stderr()
          .split('\n')
          .filter((l) => /NATS account/.test(l));
        throw new Error(`${(err as Error).message}; hub: ${lines.join('\n')}`);
      })
      .then((message) => assert.match(message, /authorization|revoked/i));
    await agent.waitState('refused');
    assert.match(agent.lastError(), /revoked/);
  });

  it('revoking revokes the name’s open tokens; it enrolls again only once an administrator allows it', async () => {
    const name = 'grpc-revoked';
    // A token with uses left: before, the agent re-enrolled with it 54 ms after the revocation.
    const token = await enrollmentToken(hub, admin, name, 5);
    const agent = startLinkAgent({ hub, cluster: name, workDir: await workDir(), token });
    agents.push(agent);
    await agent.waitState('connected');
    const revoked = await api(hub, admin, 'POST', `/api/v1/clusters/${name}/revoke`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.enrollmentBlocked, true);
    await agent.waitState('refused');
    assert.match(agent.lastError(), /revoked/);
    assert.ok(!agent.states.slice(agent.states.indexOf('connected')).includes('enrolling'));
    assert.match(agent.log(), /revoked this cluster: the agent stops connecting and enrolling/);
    const tokens = await api(hub, admin, 'GET', '/api/v1/tokens');
    const mine = (tokens.body.items as { cluster: string; state: string }[]).filter(
      (t) => t.cluster === name,
    );
    assert.deepEqual(
      mine.map((t) => t.state),
      ['revoked'],
    );
    // The same token in a fresh agent: refused, naming the revocation.
    const again = startLinkAgent({ hub, cluster: name, workDir: await workDir(), token });
    agents.push(again);
    await again.waitState('refused');
    assert.match(
      again.lastError(),
      /was revoked; an administrator must allow its enrollment again/,
    );
    // No new token until an administrator allows the name.
    const refusedToken = await api(hub, admin, 'POST', '/api/v1/tokens', {
      cluster: name,
      ttl: '1h',
    });
    assert.equal(refusedToken.status, 409, JSON.stringify(refusedToken.body));
    const allowed = await api(hub, admin, 'POST', `/api/v1/clusters/${name}/allow-enrollment`);
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    assert.equal(allowed.body.enrollmentBlocked, false);
    const audit = await api(hub, admin, 'GET', '/api/v1/audit');
    const actions = (audit.body.items as { action: string; target: string }[])
      .filter((e) => e.target === `cluster/${name}`)
      .map((e) => e.action);
    assert.ok(actions.includes('cluster.revoke') && actions.includes('cluster.allow-enrollment'));
    const fresh = startLinkAgent({
      hub,
      cluster: name,
      workDir: await workDir(),
      token: await enrollmentToken(hub, admin, name),
    });
    agents.push(fresh);
    await fresh.waitState('connected');
  });
});
