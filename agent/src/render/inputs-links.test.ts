import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { appSpec } from '../config/index.ts';
import { RenderInputs } from './inputs.ts';
import { render } from './render.ts';

const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

/** A checkout folder holding `files` and the symbolic `links` (path → target). */
function tree(files: Record<string, string>, links: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'driftless-inputs-links-'));
  roots.push(root);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  for (const [rel, target] of Object.entries(links)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    symlinkSync(target, join(root, rel));
  }
  return root;
}

const cm = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: web}\n`;
const ENVS = { 'envs/v1/cm.yaml': cm('one'), 'envs/v2/cm.yaml': cm('two') };

/** The key of `app` at checkout `at` after a render at `before`: it must not stay when the render changes. */
async function keys(path: string, before: string, at: string) {
  const inputs = new RenderInputs();
  const app = appSpec({ name: 'web', path });
  const noteOf = async (root: string) => {
    let paths: string[] | undefined;
    const out = await render({ root, app, onInputs: (p) => (paths = p) });
    return { paths, names: out.map((o) => o.object.metadata.name) };
  };
  const first = await noteOf(before);
  inputs.note(app, first.paths);
  const second = await noteOf(at);
  return {
    before: await inputs.key(app, before),
    at: await inputs.key(app, at),
    rendered: [first.names, second.names],
  };
}

describe('render inputs through a symbolic link', () => {
  it('a commit that points the app path link elsewhere changes the key', async () => {
    const k = await keys(
      'apps/web',
      tree(ENVS, { 'apps/web': '../envs/v1' }),
      tree(ENVS, { 'apps/web': '../envs/v2' }),
    );
    assert.deepEqual(k.rendered, [['one'], ['two']], 'the renders differ');
    assert.ok(k.at === undefined || k.at !== k.before, 'the key must move with the render');
  });

  it('a commit that points a link on the way to a kustomize base elsewhere changes the key', async () => {
    const files = {
      ...ENVS,
      'envs/v1/kustomization.yaml': 'resources: [cm.yaml]\n',
      'envs/v2/kustomization.yaml': 'resources: [cm.yaml]\n',
      'apps/web/kustomization.yaml': 'resources: [../../shared/current]\n',
    };
    const k = await keys(
      'apps/web',
      tree(files, { 'shared/current': '../envs/v1' }),
      tree(files, { 'shared/current': '../envs/v2' }),
    );
    assert.deepEqual(k.rendered, [['one'], ['two']], 'the renders differ');
    assert.ok(k.at === undefined || k.at !== k.before, 'the key must move with the render');
  });
});
