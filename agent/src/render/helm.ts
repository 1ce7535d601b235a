import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { AppSpec, RenderedObject } from '../model.ts';
import { RenderError } from './errors.ts';
import { findBinary, runTool } from './exec.ts';
import { parseYaml } from './parse.ts';
import { chartLocation } from './chart-fetch.ts';
import { prepareDependencies, remoteChart, type ChartSettings } from './chart-source.ts';
import { confineTree } from './confine.ts';
import { checkChartPackage, checkValuesSchemas } from './chart-schema.ts';
import { checkFileSize, type RenderLimits } from './limits.ts';
import type { Checkout } from './paths.ts';

/**
 * Kubernetes version Helm renders for when the caller does not pass the
 * cluster's. Helm's own default is v1.20.0, which fails every chart that
 * sets a modern `kubeVersion` constraint; the agent should pass the version
 * its cluster reports.
 */
export const DEFAULT_KUBE_VERSION = 'v1.34.0';

/** What {@link renderHelm} needs. */
export interface HelmRun {
  checkout: Checkout;
  /** Symlink-free folder holding `Chart.yaml`. */
  dir: string;
  app: AppSpec;
  /** Override of the binary; default `helm` on PATH. */
  bin?: string;
  /**
   * Kubernetes version for `.Capabilities.KubeVersion` and chart `kubeVersion`
   * constraints. Default {@link DEFAULT_KUBE_VERSION}.
   */
  kubeVersion?: string;
  /** API versions for `.Capabilities.APIVersions.Has`, e.g. `monitoring.coreos.com/v1`. */
  apiVersions?: string[];
  /**
   * The target cluster's version and APIs, asked only when a chart is
   * rendered; wins over `kubeVersion` and `apiVersions`.
   */
  cluster?: () => Promise<{ kubeVersion: string; apiVersions: string[] }>;
  /** Chart repositories, registries and their cache. */
  charts?: ChartSettings;
  limits: RenderLimits;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Renders a chart with `helm template`: release `app.helm.releaseName`
 * (default the app's name) in the app's namespace, CRDs included and test
 * hooks left out, values from `app.helm.valuesFiles` in order and then
 * `app.helm.values` on top. Each object's source is the chart file named
 * by Helm's `# Source:` comment, as a path in the repository.
 *
 * Helm itself gets no network and no repository configuration. Dependencies
 * not vendored in the chart's `charts/` folder (or a `file://` folder of the
 * checkout) are fetched by the agent only when the app sets
 * `helm.allowRemoteDependencies`; otherwise the render fails naming them.
 */
export async function renderHelm(run: HelmRun): Promise<RenderedObject[]> {
  const { checkout, dir, app } = run;
  const valuesFiles = await resolveValuesFiles(checkout, dir, app, run.limits);
  const bin = await findBinary('helm', run.bin);
  const ctx = { settings: run.charts ?? {}, limits: run.limits, signal: run.signal };
  const source = app.helm.chart;
  if (source) {
    const archive = await remoteChart(source, ctx);
    // Helm follows a schema's $ref in a downloaded package just as in a folder.
    await checkChartPackage(archive, chartLocation(source), run.limits);
    return template(run, bin, archive, source.name, chartLocation(source), valuesFiles);
  }
  // Helm loads every file of the chart (and follows links) for .Files, templates and subcharts.
  await confineTree(checkout, dir, {
    limits: run.limits,
    ...(run.signal ? { signal: run.signal } : {}),
  });
  const chartName = await readChartName(checkout, dir);
  const prepared = await prepareDependencies(checkout, dir, ctx, {
    allowRemote: app.helm.allowRemoteDependencies ?? false,
    app: app.name,
  });
  try {
    await checkValuesSchemas(prepared.dir, checkout.relative(dir), run.limits);
    return await template(run, bin, prepared.dir, chartName, checkout.relative(dir), valuesFiles);
  } finally {
    await prepared.cleanup();
  }
}

/** Runs `helm template` on `chart` (a folder or package); `rel` names it in sources and errors. */
async function template(
  run: HelmRun,
  bin: string,
  chart: string,
  chartName: string,
  rel: string,
  valuesFiles: string[],
): Promise<RenderedObject[]> {
  const { checkout, app } = run;
  const cluster = run.cluster ? await run.cluster() : undefined;
  const kubeVersion = cluster?.kubeVersion || run.kubeVersion || DEFAULT_KUBE_VERSION;
  const apiVersions = cluster?.apiVersions ?? run.apiVersions ?? [];
  const args = [
    'template',
    app.helm.releaseName || app.name,
    chart,
    '--include-crds',
    '--skip-tests',
    ...(app.namespace ? ['--namespace', app.namespace] : []),
    '--kube-version',
    kubeVersion,
    ...apiVersions.flatMap((v) => ['--api-versions', v]),
    ...valuesFiles.flatMap((f) => ['--values', f]),
  ];
  const output = await runTool({
    bin,
    args,
    cwd: checkout.root,
    what: `render ${rel}: helm template`,
    tidyError: (message) => tidyHelmError(message, chartName, rel),
    maxOutputBytes: run.limits.maxRenderBytes,
    prepare: async (tmp) => {
      if (Object.keys(app.helm.values).length === 0) return [];
      // A generated file rather than --set-json: no escaping rules for keys
      // with dots, and it is applied last so it wins over every values file.
      const file = path.join(tmp, 'app-values.json');
      await writeFile(file, JSON.stringify(app.helm.values));
      return ['--values', file];
    },
    ...(run.timeoutMs === undefined ? {} : { timeoutMs: run.timeoutMs }),
    ...(run.signal === undefined ? {} : { signal: run.signal }),
  });
  return splitHelmOutput(output, chartName, rel);
}

async function readChartName(checkout: Checkout, dir: string): Promise<string> {
  const source = checkout.relative(path.join(dir, 'Chart.yaml'));
  const doc = parseDocument(await readFile(path.join(dir, 'Chart.yaml'), 'utf8'), {
    prettyErrors: false,
  });
  const problem = doc.errors[0];
  if (problem) {
    throw new RenderError(`render ${source}: ${problem.message}`, { file: source, cause: problem });
  }
  const name = (doc.toJS() as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || !name) {
    throw new RenderError(`render ${source}: the chart has no name`, { file: source });
  }
  return name;
}

/**
 * Each values file is looked up relative to the chart folder, then relative
 * to the repository root; either way it must be a file inside the checkout.
 */
async function resolveValuesFiles(
  checkout: Checkout,
  dir: string,
  app: AppSpec,
  limits: RenderLimits,
) {
  const files: string[] = [];
  for (const ref of app.helm.valuesFiles) {
    const what = `values file ${ref} of app ${app.name}`;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) {
      throw new RenderError(`render: ${what} is a URL; values files must be in the repository`, {
        file: ref,
      });
    }
    const found = (await checkout.resolve(ref, what, dir)) ?? (await checkout.resolve(ref, what));
    if (found === undefined) {
      throw new RenderError(
        `render: ${what} not found in ${checkout.relative(dir)} or at the repository root`,
        { file: ref },
      );
    }
    await confineTree(checkout, found, { limits });
    checkFileSize(checkout.relative(found), (await stat(found)).size, limits);
    files.push(found);
  }
  return files;
}

/**
 * Helm names template files `<chart name>/templates/x.yaml`; say where they
 * are in the repository instead, and drop Helm's advice to use --debug.
 */
function tidyHelmError(message: string, chartName: string, chartDir: string): string {
  const escaped = chartName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return message
    .replace(/\s*Use --debug flag to render out invalid YAML\s*$/, '')
    .replace(
      new RegExp(`(^|[\\s"'(])${escaped}/(templates|crds|charts)/`, 'g'),
      `$1${chartDir}/$2/`,
    );
}

/**
 * Splits `helm template` output at its document markers. Helm heads each
 * document with `# Source: <chart>/templates/x.yaml`; the chart's name is
 * replaced by its folder in the repository so the source is a real path.
 */
function splitHelmOutput(output: string, chartName: string, chartDir: string): RenderedObject[] {
  const lines = output.split('\n');
  const rendered: RenderedObject[] = [];
  let start = 0;
  const flush = (end: number) => {
    const chunk = lines.slice(start, end);
    const text = chunk.join('\n');
    const m = /^# Source: (.+)$/m.exec(text);
    const helmPath = m?.[1]?.trim();
    const source = helmPath
      ? helmPath.startsWith(`${chartName}/`)
        ? `${chartDir}/${helmPath.slice(chartName.length + 1)}`
        : helmPath
      : `helm template ${chartDir}`;
    const objects = parseYaml(text, {
      file: source,
      lineOffset: start,
      renderedBy: 'helm template',
    });
    for (const object of objects) rendered.push({ object, source });
  };
  for (let i = 0; i < lines.length; i++) {
    if (/^---\s*$/.test(lines[i] ?? '')) {
      flush(i);
      start = i + 1;
    }
  }
  flush(lines.length);
  return rendered;
}
