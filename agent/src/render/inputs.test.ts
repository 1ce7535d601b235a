import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { appSpec } from '../config/index.ts';
import { inputsDigest, RenderInputs } from './inputs.ts';

const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

/** A checkout folder holding `files`. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'driftless-inputs-'));
  roots.push(root);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return root;
}

/** `files` with `from` moved to `to`, same content. */
function renamed(files: Record<string, string>, from: string, to: string): Record<string, string> {
  const { [from]: content, ...rest } = files;
  return { ...rest, [to]: content ?? '' };
}

const FILES: Record<string, string> = {
  'apps/web/base/kustomization.yaml': 'resources: [deploy.yaml]\n',
  'apps/web/base/deploy.yaml': 'kind: Deployment\n',
  'apps/web/dev/kustomization.yaml': 'resources: [../base]\n',
  'infra/ns.yaml': 'kind: Namespace\n',
};

describe('inputsDigest', () => {
  it('is the same for the same files, and changes with a content, a name or a new file', async () => {
    const paths = ['apps/web/dev', 'apps/web/base'];
    const a = await inputsDigest(tree(FILES), paths);
    assert.match(a ?? '', /^[0-9a-f]{64}$/);
    assert.equal(await inputsDigest(tree({ ...FILES, 'infra/ns.yaml': 'x' }), paths), a);
    for (const changed of [
      { ...FILES, 'apps/web/base/deploy.yaml': 'kind: StatefulSet\n' },
      { ...FILES, 'apps/web/base/extra.yaml': '' },
      renamed(FILES, 'apps/web/base/deploy.yaml', 'apps/web/base/deploy2.yaml'),
    ])
      assert.notEqual(await inputsDigest(tree(changed), paths), a);
  });

  it('follows symlinks to files, and gives up on a missing path, one outside, a linked folder or a passed bound', async () => {
    const root = tree(FILES);
    symlinkSync('../../../infra/ns.yaml', join(root, 'apps/web/base/ns.yaml'));
    const linked = await inputsDigest(root, ['apps/web/base']);
    assert.ok(linked);
    writeFileSync(join(root, 'infra/ns.yaml'), 'kind: Namespace\nmetadata: {}\n');
    assert.notEqual(await inputsDigest(root, ['apps/web/base']), linked, 'the target counts');
    assert.equal(await inputsDigest(root, ['apps/none']), undefined);
    assert.equal(await inputsDigest(root, ['../elsewhere']), undefined);
    const withDir = tree(FILES);
    symlinkSync('../../../infra', join(withDir, 'apps/web/base/infra'));
    assert.equal(await inputsDigest(withDir, ['apps/web/base']), undefined);
    assert.equal(await inputsDigest(root, ['apps'], { maxFiles: 2, maxBytes: 1 << 20 }), undefined);
    assert.equal(await inputsDigest(root, ['apps'], { maxFiles: 100, maxBytes: 10 }), undefined);
  });
});

describe('RenderInputs', () => {
  const app = (path: string) => appSpec({ name: 'web', path });

  it('keys an app by its spec and the digest of what its last render read', async () => {
    const inputs = new RenderInputs();
    const before = tree(FILES);
    const web = app('apps/web/dev');
    assert.equal(await inputs.key(web, before), undefined, 'never rendered');
    inputs.note(web, ['apps/web/dev', 'apps/web/base']);
    const key = await inputs.key(web, before);
    assert.ok(key);
    const untouched = tree({ ...FILES, 'infra/ns.yaml': 'changed' });
    assert.equal(await inputs.key(web, untouched), key);
    const touched = tree({ ...FILES, 'apps/web/base/deploy.yaml': 'changed' });
    assert.notEqual(await inputs.key(web, touched), key);
    assert.equal(await inputs.key(app('apps/web/base'), before), undefined, 'another spec');
    inputs.note(web, undefined);
    assert.equal(await inputs.key(web, before), undefined, 'a render that reads more than files');
    inputs.note(web, ['apps/web/dev']);
    inputs.forget('web');
    assert.equal(await inputs.key(web, before), undefined);
  });
});
