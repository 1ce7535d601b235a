/**
 * Reads a cluster's `driftless.yaml` (what the cluster runs, kept in Git next to
 * everything else) into a {@link ClusterConfig}.
 *
 * The file is written by people and read by a machine that will act on it, so
 * validation is strict and reports every problem at once with file, line,
 * column and field path: a typo such as `selfheal` must fail the sync loudly
 * rather than silently turn self-healing off.
 */
import { LineCounter, parseDocument } from 'yaml';
import type { AppSpec, ClusterConfig } from '../model.ts';
import type { ParseClusterConfigOptions } from './app-defaults.ts';
import { readApp, type ReadApp } from './app-reader.ts';
import { ConfigError } from './config-problem.ts';
import { Reader, suggest } from './yaml-reader.ts';

export { APP_DEFAULTS, appSpec, type ParseClusterConfigOptions } from './app-defaults.ts';
export { ConfigError, formatProblem, type ConfigProblem } from './config-problem.ts';

/** The `apiVersion` a `driftless.yaml` must declare. */
export const CLUSTER_API_VERSION = 'driftless.dev/v1alpha1';
/** The `kind` a `driftless.yaml` must declare. */
export const CLUSTER_KIND = 'Cluster';
/** The file name the agent reads in the cluster's path. */
export const CLUSTER_CONFIG_FILE = 'driftless.yaml';

/**
 * Parses and validates the text of a `driftless.yaml`. `file` names it in
 * messages. Throws {@link ConfigError} listing every problem; otherwise every
 * app has its defaults applied.
 */
export function parseClusterConfig(
  text: string,
  file: string,
  options: ParseClusterConfigOptions = {},
): ClusterConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const reader = new Reader(file, lineCounter, doc);
  for (const err of doc.errors) reader.reportAt(err.pos[0], '', err.message.split('\n')[0] ?? '');
  const config = reader.problems.length === 0 ? readCluster(reader, options) : undefined;
  if (reader.problems.length > 0 || config === undefined) {
    throw new ConfigError(file, reader.sortedProblems());
  }
  return config;
}

// --- the schema, read top to bottom -------------------------------------------------

function readCluster(r: Reader, options: ParseClusterConfigOptions): ClusterConfig | undefined {
  const root = r.map(
    r.doc.contents,
    '',
    'the file must be a mapping with apiVersion, kind and spec',
  );
  if (!root) return undefined;
  const f = r.fields(root, '', ['apiVersion', 'kind', 'spec']);
  r.constant(f, '', 'apiVersion', CLUSTER_API_VERSION);
  r.constant(f, '', 'kind', CLUSTER_KIND);
  const spec = r.required(f, root, '', 'spec');
  const specMap = spec && r.map(spec, 'spec', 'must be a mapping with apps');
  if (!specMap) return undefined;
  const sf = r.fields(specMap, 'spec', ['apps', 'allowEmpty']);
  const allowEmpty = r.bool(sf.get('allowEmpty'), 'spec.allowEmpty') ?? false;
  const appsNode = r.required(sf, specMap, 'spec', 'apps');
  const apps = appsNode === undefined ? undefined : r.seq(appsNode, 'spec.apps');
  if (!apps) return undefined;
  // An empty list is far more often a mistake (a bad merge, a templating slip) than a
  // wish to remove everything, and removing every app prunes every app with prune: true.
  if (apps.items.length === 0 && !allowEmpty && appsNode) {
    r.report(
      appsNode,
      'spec.apps',
      'lists no apps: that would remove every app of the cluster (and prune those with prune: true); set spec.allowEmpty: true to allow it',
    );
    return undefined;
  }

  const read = apps.items.map((item, i) => readApp(r, r.resolve(item), `spec.apps[${i}]`, options));
  checkNames(r, read);
  checkDependencies(r, read);
  if (r.problems.length > 0) return undefined;
  return { apps: read.map((a) => a.spec as AppSpec), allowEmpty };
}

// --- checks across apps -------------------------------------------------------------

function checkNames(r: Reader, apps: ReadApp[]): void {
  const seen = new Map<string, string>();
  for (const app of apps) {
    if (app.name === undefined) continue;
    const first = seen.get(app.name);
    if (first !== undefined) {
      r.report(
        app.nameNode,
        `${app.path}.name`,
        `duplicate app name "${app.name}" (also ${first})`,
      );
    } else {
      seen.set(app.name, app.path);
    }
  }
}

function checkDependencies(r: Reader, apps: ReadApp[]): void {
  const byName = new Map<string, ReadApp>();
  for (const app of apps)
    if (app.name !== undefined && !byName.has(app.name)) byName.set(app.name, app);
  const known = [...byName.keys()];
  for (const app of apps) {
    app.dependsOn.forEach((dep, i) => {
      const node = app.dependsOnNodes[i];
      const where = `${app.path}.dependsOn[${i}]`;
      if (dep === app.name) r.report(node, where, `app "${dep}" cannot depend on itself`);
      else if (!byName.has(dep))
        r.report(node, where, `unknown app "${dep}"${suggest(dep, known)}`);
      else if (app.dependsOn.indexOf(dep) !== i) r.report(node, where, `"${dep}" is listed twice`);
    });
  }
  // Depth-first search; a back edge closes a cycle, reported once, at the
  // dependsOn entry of the app where the search entered the cycle.
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of byName.get(name)?.dependsOn ?? []) {
      if (dep === name || !byName.has(dep)) continue; // reported above
      const s = state.get(dep);
      if (s === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        const entry = byName.get(dep);
        const i = entry?.dependsOn.indexOf(cycle[1] ?? '') ?? 0;
        r.report(
          entry?.dependsOnNodes[i],
          `${entry?.path ?? ''}.dependsOn[${i}]`,
          `dependency cycle: ${cycle.join(' → ')}`,
        );
      } else if (s === undefined) {
        visit(dep);
      }
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of byName.keys()) if (!state.has(name)) visit(name);
}
