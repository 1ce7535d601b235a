import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Marks, type KubeObject } from '../model.ts';
import type { KubeClient } from './client.ts';
import { serviceAccountUser, TenantClients } from './impersonate.ts';

/** A client that records which identity each call was made as. */
function fakeClient(user = 'agent', calls: string[] = []): KubeClient {
  const record = (what: string) => {
    calls.push(`${user}:${what}`);
    return Promise.resolve(undefined);
  };
  return {
    impersonating: (u: string) => fakeClient(u, calls),
    apply: (o: KubeObject) => record(`apply ${o.metadata.name}`),
    get: () => record('get'),
    list: () => record('list'),
    watch: () => record('watch'),
    calls,
  } as unknown as KubeClient;
}

const obj = (name: string, app?: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(app ? { labels: { [Marks.app]: app } } : {}) },
});

describe('TenantClients', () => {
  it('acts as the app’s ServiceAccount, in its namespace or the state namespace', () => {
    const base = fakeClient();
    const tenants = new TenantClients(base, 'driftless-system');
    assert.equal(tenants.for({ name: 'web', namespace: 'web', serviceAccountName: '' }), base);
    const a = tenants.for({ name: 'a', namespace: 'team-a', serviceAccountName: 'deployer' });
    assert.notEqual(a, base);
    assert.equal(
      tenants.for({ name: 'a2', namespace: 'team-a', serviceAccountName: 'deployer' }),
      a,
    );
    assert.equal(serviceAccountUser('team-a', 'deployer'), 'system:serviceaccount:team-a:deployer');
  });

  it('lets the drift watcher read as the agent and write as each object’s app', async () => {
    const base = fakeClient();
    const calls = (base as unknown as { calls: string[] }).calls;
    const tenants = new TenantClients(base, 'driftless-system');
    tenants.for({ name: 'infra', namespace: '', serviceAccountName: 'platform' });
    tenants.for({ name: 'plain', namespace: 'p', serviceAccountName: '' });
    const watcher = tenants.watcherClient();
    await watcher.apply(obj('x', 'infra'), { fieldManager: 'driftless' });
    await watcher.apply(obj('y', 'plain'), { fieldManager: 'driftless' });
    await watcher.apply(obj('z'), { fieldManager: 'driftless' });
    await watcher.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'p', name: 'y' });
    assert.deepEqual(calls, [
      'system:serviceaccount:driftless-system:platform:apply x',
      'agent:apply y',
      'agent:apply z',
      'agent:get',
    ]);
    // A removed app's last identity is handed back for its prune, then forgotten.
    assert.notEqual(tenants.forget('infra'), base);
    assert.equal(tenants.forget('infra'), base);
  });
});
