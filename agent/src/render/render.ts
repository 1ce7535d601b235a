import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { AppSpec, RenderedObject, RenderKind } from '../model.ts';
import type { ChartSettings } from './chart-source.ts';
import { renderDirectory } from './directory.ts';
import { RenderError } from './errors.ts';
import { renderHelm } from './helm.ts';
import { findKustomization, renderKustomize } from './kustomize.ts';
import { checkObjectCount, resolveRenderLimits, type RenderLimits } from './limits.ts';
import { Checkout, isFile } from './paths.ts';

/** Options of {@link render}. */
export interface RenderOptions {
  /** Root of the checkout; `app.path` is relative to it. */
  root: string;
  /** The app to render: its path, render kind and Helm/Kustomize settings. */
  app: AppSpec;
  /** Aborts the render and kills a running `kustomize` or `helm`. */
  signal?: AbortSignal;
  /** Path of the `kustomize` binary. Default: `kustomize` on PATH. */
  kustomizeBin?: string;
  /** Path of the `helm` binary. Default: `helm` on PATH. */
  helmBin?: string;
  /** Limit of one `kustomize build` or `helm template`, in ms. Default 60 000. */
  timeoutMs?: number;
  /** Cluster version given to Helm (`--kube-version`), e.g. `v1.33.0`. Default `DEFAULT_KUBE_VERSION`. */
  kubeVersion?: string;
  /** API versions the cluster serves, given to Helm (`--api-versions`). Default none. */
  apiVersions?: string[];
  /**
   * The target cluster's version and APIs for Helm's `.Capabilities`, asked
   * only when a chart is rendered; wins over `kubeVersion` and `apiVersions`.
   * Without it (and them), Helm renders for `DEFAULT_KUBE_VERSION` and its own API list.
   */
  cluster?: () => Promise<{ kubeVersion: string; apiVersions: string[] }>;
  /** Chart repositories and registries: cache folder, credentials. */
  charts?: ChartSettings;
  /** Size and count limits of this render. Default {@link RENDER_LIMIT_DEFAULTS}. */
  limits?: Partial<RenderLimits>;
  /**
   * Told, once the render has succeeded, the paths (relative to the checkout, `.` for all of
   * it) whose files alone decide the result, or undefined when more does (charts, the network,
   * the cluster's APIs). See inputs.ts.
   */
  onInputs?: (paths: string[] | undefined) => void;
}

/** The renderer actually used, once `auto` is decided. */
export type Renderer = Exclude<RenderKind, 'auto'>;

/**
 * Renders an app's path of a checkout into objects, each with the file it
 * came from. The renderer is `app.render`, or for `auto` what the path
 * holds: a kustomization, else a `Chart.yaml`, else plain YAML and JSON.
 * Every renderer is confined to the checkout (see confine.ts) and to
 * `limits`. Throws {@link RenderError} (terminal) for anything wrong in the repository,
 * a `RenderTimeoutError` (transient) when a tool runs too long, and the
 * signal's reason when aborted.
 */
export async function render(options: RenderOptions): Promise<RenderedObject[]> {
  const rendered = await renderWith(options, resolveRenderLimits(options.limits));
  checkObjectCount(options.app.path || '.', rendered.length, resolveRenderLimits(options.limits));
  return rendered;
}

async function renderWith(options: RenderOptions, limits: RenderLimits): Promise<RenderedObject[]> {
  const { app } = options;
  const checkout = await Checkout.open(options.root);
  const target = await checkout.resolve(app.path || '.', `path ${app.path} of app ${app.name}`);
  if (target === undefined) {
    throw new RenderError(`render ${app.path}: no such path in the repository (app ${app.name})`, {
      file: app.path,
    });
  }
  // The digest of render/inputs.ts covers the folders a render read, not the links that led
  // there: a path through a symbolic link has no key, or moving the link would go unnoticed.
  const throughLink = target !== path.resolve(checkout.root, app.path || '.');
  const onInputs =
    options.onInputs && throughLink ? () => options.onInputs?.(undefined) : options.onInputs;
  const common = {
    checkout,
    dir: target,
    app,
    limits,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  switch (await chooseRenderer(checkout, target, app)) {
    case 'kustomize':
      return renderKustomize({
        ...common,
        ...(onInputs === undefined ? {} : { onInputs }),
        ...(options.kustomizeBin === undefined ? {} : { bin: options.kustomizeBin }),
        ...(options.helmBin === undefined ? {} : { helmBin: options.helmBin }),
      });
    case 'helm':
      return renderHelm({
        ...common,
        ...(options.helmBin === undefined ? {} : { bin: options.helmBin }),
        ...(options.kubeVersion === undefined ? {} : { kubeVersion: options.kubeVersion }),
        ...(options.apiVersions === undefined ? {} : { apiVersions: options.apiVersions }),
        ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
        ...(options.charts === undefined ? {} : { charts: options.charts }),
      }).then((out) => {
        options.onInputs?.(undefined);
        return out;
      });
    case 'directory': {
      const out = await renderDirectory(checkout, target, limits, options.signal);
      onInputs?.([checkout.relative(target)]);
      return out;
    }
  }
}

/**
 * Decides how to render `target`. An explicit `app.render` must match what
 * the path holds, so a moved or deleted kustomization fails loudly instead
 * of falling back to rendering its patches as plain objects.
 */
export async function chooseRenderer(
  checkout: Checkout,
  target: string,
  app: Pick<AppSpec, 'path' | 'render' | 'helm'>,
): Promise<Renderer> {
  const isDir = (await stat(target)).isDirectory();
  const hasKustomization = isDir && (await findKustomization(target)) !== undefined;
  const hasChart = isDir && (await isFile(path.join(target, 'Chart.yaml')));
  const rel = checkout.relative(target);
  if (app.helm.chart) {
    // The chart comes from a repository; the path only holds values files.
    if (app.render !== 'auto' && app.render !== 'helm') {
      throw new RenderError(
        `render ${rel}: helm.chart is set, so render must be helm or auto, not ${app.render}`,
        { file: rel },
      );
    }
    return 'helm';
  }
  switch (app.render) {
    case 'auto':
      return hasKustomization ? 'kustomize' : hasChart ? 'helm' : 'directory';
    case 'kustomize':
      if (!hasKustomization) {
        throw new RenderError(
          `render ${rel}: render is kustomize but there is no kustomization.yaml here`,
          { file: rel },
        );
      }
      return 'kustomize';
    case 'helm':
      if (!hasChart) {
        throw new RenderError(`render ${rel}: render is helm but there is no Chart.yaml here`, {
          file: rel,
        });
      }
      return 'helm';
    case 'directory':
      return 'directory';
  }
}
