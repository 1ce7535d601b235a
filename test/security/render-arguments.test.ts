/**
 * Strings of a hostile repository that end up on a renderer's command line, against the real
 * `kustomize` and `helm`: a release name that is a Helm option (`--post-renderer=` runs a
 * program of the repository, with the agent's files in reach), a Helm configuration folder
 * in the repository (Helm loads plugins from it), and an app folder named like a kustomize
 * option (`--output=` writes anywhere). Each is refused with one message naming the field,
 * or taken as the plain value it is; no program of the repository runs and nothing is written
 * outside the checkout.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appSpec, render, RenderError, type AppSpec } from '@driftless/agent';
import { findBinary } from '@driftless/test';

describe('repository strings on a renderer command line', () => {
  let work: string;
  let helmBin: string;
  let kustomizeBin: string;
  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'driftless-render-args-'));
    helmBin = findBinary('helm');
    kustomizeBin = findBinary('kustomize');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /** A checkout with a vendored chart `c` and a script that leaves `marker` when it runs. */
  function checkout(files: Record<string, string>) {
    const root = mkdtempSync(path.join(work, 'checkout-'));
    const marker = path.join(work, `ran-${path.basename(root)}`);
    const all: Record<string, string> = {
      'app/charts/c/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 0.1.0\n',
      'app/charts/c/values.yaml': 'a: 1\n',
      'app/charts/c/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n',
      'app/run.sh': `#!/bin/sh\necho ran > ${marker}\n`,
      ...files,
    };
    for (const [rel, text] of Object.entries(all)) {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), text);
    }
    chmodSync(path.join(root, 'app/run.sh'), 0o755);
    const run = (app: Partial<AppSpec> & { path: string }) =>
      render({
        root,
        app: appSpec({ name: 'web', namespace: 'web', ...app }),
        helmBin,
        kustomizeBin,
      });
    return { root, marker, run };
  }

  const refused = async (
    files: Record<string, string>,
    why: RegExp,
    app: Partial<AppSpec> & { path: string } = { path: 'app' },
  ) => {
    const c = checkout(files);
    await assert.rejects(c.run(app), (err: unknown) => {
      assert.ok(err instanceof RenderError, String(err));
      assert.match(err.message, why);
      return true;
    });
    assert.ok(!existsSync(c.marker), 'no program of the repository ran');
  };

  it('a helmCharts release name that is a Helm option is refused before anything runs', () =>
    refused(
      {
        'app/kustomization.yaml':
          'helmCharts:\n  - name: c\n    releaseName: "--post-renderer=./app/run.sh"\n',
      },
      /^render app\/kustomization\.yaml: helmCharts\[0\]\.releaseName "--post-renderer=\.\/app\/run\.sh" is not a Helm release name/,
    ));

  it('the same in a HelmChartInflationGenerator config', () =>
    refused(
      {
        'app/kustomization.yaml': 'generators:\n  - helm.yaml\n',
        'app/helm.yaml':
          'apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: c\nname: c\nchartHome: charts\nreleaseName: "--post-renderer=./app/run.sh"\n',
      },
      /releaseName "--post-renderer=\.\/app\/run\.sh" is not a Helm release name/,
    ));

  it('a Helm configuration folder (plugins) in the repository is refused', () =>
    refused(
      {
        'app/kustomization.yaml':
          'helmGlobals:\n  configHome: helm-home\nhelmCharts:\n  - name: c\n    releaseName: web\n',
        'app/helm-home/.data/plugins/p/plugin.yaml':
          'name: p\nversion: 0.1.0\ndownloaders:\n  - command: ../../../../run.sh\n    protocols: [evil]\n',
      },
      /helmGlobals\.configHome is not allowed: Helm would load its plugins/,
    ));

  it('a valid release name still renders', async () => {
    const c = checkout({
      'app/kustomization.yaml': 'helmCharts:\n  - name: c\n    releaseName: web.v1\n',
    });
    const out = await c.run({ path: 'app' });
    assert.deepEqual(
      out.map((o) => o.object.metadata.name),
      ['c'],
    );
  });

  it('an app folder named like a kustomize option is built as the folder, writing nothing elsewhere', async () => {
    const outside = path.join(work, 'written-outside');
    const folder = `--output=${outside}`;
    const c = checkout({
      'kustomization.yaml': 'resources: [root.yaml]\n',
      'root.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: root\n',
      [`${folder}/kustomization.yaml`]: 'resources: [cm.yaml]\n',
      [`${folder}/cm.yaml`]: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: in-folder\n',
    });
    const out = await c.run({ path: folder });
    assert.deepEqual(
      out.map((o) => o.object.metadata.name),
      ['in-folder'],
    );
    assert.ok(!existsSync(outside), `nothing written at ${outside}`);
  });
});
