import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeClient } from '../kube/index.ts';
import type { KubeObject } from '../model.ts';
import { scopeKey, writableScopes } from './namespaces.ts';

const objects: KubeObject[] = [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'n' } },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: 'n' } },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'n' } },
];
const configMaps = scopeKey('', 'configmaps', 'n');
const deployments = scopeKey('apps', 'deployments', 'n');

/** A client serving ConfigMaps and Deployments whose reviews answer as given; records each review. */
function client(rules: unknown, accessAllowed: boolean) {
  const asked: string[] = [];
  const fake = {
    resource: (apiVersion: string, kind: string) =>
      Promise.resolve({
        group: apiVersion === 'v1' ? '' : 'apps',
        plural: `${kind.toLowerCase()}s`,
      }),
    request: (_method: string, path: string, options: { body: { spec: unknown } }) => {
      asked.push(`${path.replace(/.*\//, '')} ${JSON.stringify(options.body.spec)}`);
      if (path.endsWith('selfsubjectrulesreviews')) return Promise.resolve(rules);
      return Promise.resolve({ status: { allowed: accessAllowed } });
    },
  };
  return { client: fake as unknown as KubeClient, asked };
}

describe('writableScopes', () => {
  it('asks one rules review per namespace, and trusts a complete answer either way', async () => {
    const rules = {
      status: {
        resourceRules: [{ verbs: ['create', 'patch'], apiGroups: [''], resources: ['configmaps'] }],
      },
    };
    const c = client(rules, true);
    const allowed = await writableScopes(c.client, objects, 4, undefined);
    assert.deepEqual([...allowed], [configMaps]);
    assert.deepEqual(c.asked, ['selfsubjectrulesreviews {"namespace":"n"}']);
  });

  it('falls back to access reviews per kind when the answer is incomplete or erred, never to allowed', async () => {
    for (const status of [
      { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], incomplete: true },
      {
        resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
        evaluationError: 'x',
      },
      undefined,
    ]) {
      const refused = client({ status }, false);
      assert.deepEqual([...(await writableScopes(refused.client, objects, 4, undefined))], []);
      assert.equal(refused.asked.filter((a) => a.startsWith('selfsubjectaccessreviews')).length, 4);
      const granted = client({ status }, true);
      const allowed = await writableScopes(granted.client, objects, 4, undefined);
      assert.deepEqual([...allowed].sort(), [configMaps, deployments].sort());
    }
  });
});
