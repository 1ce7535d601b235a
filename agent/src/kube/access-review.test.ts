import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mayApplyAny, rulesAllowApplyAny, rulesIn, type ResourceRule } from './access-review.ts';
import type { KubeClient } from './client.ts';

const scope = { group: 'apps', resource: 'deployments', namespace: 'n' };

describe('rulesAllowApplyAny', () => {
  it('needs patch and create, from any rules, with wildcards', () => {
    const both: ResourceRule = {
      verbs: ['patch', 'create'],
      apiGroups: ['apps'],
      resources: ['deployments'],
    };
    assert.equal(rulesAllowApplyAny([both], scope), true);
    assert.equal(
      rulesAllowApplyAny([{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], scope),
      true,
    );
    assert.equal(
      rulesAllowApplyAny(
        [
          { verbs: ['patch'], apiGroups: ['apps'], resources: ['deployments'] },
          { verbs: ['create'], apiGroups: ['*'], resources: ['deployments'] },
        ],
        scope,
      ),
      true,
    );
  });

  it('refuses a missing verb, another group or resource, a subresource, named objects only', () => {
    const refuse = (rules: ResourceRule[]) => assert.equal(rulesAllowApplyAny(rules, scope), false);
    refuse([]);
    refuse([{ verbs: ['create', 'get'], apiGroups: ['apps'], resources: ['deployments'] }]);
    refuse([{ verbs: ['*'], apiGroups: [''], resources: ['deployments'] }]);
    refuse([{ verbs: ['*'], apiGroups: ['apps'], resources: ['statefulsets'] }]);
    refuse([{ verbs: ['*'], apiGroups: ['apps'], resources: ['deployments/status'] }]);
    refuse([
      { verbs: ['*'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['d'] },
    ]);
    refuse([{ verbs: ['*'] }]);
  });
});

/** A client whose every request answers with `answer` (or throws it when an Error). */
const answering = (answer: unknown) =>
  ({
    request: () => (answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer)),
  }) as unknown as KubeClient;

describe('rulesIn', () => {
  it('is complete only without incomplete and without an evaluation error', async () => {
    const rules = [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }];
    assert.deepEqual(await rulesIn(answering({ status: { resourceRules: rules } }), 'n'), {
      rules,
      complete: true,
    });
    const partial = await rulesIn(
      answering({ status: { resourceRules: rules, incomplete: true } }),
      'n',
    );
    assert.equal(partial?.complete, false);
    const failed = await rulesIn(
      answering({ status: { resourceRules: rules, evaluationError: 'role r not found' } }),
      'n',
    );
    assert.equal(failed?.complete, false);
  });

  it('is undefined when the review cannot be asked or has no status', async () => {
    assert.equal(await rulesIn(answering(new Error('403')), 'n'), undefined);
    assert.equal(await rulesIn(answering({}), 'n'), undefined);
    assert.equal(await mayApplyAny(answering(new Error('403')), scope), false);
  });
});
