import path from 'node:path';
import type { AppSpec, RenderedObject } from '../model.ts';
import { confineTree } from './confine.ts';
import { findBinary, runTool } from './exec.ts';
import { checkValuesSchemas } from './chart-schema.ts';
import { scanKustomizationTree, type ChartPull } from './kustomize-scan.ts';
import type { RenderLimits } from './limits.ts';
import { parseYaml } from './parse.ts';
import type { Checkout } from './paths.ts';

export { findKustomization, KUSTOMIZATION_FILES } from './kustomize-scan.ts';

/** What {@link renderKustomize} needs. */
export interface KustomizeRun {
  checkout: Checkout;
  /** Symlink-free folder holding the kustomization. */
  dir: string;
  app: AppSpec;
  limits: RenderLimits;
  /** Override of the binary; default `kustomize` on PATH. */
  bin?: string;
  /** Override of the `helm` binary kustomize runs for `helmCharts`; default `helm` on PATH. */
  helmBin?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Told the folders the render read (see RenderOptions.onInputs). */
  onInputs?: (paths: string[] | undefined) => void;
}

/**
 * Renders a kustomization with `kustomize build`, confined in three layers:
 * 1. no symbolic link anywhere in the checkout (kustomize may load any folder
 *    of it) leads outside it ({@link confineTree});
 * 2. every string of every kustomization and plugin config it includes that
 *    is not plain data is checked as a location: URLs are refused unless the
 *    app allows remote resources (charts: remote charts), absolute paths and
 *    paths leaving the checkout always ({@link scanKustomizationTree});
 * 3. kustomize runs with its root-only load restrictor, without exec or
 *    alpha plugins, and — unless the app allows the network — with no `git`
 *    on its PATH and a proxy that does not exist, so a remote reference that
 *    slipped past the scan still cannot be fetched from a non-loopback host.
 * `helmCharts` are inflated with our `helm`, from a chart vendored in the
 * repository, or pulled when the app sets `kustomize.allowRemoteCharts`.
 */
export async function renderKustomize(run: KustomizeRun): Promise<RenderedObject[]> {
  const rel = run.checkout.relative(run.dir);
  const { allowRemoteResources, allowRemoteCharts } = run.app.kustomize;
  await confineTree(run.checkout, run.checkout.root, {
    ...(run.signal ? { signal: run.signal } : {}),
  });
  const scan = await scanKustomizationTree(run.checkout, run.dir, {
    allowRemote: allowRemoteResources,
    allowRemoteCharts,
    app: run.app.name,
    limits: run.limits,
  });
  const bin = await findBinary('kustomize', run.bin);
  const helm = scan.helmCharts ? await findBinary('helm', run.helmBin) : '';
  const helmArgs = scan.helmCharts ? ['--enable-helm', '--helm-command', helm] : [];
  // kustomize would pull these and template them at once: pulled here first, as it would,
  // so that their values schemas are checked before helm reads them.
  for (const pull of scan.pulls) await pullChart(run, helm, pull);
  const output = await runTool({
    bin,
    // A folder named like an option (`--output=/x`) must stay the folder: kustomize would
    // otherwise write its output to any path.
    args: [
      'build',
      rel.startsWith('-') ? `./${rel}` : rel,
      '--load-restrictor',
      'LoadRestrictionsRootOnly',
      ...helmArgs,
    ],
    cwd: run.checkout.root,
    what: `render ${rel}: kustomize build`,
    // kustomize names files by absolute path; the checkout's location means nothing to the author.
    tidyError: (message) => message.replaceAll(`${run.checkout.root}/`, ''),
    network: allowRemoteResources || scan.pullsCharts,
    maxOutputBytes: run.limits.maxRenderBytes,
    ...(run.timeoutMs === undefined ? {} : { timeoutMs: run.timeoutMs }),
    ...(run.signal === undefined ? {} : { signal: run.signal }),
  });
  // With the root-only load restrictor, kustomize reads files only below the folders of the
  // kustomizations the scan read; what the network or helm add is not known from here, nor
  // where a symbolic link on the way to a folder leads at another commit.
  run.onInputs?.(
    allowRemoteResources || scan.helmCharts || scan.throughLink
      ? undefined
      : scan.dirs.map((d) => run.checkout.relative(d)),
  );
  const source = `kustomize build ${rel}`;
  return parseYaml(output, { file: source }).map((object) => ({ object, source }));
}

/**
 * Pulls a `helmCharts` chart where kustomize looks for it (kustomize's own `helm pull`
 * arguments), then checks its values schemas. kustomize then finds it and pulls nothing.
 */
async function pullChart(run: KustomizeRun, helm: string, pull: ChartPull): Promise<void> {
  const chartDir = path.join(pull.untarDir, pull.name);
  const rel = run.checkout.relative(chartDir);
  await runTool({
    bin: helm,
    args: [
      'pull',
      '--untar',
      '--untardir',
      pull.untarDir,
      ...(pull.repo.startsWith('oci://')
        ? [`${pull.repo.replace(/\/+$/, '')}/${pull.name}`]
        : ['--repo', pull.repo, pull.name]),
      ...(pull.version ? ['--version', pull.version] : []),
    ],
    cwd: run.checkout.root,
    what: `render ${rel}: helm pull ${pull.name} from ${pull.repo}`,
    network: true,
    maxOutputBytes: run.limits.maxRenderBytes,
    ...(run.timeoutMs === undefined ? {} : { timeoutMs: run.timeoutMs }),
    ...(run.signal === undefined ? {} : { signal: run.signal }),
  });
  await checkValuesSchemas(chartDir, rel, run.limits);
}
