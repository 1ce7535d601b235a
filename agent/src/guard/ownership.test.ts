import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appSpec } from '../config/index.ts';
import type { AppSpec, ObjectRef, RenderedObject } from '../model.ts';
import { guard, GuardError, Ownership, type ObjectReader, type ScopeResolver } from './index.ts';

const discovery: ScopeResolver & ObjectReader = {
  get: async () => undefined,
  scopeOf: async (_v, kind) => (kind === 'Namespace' ? 'Cluster' : 'Namespaced'),
};
const app = (name: string) => appSpec({ name, path: `apps/${name}`, namespace: 'c08' });
const APPS = [app('base'), app('team-a'), app('team-b')];
const shared: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'c08', name: 'shared' };
const own = (n: string): ObjectRef => ({ ...shared, name: n });
const rendered = (...names: string[]): RenderedObject[] =>
  names.map((name) => ({
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } },
    source: `${name}.yaml`,
  }));

/** An Ownership over fixed inventories and renders; `renders` counts render calls. */
async function pass(
  held: Record<string, ObjectRef[]>,
  declares: Record<string, string[] | Error>,
  ownership = new Ownership({
    inventory: { load: async (a) => (held[a] ? { objects: held[a] } : undefined) },
    scopes: discovery,
  }),
) {
  let renders = 0;
  await ownership.begin(APPS, 'rev1', async (a: AppSpec) => {
    renders++;
    const d = declares[a.name] ?? [];
    if (d instanceof Error) throw d;
    return rendered(...d);
  });
  return { ownership, renders };
}

describe('ownership', () => {
  it('gives a fresh object to the app listed first, whichever asks first', async () => {
    const { ownership } = await pass({}, { 'team-a': ['shared', 'a'], 'team-b': ['shared', 'b'] });
    assert.deepEqual(ownership.ownerOf('team-b', shared), { owner: 'team-a', reason: 'order' });
    assert.equal(ownership.ownerOf('team-a', shared), undefined);
    assert.equal(ownership.ownerOf('team-b', own('b')), undefined);
  });

  it('keeps an object with the app whose inventory holds it, though listed later', async () => {
    const { ownership } = await pass(
      { 'team-b': [shared] },
      { 'team-a': ['shared'], 'team-b': ['shared'] },
    );
    assert.deepEqual(ownership.ownerOf('team-a', shared), { owner: 'team-b', reason: 'inventory' });
    assert.equal(ownership.ownerOf('team-b', shared), undefined);
  });

  it('the guard refuses the non-owner with a message naming the object and both apps', async () => {
    const { ownership } = await pass({}, { 'team-a': ['shared'], 'team-b': ['shared'] });
    const err = await guard(rendered('shared'), app('team-b'), discovery, { ownership }).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof GuardError);
    assert.equal(
      err.message,
      'guard refused app team-b (1 problem): ConfigMap c08/shared in shared.yaml: also declared by app team-a, which owns it (it is listed before team-b in driftless.yaml); an object belongs to one app: remove it from team-b or from team-a',
    );
    await guard(rendered('shared'), app('team-a'), discovery, { ownership });
  });

  it('never prunes what another app declares, and hands it over when the holder drops it', async () => {
    // steps/2 of case 08: team-a held the object and dropped it; team-b declares it.
    const { ownership } = await pass(
      { 'team-a': [shared, own('a')] },
      { 'team-a': ['a'], 'team-b': ['shared'] },
    );
    assert.deepEqual(ownership.prunable('team-a', [shared, own('gone')]), [own('gone')]);
    assert.equal(ownership.ownerOf('team-b', shared), undefined, 'team-b takes it over');
  });

  it('keeps what an app holds when its render failed (declaration unknown)', async () => {
    const { ownership } = await pass(
      { 'team-a': [shared] },
      { 'team-a': new Error('render failed'), 'team-b': ['shared'] },
    );
    assert.deepEqual(ownership.ownerOf('team-b', shared), { owner: 'team-a', reason: 'inventory' });
    assert.deepEqual(ownership.prunable('team-b', [shared]), []);
  });

  it('resolves an object both inventories hold (left by an older agent) to the first listed', async () => {
    const { ownership } = await pass(
      { 'team-a': [shared], 'team-b': [shared] },
      { 'team-a': ['shared'], 'team-b': ['shared'] },
    );
    assert.deepEqual(ownership.ownerOf('team-b', shared), { owner: 'team-a', reason: 'inventory' });
  });

  it('renders an app again only when the revision or its spec changed', async () => {
    const first = await pass({}, {});
    assert.equal(first.renders, 3);
    const again = await pass({}, {}, first.ownership);
    assert.equal(again.renders, 0);
  });

  it('with content keys, renders at a new revision only the apps whose key moved', async () => {
    const ownership = new Ownership({
      inventory: { load: async () => undefined },
      scopes: discovery,
    });
    const keys: Record<string, string | undefined> = { base: 'k1', 'team-a': 'k1' };
    const calls: string[] = [];
    const begin = (revision: string) =>
      ownership.begin(
        APPS,
        revision,
        async (a: AppSpec) => {
          calls.push(`${a.name}@${revision}`);
          return a.name === 'team-a' ? [] : rendered(a.name);
        },
        async (a: AppSpec) => keys[a.name],
      );
    await begin('rev1');
    assert.deepEqual(calls.splice(0).sort(), ['base@rev1', 'team-a@rev1', 'team-b@rev1']);
    keys['team-a'] = 'k2';
    await begin('rev2');
    // base kept its key; team-b has none, so the revision decides; team-a's moved.
    assert.deepEqual(calls.splice(0).sort(), ['team-a@rev2', 'team-b@rev2']);
    assert.deepEqual(ownership.ownerOf('team-b', own('base')), { owner: 'base', reason: 'order' });
  });

  it('counts nothing an app may not create as declared by it', async () => {
    const ownership = new Ownership({
      inventory: { load: async (a) => (a === 'base' ? { objects: [ns('team-b')] } : undefined) },
      scopes: discovery,
    });
    await ownership.begin(APPS, 'rev1', async (a: AppSpec) =>
      a.name === 'team-a'
        ? [
            {
              object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } },
              source: 'x',
            },
          ]
        : [],
    );
    // team-a (limited to c08) cannot keep base from pruning Namespace team-b.
    assert.deepEqual(ownership.prunable('base', [ns('team-b')]), [ns('team-b')]);
  });
});

function ns(name: string): ObjectRef {
  return { apiVersion: 'v1', kind: 'Namespace', namespace: '', name };
}
