/**
 * A kustomization whose Helm chart name is a path, against the real `kustomize` and `helm`.
 * kustomize reads the chart from `<chartHome>/<name>` and writes its values to
 * `<temporary folder>/<name>-kustomize-values.yaml`, without looking at the name: `../` in it
 * has Helm load a chart from anywhere on the agent's disk, whose symbolic links nothing
 * checked (an older checkout of the same repository, kept on disk after its render was
 * refused, is such a chart), and has kustomize write a file there. Each case plants a secret
 * outside the checkout behind such a chart and checks that the render is refused naming the
 * field, that the secret is in no output or message, and that nothing was written outside.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appSpec, render, RenderError } from '@driftless/agent';
import { findBinary } from '@driftless/test';

const SECRET = `s3cr3t-${process.pid}-outside-the-checkout`;

describe('a kustomize Helm chart named by a path', () => {
  let base: string;
  let outsideChart: string;
  before(() => {
    base = mkdtempSync(path.join(tmpdir(), 'driftless-chart-name-'));
    mkdirSync(path.join(base, 'secrets'));
    writeFileSync(path.join(base, 'secrets', 'token'), `${SECRET}\n`);
    // A chart outside the checkout with a link out of it, as a refused older commit leaves one.
    outsideChart = path.join(base, 'old-checkout', 'chart');
    mkdirSync(path.join(outsideChart, 'templates'), { recursive: true });
    writeFileSync(
      path.join(outsideChart, 'Chart.yaml'),
      'apiVersion: v2\nname: chart\nversion: 0.1.0\n',
    );
    writeFileSync(path.join(outsideChart, 'values.yaml'), '{}\n');
    symlinkSync(path.join(base, 'secrets'), path.join(outsideChart, 'sa'));
    writeFileSync(
      path.join(outsideChart, 'templates', 'cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  token: {{ .Files.Get "sa/token" | quote }}\n',
    );
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  /** The name that reaches the outside chart from any folder: up to `/`, then down. */
  const escapingName = () => `${'../'.repeat(40)}${outsideChart.slice(1)}`;

  /** A checkout with `files` (below the repository root). */
  function checkout(files: Record<string, string>): string {
    const root = mkdtempSync(path.join(base, 'checkout-'));
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), content);
    }
    return root;
  }

  async function assertRefused(root: string, message: RegExp) {
    await assert.rejects(
      render({
        root,
        app: appSpec({ name: 'web', namespace: 'web', path: 'app' }),
        helmBin: findBinary('helm'),
        kustomizeBin: findBinary('kustomize'),
      }),
      (err: unknown) => {
        assert.ok(err instanceof RenderError, String(err));
        assert.match(err.message, message);
        assert.ok(!err.message.includes(SECRET), err.message);
        return true;
      },
    );
    assert.equal(
      existsSync(`${outsideChart}-kustomize-values.yaml`),
      false,
      'kustomize wrote nothing outside',
    );
  }

  it('in helmCharts', async () => {
    const root = checkout({
      'app/kustomization.yaml': `helmCharts:\n  - name: ${JSON.stringify(escapingName())}\n    releaseName: web\n    valuesFile: values.yaml\n`,
      'app/values.yaml': '{}\n',
    });
    await assertRefused(
      root,
      /^render app\/kustomization\.yaml: helmCharts\[0\]\.name "\.\.\/.*" is not a chart name/,
    );
  });

  it('in a HelmChartInflationGenerator config listed in generators, next to a vendored chart', async () => {
    const root = checkout({
      'app/kustomization.yaml':
        'helmCharts:\n  - name: fine\n    releaseName: fine\ngenerators:\n  - generator.yaml\n',
      'app/generator.yaml': `apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: leak\nname: ${JSON.stringify(escapingName())}\nreleaseName: web\nvaluesFile: values.yaml\n`,
      'app/values.yaml': '{}\n',
      'app/charts/fine/Chart.yaml': 'apiVersion: v2\nname: fine\nversion: 0.1.0\n',
      'app/charts/fine/values.yaml': '{}\n',
      'app/charts/fine/templates/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n',
    });
    await assertRefused(
      root,
      /^render app\/kustomization\.yaml: generators\[0\]\.name "\.\.\/.*" is not a chart name/,
    );
  });

  it('in the version of a chart to pull', async () => {
    const root = checkout({
      'app/kustomization.yaml': `helmCharts:\n  - name: chart\n    repo: https://charts.example.com\n    version: ${JSON.stringify(`0.1.0/${escapingName()}`)}\n    releaseName: web\n`,
    });
    await assertRefused(
      root,
      /^render app\/kustomization\.yaml: helmCharts\[0\]\.version ".*" is not a version/,
    );
  });

  it('a plain chart name still renders its vendored chart', async () => {
    const root = checkout({
      'app/kustomization.yaml': 'helmCharts:\n  - name: fine\n    releaseName: fine\n',
      'app/charts/fine/Chart.yaml': 'apiVersion: v2\nname: fine\nversion: 0.1.0\n',
      'app/charts/fine/values.yaml': '{}\n',
      'app/charts/fine/templates/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n',
    });
    const out = await render({
      root,
      app: appSpec({ name: 'web', namespace: 'web', path: 'app' }),
      helmBin: findBinary('helm'),
      kustomizeBin: findBinary('kustomize'),
    });
    assert.deepEqual(
      out.map((o) => o.object.metadata?.name),
      ['fine'],
    );
  });
});
