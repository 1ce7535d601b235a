/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return --
   API answers are JSON checked field by field by the assertions. */
// Durations in API bodies and queries: a number without a unit is refused with 400 naming the
// field (it would otherwise mean milliseconds), and nothing is stored or audited.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, enroll, makeAgentKey, startHubProcess, type HubProcess } from './helpers.ts';

describe('durations without a unit on the hub API', { timeout: 60_000 }, () => {
  let hub: HubProcess;
  let admin: string;
  const auditCount = async () => (await api(hub, admin, 'GET', '/api/v1/audit')).body.items.length;

  before(async () => {
    hub = await startHubProcess({});
    admin = hub.bootstrapToken!;
    const token = (await api(hub, admin, 'POST', '/api/v1/tokens', { cluster: 'edge-1' })).body
      .token;
    const key = await makeAgentKey();
    await enroll(hub, { token, clusterName: 'edge-1', csrPem: key.csrPem });
  });
  after(async () => {
    await hub?.stop();
  });

  it('refuses a suspend for "5" with 400 and stores no pause', async () => {
    const before = await auditCount();
    const res = await api(hub, admin, 'POST', '/api/v1/clusters/edge-1/suspend', {
      for: '5',
      reason: 'maintenance',
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(
      res.body.error.message,
      'suspend cluster edge-1: for "5" has no unit: write e.g. 5s, 5m or 5h',
    );
    assert.deepEqual((await api(hub, admin, 'GET', '/api/v1/suspensions')).body.items, []);
    assert.equal(await auditCount(), before, 'a refused pause is not audited');

    const ok = await api(hub, admin, 'POST', '/api/v1/clusters/edge-1/suspend', {
      for: '5m',
      reason: 'maintenance',
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  it('refuses an enrollment token with ttl "5" with 400 and stores no token', async () => {
    const tokens = async () => (await api(hub, admin, 'GET', '/api/v1/tokens')).body.items.length;
    const [beforeTokens, beforeAudit] = [await tokens(), await auditCount()];
    const res = await api(hub, admin, 'POST', '/api/v1/tokens', { cluster: 'edge-2', ttl: '5' });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(
      res.body.error.message,
      'create enrollment token: ttl "5" has no unit: write e.g. 5s, 5m or 5h',
    );
    assert.equal(await tokens(), beforeTokens, 'no token is stored');
    assert.equal(await auditCount(), beforeAudit, 'a refused token is not audited');

    const ok = await api(hub, admin, 'POST', '/api/v1/tokens', { cluster: 'edge-2', ttl: '5m' });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  it('refuses a tree deadline=5 with 400 naming the query field', async () => {
    const res = await api(hub, admin, 'GET', '/api/v1/clusters/edge-1/apps/web/tree?deadline=5');
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.message, 'deadline "5" has no unit: write e.g. 5s, 5m or 5h');
  });
});
