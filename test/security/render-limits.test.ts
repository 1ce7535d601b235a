/**
 * Size and count limits of a render, against the real renderers: a huge
 * manifest is refused before it is read, a render adding up past the limit,
 * a tool whose output runs past it, and an app with too many objects each
 * fail with one message naming the limit and its flag.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appSpec, render, RenderError, type AppSpec } from '@driftless/agent';
import { findBinary } from '@driftless/test';

const MiB = 1024 * 1024;

describe('render limits', () => {
  let root: string;
  let helmBin: string;
  let kustomizeBin: string;

  before(() => {
    helmBin = findBinary('helm');
    kustomizeBin = findBinary('kustomize');
    root = mkdtempSync(path.join(tmpdir(), 'driftless-limits-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  function write(files: Record<string, string>): string {
    const dir = mkdtempSync(path.join(root, 'repo-'));
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), content);
    }
    return dir;
  }
  const run = (
    dir: string,
    app: Partial<AppSpec> & { path: string },
    limits: { maxFileBytes?: number; maxRenderBytes?: number; maxObjects?: number },
  ) =>
    render({
      root: dir,
      app: appSpec({ name: 'big', namespace: 'ns', ...app }),
      helmBin,
      kustomizeBin,
      limits,
    });
  const cm = (name: string, value = 'x') =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  v: ${JSON.stringify(value)}\n`;

  it('a 100 MB manifest is refused by its size, before it is read or parsed', async () => {
    const dir = write({ 'app/small.yaml': cm('small') });
    writeFileSync(path.join(dir, 'app', 'huge.yaml'), '');
    truncateSync(path.join(dir, 'app', 'huge.yaml'), 100 * 1000 * 1000);
    const before = process.memoryUsage().rss;
    await assert.rejects(run(dir, { path: 'app' }, {}), (err: unknown) => {
      assert.ok(err instanceof RenderError);
      assert.equal(
        err.message,
        'render app/huge.yaml: file is 95.4 MiB, over the 16 MiB limit (--render-max-file-bytes)',
      );
      return true;
    });
    assert.ok(process.memoryUsage().rss - before < 50 * 1000 * 1000, 'the file was not read');
  });

  it('plain files that add up past the render limit', async () => {
    const big = 'y'.repeat(700 * 1024);
    const dir = write({
      'app/a.yaml': cm('a', big),
      'app/b.yaml': cm('b', big),
      'app/c.yaml': cm('c', big),
    });
    await assert.rejects(
      run(dir, { path: 'app' }, { maxFileBytes: MiB, maxRenderBytes: 2 * MiB }),
      /render app: the manifests add up to more than 2 MiB \(--render-max-bytes\), reached at app\/c\.yaml/,
    );
  });

  it('more objects than the limit', async () => {
    const dir = write({
      'app/many.yaml': Array.from({ length: 30 }, (_, i) => cm(`cm-${i}`)).join('---\n'),
    });
    await assert.rejects(
      run(dir, { path: 'app' }, { maxObjects: 20 }),
      /render app: 30 objects, over the limit of 20 per app \(--render-max-objects\)/,
    );
    assert.equal((await run(dir, { path: 'app' }, { maxObjects: 30 })).length, 30);
  });

  it('helm output past the render limit: helm is stopped', async () => {
    const dir = write({
      'chart/Chart.yaml': 'apiVersion: v2\nname: chart\nversion: 0.1.0\n',
      'chart/templates/many.yaml':
        '{{- range $i := until 5000 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{{ $i }}\ndata:\n  v: {{ repeat 200 "z" | quote }}\n{{- end }}\n',
    });
    await assert.rejects(
      run(dir, { path: 'chart' }, { maxRenderBytes: 256 * 1024 }),
      /render chart: helm template: output larger than 256 KiB \(--render-max-bytes\)/,
    );
  });

  it('a chart file over the file limit', async () => {
    const dir = write({
      'chart/Chart.yaml': 'apiVersion: v2\nname: chart\nversion: 0.1.0\n',
      'chart/templates/cm.yaml': cm('c'),
      'chart/files/blob.bin': 'b'.repeat(2 * MiB),
    });
    await assert.rejects(
      run(dir, { path: 'chart' }, { maxFileBytes: MiB }),
      /render chart\/files\/blob\.bin: file is 2 MiB, over the 1 MiB limit/,
    );
  });

  it('kustomize: a file it names over the file limit, and output past the render limit', async () => {
    const dir = write({
      'app/kustomization.yaml': 'configMapGenerator:\n  - name: g\n    files: [blob.txt]\n',
      'app/blob.txt': 'k'.repeat(600 * 1024),
    });
    await assert.rejects(
      run(dir, { path: 'app' }, { maxFileBytes: 512 * 1024 }),
      /render app\/blob\.txt: file is 600 KiB, over the 512 KiB limit/,
    );
    await assert.rejects(
      run(dir, { path: 'app' }, { maxRenderBytes: 256 * 1024 }),
      /render app: kustomize build: output larger than 256 KiB \(--render-max-bytes\)/,
    );
  });
});
