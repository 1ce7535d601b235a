import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateRollout } from './rollout.ts';
import type { Row } from './table.ts';

const R1 = 'a'.repeat(40);
const R2 = 'b'.repeat(40);

describe('driftless wait and an app the agent carried forward', () => {
  const cluster: Row = {
    name: 'c',
    connected: true,
    revoked: false,
    config: { state: 'valid', revision: R2 },
  };
  const app = (name: string, extra: Row): Row => ({
    cluster: 'c',
    app: name,
    syncStatus: 'synced',
    syncMode: 'auto',
    health: 'healthy',
    message: '',
    healthMessage: '',
    gone: false,
    ...extra,
  });
  // The record an agent sends when it carries an app: succeeded at the revision, nothing
  // applied, the one step `carry`.
  const carried = (revision: string): Row => ({
    revision,
    result: 'succeeded',
    objects: [],
    steps: [{ name: 'carry', durationMs: 0 }],
  });

  it('counts an app carried to the revision as there, and still after it moved on', async () => {
    const judge = (revision: string, apps: Row[], history: Row[]) =>
      evaluateRollout({
        revision,
        app: '',
        clusters: [cluster],
        apps,
        history: async () => history,
      });
    const at = await judge(
      R1,
      [app('b', { revision: R1, message: 'sources unchanged since ccccccc: not planned again' })],
      [carried(R1)],
    );
    assert.equal(at[0]?.state, 'done');
    const later = await judge(R1, [app('b', { revision: R2 })], [carried(R1)]);
    assert.equal(later[0]?.state, 'done', 'the carry record says b reached R1');
    const never = await judge(R1, [app('b', { revision: R2 })], []);
    assert.notEqual(
      never[0]?.state,
      'done',
      'without the record b is not known to have reached R1',
    );
  });
});
