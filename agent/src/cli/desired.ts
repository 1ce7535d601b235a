import path from 'node:path';
import type { FlagSpec, FlagValues } from '@driftless/common';
import { appSpec } from '../config/index.ts';
import { guard, type ObjectReader, type ScopeResolver } from '../guard/index.ts';
import type { AppSpec, KubeObject, RenderKind } from '../model.ts';
import { render, type RenderOptions } from '../render/index.ts';
import { oneOf, UsageError } from './io.ts';

/** Flags shared by `render` and `diff`: how to render a folder and what the guard allows. */
export const renderFlags = {
  root: {
    type: 'string',
    default: '',
    help: 'The root of the repository checkout; PATH and values files must lie inside it, as they would in Git. Empty means the current directory.',
  },
  render: {
    type: 'string',
    default: 'auto',
    help: 'How to render PATH: auto (a kustomization.yaml means Kustomize, a Chart.yaml means Helm, else plain YAML and JSON files), directory, kustomize or helm.',
  },
  namespace: {
    type: 'string',
    default: '',
    short: 'n',
    help: 'The namespace given to namespaced objects that set none, and the only one they may use unless --allowed-namespaces says otherwise; empty leaves namespaces as the files set them.',
  },
  allowedNamespaces: {
    type: 'list',
    default: [],
    help: 'The namespaces objects may be in; empty means just --namespace, or any namespace when that is empty too.',
  },
  allowSecrets: {
    type: 'boolean',
    default: false,
    help: 'Allow plaintext Secret objects in the folder; without it the guard refuses them, as the agent does for an app without allowPlaintextSecrets.',
  },
  app: {
    type: 'string',
    default: '',
    help: "The app name put in the driftless.dev/app label; use the app's name in driftless.yaml so the output matches what the agent applies. Empty means the name of PATH's folder.",
  },
  values: {
    type: 'list',
    default: [],
    help: 'Helm values files, applied in order; repeat the flag or separate files with commas. Relative paths are looked up from the current directory.',
  },
  releaseName: {
    type: 'string',
    default: '',
    help: 'The Helm release name; empty means the app name.',
  },
  allowRemoteBases: {
    type: 'boolean',
    default: false,
    help: 'Let Kustomize fetch remote bases, resources and charts, and Helm fetch chart dependencies that are not vendored, over the network; off by default, as for the agent.',
  },
} as const satisfies FlagSpec;

const RENDER_KINDS: readonly RenderKind[] = ['auto', 'directory', 'kustomize', 'helm'];

/** A name Kubernetes accepts as a label value, made from a folder name. */
function appNameFrom(dir: string): string {
  const name = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return name || 'app';
}

/** The inside of `root` that `target` is, or a usage error when it lies outside. */
function insideRoot(root: string, target: string, what: string): string {
  const rel = path.relative(root, target);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new UsageError(
      `${what} ${target} is outside the root ${root}; set --root to a folder that holds it`,
    );
  }
  return rel.split(path.sep).join('/') || '.';
}

/** What the command renders: the checkout root and the app as the agent would see it. */
export interface LocalApp {
  root: string;
  app: AppSpec;
}

/**
 * Builds the app the agent would sync from a PATH and the flags, with the
 * same defaults a `driftless.yaml` entry gets.
 */
export function localApp(
  target: string | undefined,
  values: FlagValues<typeof renderFlags>,
  cwd: string,
): LocalApp {
  if (target === undefined || target === '')
    throw new UsageError('missing PATH: the folder of the app');
  const root = path.resolve(cwd, values.root || '.');
  const abs = path.resolve(cwd, target);
  const name = values.app || appNameFrom(abs);
  const app = appSpec({
    name,
    path: insideRoot(root, abs, 'PATH'),
    namespace: values.namespace,
    allowedNamespaces: values.allowedNamespaces,
    // As in driftless.yaml, limited to namespaces means no cluster-scoped kinds but new or
    // own CRDs (appSpec's default). Unlike there, an empty folder is no mistake worth stopping for.
    allowEmpty: true,
    allowPlaintextSecrets: values.allowSecrets,
    render: oneOf('render', values.render, RENDER_KINDS),
    helm: {
      releaseName: values.releaseName,
      // The renderer looks values files up from the chart, then the root;
      // people type them relative to where they stand, so resolve them here.
      valuesFiles: values.values.map((f) => insideRoot(root, path.resolve(cwd, f), 'values file')),
      values: {},
      allowRemoteDependencies: values.allowRemoteBases,
    },
    kustomize: {
      allowRemoteResources: values.allowRemoteBases,
      allowRemoteCharts: values.allowRemoteBases,
    },
  });
  return { root, app };
}

/**
 * Renders the app and runs the guard on the result: the objects the agent
 * would plan with. With `cluster`, Helm renders for that cluster's version
 * and APIs, as the agent does; without, for Helm's built-in defaults.
 */
export async function desiredObjects(
  local: LocalApp,
  scopes: ScopeResolver & ObjectReader,
  signal?: AbortSignal,
  cluster?: RenderOptions['cluster'],
): Promise<KubeObject[]> {
  const rendered = await render({
    root: local.root,
    app: local.app,
    ...(signal ? { signal } : {}),
    ...(cluster ? { cluster } : {}),
  });
  return guard(rendered, local.app, scopes);
}
