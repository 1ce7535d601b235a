/**
 * Reads a cluster's `driftless.yaml` (what the cluster runs, kept in Git next to
 * everything else) into a {@link ClusterConfig}.
 *
 * The file is written by people and read by a machine that will act on it, so
 * validation is strict and reports every problem at once with file, line,
 * column and field path: a typo such as `selfheal` must fail the sync loudly
 * rather than silently turn self-healing off.
 */
import posixPath from 'node:path/posix';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { parseDuration, TerminalError } from '@driftless/common';
import type {
  AppSpec,
  ClusterConfig,
  HealthRule,
  HelmChartSource,
  IgnoreRule,
  RenderKind,
  SyncMode,
} from '../model.ts';
import { NEW_OR_OWN_CRDS } from '../model.ts';
import { celProblem } from '../health/index.ts';

/** The `apiVersion` a `driftless.yaml` must declare. */
export const CLUSTER_API_VERSION = 'driftless.dev/v1alpha1';
/** The `kind` a `driftless.yaml` must declare. */
export const CLUSTER_KIND = 'Cluster';
/** The file name the agent reads in the cluster's path. */
export const CLUSTER_CONFIG_FILE = 'driftless.yaml';

const SYNC_MODES: readonly SyncMode[] = ['auto', 'manual', 'dry-run'];
const RENDER_KINDS: readonly RenderKind[] = ['auto', 'directory', 'kustomize', 'helm'];

/**
 * The defaults of every optional app field, in one place (they mirror the doc
 * comments of {@link AppSpec}). Fields that depend on other fields
 * (`allowedNamespaces`, `helm.releaseName`) are derived in {@link withDefaults}.
 */
export const APP_DEFAULTS = {
  namespace: '',
  sync: 'auto',
  selfHeal: false,
  prune: false,
  allowEmpty: false,
  allowPlaintextSecrets: false,
  serviceAccountName: '',
  dependsOn: [],
  render: 'auto',
  helmValuesFiles: [],
  kustomizeAllowRemoteResources: false,
  kustomizeAllowRemoteCharts: false,
  helmAllowRemoteDependencies: false,
  healthTimeoutMs: 5 * 60_000,
  createNamespace: false,
  replace: false,
  health: [],
} as const satisfies {
  namespace: string;
  sync: SyncMode;
  selfHeal: boolean;
  prune: boolean;
  allowEmpty: boolean;
  allowPlaintextSecrets: boolean;
  serviceAccountName: string;
  dependsOn: readonly string[];
  render: RenderKind;
  helmValuesFiles: readonly string[];
  kustomizeAllowRemoteResources: boolean;
  kustomizeAllowRemoteCharts: boolean;
  helmAllowRemoteDependencies: boolean;
  healthTimeoutMs: number;
  createNamespace: boolean;
  replace: boolean;
  health: readonly HealthRule[];
};

/** One thing wrong in a config file, located for the person who has to fix it. */
export interface ConfigProblem {
  /** The file as named by the caller, e.g. `clusters/dev/driftless.yaml`. */
  file: string;
  /** 1-based line of the offending node. */
  line: number;
  /** 1-based column of the offending node. */
  column: number;
  /** Field path such as `spec.apps[1].sync`; '' for a YAML syntax error. */
  path: string;
  /** What is wrong and, where it helps, what would be right. */
  message: string;
}

/** `file:line:col: path: message`, the format editors and CI annotate from. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/**
 * A config file is invalid. Terminal: the same file can never succeed, so the
 * agent reports it and waits for a new commit instead of retrying.
 */
export class ConfigError extends TerminalError {
  override name = 'ConfigError';
  /** The file that was read. */
  readonly file: string;
  /** Every problem found, in file order; never empty. */
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: readonly ConfigProblem[], options: { cause?: unknown } = {}) {
    const lines = problems.map(formatProblem);
    super(
      lines.length === 1
        ? (lines[0] ?? '')
        : `${file}: ${lines.length} problems:\n  ${lines.join('\n  ')}`,
      options,
    );
    this.file = file;
    this.problems = problems;
  }
}

/** Options of {@link parseClusterConfig}. */
export interface ParseClusterConfigOptions {
  /**
   * `healthTimeoutMs` of apps that set no `healthTimeout`, e.g. from the
   * agent's `--health-timeout` flag. Default {@link APP_DEFAULTS}.healthTimeoutMs (5 minutes).
   */
  defaultHealthTimeoutMs?: number;
}

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

/** An app as read, with the nodes later cross-app checks point at. */
interface ReadApp {
  spec: AppSpec | undefined;
  /** Kept even when other fields are wrong, so other apps' references still resolve. */
  name: string | undefined;
  dependsOn: string[];
  path: string;
  nameNode: Node | undefined;
  dependsOnNodes: Node[];
}

const APP_FIELDS = [
  'name',
  'path',
  'namespace',
  'allowedNamespaces',
  'allowedClusterKinds',
  'serviceAccountName',
  'sync',
  'selfHeal',
  'prune',
  'allowEmpty',
  'allowPlaintextSecrets',
  'dependsOn',
  'render',
  'helm',
  'kustomize',
  'healthTimeout',
  'createNamespace',
  'replace',
  'health',
  'ignoreDifferences',
];

function readApp(
  r: Reader,
  node: Node | null | undefined,
  path: string,
  options: ParseClusterConfigOptions,
): ReadApp {
  const out: ReadApp = {
    spec: undefined,
    name: undefined,
    dependsOn: [],
    path,
    nameNode: undefined,
    dependsOnNodes: [],
  };
  const map = r.map(node, path, 'must be a mapping with at least name and path');
  if (!map) return out;
  const f = r.fields(map, path, APP_FIELDS);
  const before = r.problems.length;

  out.nameNode = r.required(f, map, path, 'name');
  const name = r.dnsLabel(out.nameNode, `${path}.name`);
  out.name = name;
  const appPath = r.repoPath(r.required(f, map, path, 'path'), `${path}.path`);
  const namespace = r.dnsLabel(f.get('namespace'), `${path}.namespace`);
  const allowedNamespaces = r.list(
    f.get('allowedNamespaces'),
    `${path}.allowedNamespaces`,
    (n, p) => r.dnsLabel(n, p),
  );
  const { allowedClusterKinds, serviceAccountName } = readTenancy(r, f, path);
  const sync = r.oneOf(f.get('sync'), `${path}.sync`, SYNC_MODES);
  const selfHeal = r.bool(f.get('selfHeal'), `${path}.selfHeal`);
  const prune = r.bool(f.get('prune'), `${path}.prune`);
  const allowEmpty = r.bool(f.get('allowEmpty'), `${path}.allowEmpty`);
  const allowPlaintextSecrets = r.bool(
    f.get('allowPlaintextSecrets'),
    `${path}.allowPlaintextSecrets`,
  );
  const dependsOnNode = f.get('dependsOn');
  const dependsOn = r.list(dependsOnNode, `${path}.dependsOn`, (n, p) => {
    const dep = r.string(n, p);
    if (dep !== undefined && n) out.dependsOnNodes.push(n);
    return dep;
  });
  out.dependsOn = dependsOn ?? [];
  const render = r.oneOf(f.get('render'), `${path}.render`, RENDER_KINDS);
  const helm = readHelm(r, f.get('helm'), `${path}.helm`, appPath);
  const kustomize = readKustomize(r, f.get('kustomize'), `${path}.kustomize`);
  const healthTimeoutMs = r.duration(f.get('healthTimeout'), `${path}.healthTimeout`);
  const createNamespace = r.bool(f.get('createNamespace'), `${path}.createNamespace`);
  const replace = r.bool(f.get('replace'), `${path}.replace`);
  const health = r.list(f.get('health'), `${path}.health`, (n, p) => readHealthRule(r, n, p));
  const ignoreDifferences = readIgnoreDifferences(
    r,
    f.get('ignoreDifferences'),
    `${path}.ignoreDifferences`,
  );

  if (r.problems.length > before || name === undefined || appPath === undefined) return out;
  out.spec = withDefaults(
    {
      name,
      path: appPath,
      namespace,
      allowedNamespaces,
      allowedClusterKinds,
      serviceAccountName,
      sync,
      selfHeal,
      prune,
      allowEmpty,
      allowPlaintextSecrets,
      dependsOn,
      render,
      helm,
      kustomize,
      healthTimeoutMs,
      createNamespace,
      replace,
      health,
      ignoreDifferences,
    },
    options,
  );
  return out;
}

const IGNORE_FIELDS = [
  'group',
  'kind',
  'name',
  'namespace',
  'jsonPointers',
  'managedFieldsManagers',
];

/**
 * `ignoreDifferences`: a list of rules, each naming objects (kind required;
 * group, name and namespace narrow it) and the fields to ignore in them, by
 * JSON pointer and/or by the field managers that own them.
 */
function readIgnoreDifferences(
  r: Reader,
  node: Node | undefined,
  path: string,
): IgnoreRule[] | undefined {
  return r.list(node, path, (n, p) => {
    const map = r.map(
      n,
      p,
      'must be a mapping with kind and jsonPointers or managedFieldsManagers',
    );
    if (!map) return undefined;
    const f = r.fields(map, p, IGNORE_FIELDS);
    const kind = r.string(r.required(f, map, p, 'kind'), `${p}.kind`);
    const group = r.string(f.get('group'), `${p}.group`);
    const name = r.string(f.get('name'), `${p}.name`);
    const namespace = r.string(f.get('namespace'), `${p}.namespace`);
    const jsonPointers = r.list(f.get('jsonPointers'), `${p}.jsonPointers`, (pn, pp) => {
      const pointer = r.string(pn, pp);
      if (pointer !== undefined && !pointer.startsWith('/'))
        return void r.report(pn, pp, `must be a JSON pointer starting with "/", got "${pointer}"`);
      if (pointer === '/') return void r.report(pn, pp, 'cannot ignore the whole object');
      return pointer;
    });
    const managers = r.list(
      f.get('managedFieldsManagers'),
      `${p}.managedFieldsManagers`,
      (mn, mp) => r.string(mn, mp),
    );
    if (!jsonPointers?.length && !managers?.length)
      r.report(map, p, 'must set jsonPointers or managedFieldsManagers');
    if (kind === undefined) return undefined;
    return {
      kind,
      ...(group === undefined ? {} : { group }),
      ...(name === undefined ? {} : { name }),
      ...(namespace === undefined ? {} : { namespace }),
      ...(jsonPointers?.length ? { jsonPointers } : {}),
      ...(managers?.length ? { managedFieldsManagers: managers } : {}),
    };
  });
}

/** One `health` entry: a kind (and group) with CEL expressions over `object`. */
function readHealthRule(r: Reader, node: Node | undefined, path: string): HealthRule | undefined {
  const map = r.map(
    node,
    path,
    'must be a mapping with kind, healthy and optionally group, degraded',
  );
  if (!map) return undefined;
  const f = r.fields(map, path, ['group', 'kind', 'healthy', 'degraded']);
  const kind = r.string(r.required(f, map, path, 'kind'), `${path}.kind`);
  const group = r.string(f.get('group'), `${path}.group`) ?? '';
  const expression = (field: 'healthy' | 'degraded', required: boolean) => {
    const n = required ? r.required(f, map, path, field) : f.get(field);
    const text = r.string(n, `${path}.${field}`);
    if (text === undefined) return undefined;
    const problem = celProblem(text);
    if (problem) r.report(n, `${path}.${field}`, `not a valid CEL expression: ${problem}`);
    return problem ? undefined : text;
  };
  const healthy = expression('healthy', true);
  const degraded = expression('degraded', false);
  if (kind === undefined || healthy === undefined) return undefined;
  return { group, kind, healthy, ...(degraded === undefined ? {} : { degraded }) };
}

/** `Kind`, `group/Kind`, `group/*` or `*`: a cluster-scoped kind an app may create. */
const CLUSTER_KIND_PATTERN = /^(\*|([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?([A-Z][A-Za-z0-9]*|\*))$/;

/**
 * The tenancy fields of an app: the cluster-scoped kinds it may create and the
 * ServiceAccount the agent impersonates for it (in the app's namespace, or
 * the agent's own namespace for an app without one).
 */
function readTenancy(
  r: Reader,
  f: Fields,
  path: string,
): { allowedClusterKinds: string[] | undefined; serviceAccountName: string | undefined } {
  const allowedClusterKinds = r.list(
    f.get('allowedClusterKinds'),
    `${path}.allowedClusterKinds`,
    (n, p) => {
      const s = r.string(n, p);
      if (s === undefined || CLUSTER_KIND_PATTERN.test(s)) return s;
      r.report(n, p, `${JSON.stringify(s)} is not a kind: use Kind, group/Kind, group/* or *`);
      return undefined;
    },
  );
  const serviceAccountName = r.dnsSubdomain(
    f.get('serviceAccountName'),
    `${path}.serviceAccountName`,
  );
  return { allowedClusterKinds, serviceAccountName };
}

interface HelmInput {
  releaseName?: string | undefined;
  valuesFiles?: string[] | undefined;
  values?: Record<string, unknown> | undefined;
  chart?: HelmChartSource | undefined;
  allowRemoteDependencies?: boolean | undefined;
}

function readHelm(
  r: Reader,
  node: Node | undefined,
  path: string,
  appPath: string | undefined,
): HelmInput | undefined {
  if (node === undefined) return undefined;
  const map = r.map(
    node,
    path,
    'must be a mapping with releaseName, valuesFiles, values, chart or allowRemoteDependencies',
  );
  if (!map) return undefined;
  const f = r.fields(map, path, [
    'releaseName',
    'valuesFiles',
    'values',
    'chart',
    'allowRemoteDependencies',
  ]);
  const releaseNameNode = f.get('releaseName');
  const releaseName = r.dnsLabel(releaseNameNode, `${path}.releaseName`, HELM_RELEASE_MAX);
  // Values files are relative to the app's path (where the chart is), so
  // `../values/prod.yaml` is fine as long as it stays inside the repository.
  const valuesFiles = r.list(f.get('valuesFiles'), `${path}.valuesFiles`, (n, p) =>
    r.repoPath(n, p, appPath ?? '.'),
  );
  const valuesNode = f.get('values');
  let values: Record<string, unknown> | undefined;
  if (valuesNode !== undefined && r.map(valuesNode, `${path}.values`, 'must be a mapping')) {
    values = valuesNode.toJS(r.doc) as Record<string, unknown>;
  }
  const chart = readChartSource(r, f.get('chart'), `${path}.chart`);
  const allowRemoteDependencies = r.bool(
    f.get('allowRemoteDependencies'),
    `${path}.allowRemoteDependencies`,
  );
  return { releaseName, valuesFiles, values, chart, allowRemoteDependencies };
}

/** `helm.chart`: a pinned chart from a Helm repository or an OCI registry. */
function readChartSource(
  r: Reader,
  node: Node | undefined,
  path: string,
): HelmChartSource | undefined {
  if (node === undefined) return undefined;
  const map = r.map(node, path, 'must be a mapping with repository, name and version');
  if (!map) return undefined;
  const f = r.fields(map, path, ['repository', 'name', 'version', 'credentials', 'plainHttp']);
  const repoNode = r.required(f, map, path, 'repository');
  const repository = r.string(repoNode, `${path}.repository`);
  if (repository !== undefined && !/^(https?|oci):\/\/[^/\s]+/.test(repository)) {
    r.report(
      repoNode,
      `${path}.repository`,
      'must be an http(s):// Helm repository or an oci:// registry path',
    );
  }
  if (repository !== undefined && /^[a-z]+:\/\/[^/]*@/i.test(repository)) {
    r.report(
      repoNode,
      `${path}.repository`,
      'must not hold credentials; name a Secret or file in credentials instead',
    );
  }
  const name = r.string(r.required(f, map, path, 'name'), `${path}.name`);
  if (name !== undefined && !/^[a-z0-9][a-z0-9._-]*$/i.test(name)) {
    r.report(
      f.get('name'),
      `${path}.name`,
      'must be a chart name (letters, digits, ".", "_", "-")',
    );
  }
  const versionNode = r.required(f, map, path, 'version');
  const version = r.string(versionNode, `${path}.version`);
  if (version !== undefined && !/^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$/.test(version)) {
    r.report(
      versionNode,
      `${path}.version`,
      'must be an exact version such as 1.2.3: charts are pinned',
    );
  }
  const plainHttp = r.bool(f.get('plainHttp'), `${path}.plainHttp`);
  let credentials: HelmChartSource['credentials'];
  const credNode = f.get('credentials');
  const credMap =
    credNode && r.map(credNode, `${path}.credentials`, 'must be a mapping with secret or file');
  if (credMap) {
    const cf = r.fields(credMap, `${path}.credentials`, ['secret', 'file']);
    const secret = r.dnsLabel(cf.get('secret'), `${path}.credentials.secret`, 253);
    const file = r.string(cf.get('file'), `${path}.credentials.file`);
    // A bare name in the agent's credentials folder: a repository must not
    // be able to send any file of the agent's disk to a chart server.
    if (file !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file)) {
      r.report(
        cf.get('file'),
        `${path}.credentials.file`,
        "must be a file name in the agent's --chart-credentials-dir, without a folder",
      );
    }
    if ((secret === undefined) === (file === undefined)) {
      r.report(credNode, `${path}.credentials`, 'must set exactly one of secret and file');
    }
    credentials = { ...(secret ? { secret } : {}), ...(file ? { file } : {}) };
  }
  if (repository === undefined || name === undefined || version === undefined) return undefined;
  return {
    repository: repository.replace(/\/+$/, ''),
    name,
    version,
    ...(credentials ? { credentials } : {}),
    ...(plainHttp ? { plainHttp } : {}),
  };
}

interface KustomizeInput {
  allowRemoteResources?: boolean | undefined;
  allowRemoteCharts?: boolean | undefined;
}

function readKustomize(
  r: Reader,
  node: Node | undefined,
  path: string,
): KustomizeInput | undefined {
  if (node === undefined) return undefined;
  const map = r.map(node, path, 'must be a mapping with allowRemoteResources or allowRemoteCharts');
  if (!map) return undefined;
  const f = r.fields(map, path, ['allowRemoteResources', 'allowRemoteCharts']);
  return {
    allowRemoteResources: r.bool(f.get('allowRemoteResources'), `${path}.allowRemoteResources`),
    allowRemoteCharts: r.bool(f.get('allowRemoteCharts'), `${path}.allowRemoteCharts`),
  };
}

/** What the file said, each field possibly unset. */
type AppInput = {
  [K in keyof Omit<AppSpec, 'helm' | 'kustomize'>]: K extends 'name' | 'path'
    ? AppSpec[K]
    : AppSpec[K] | undefined;
} & {
  helm: HelmInput | undefined;
  kustomize: KustomizeInput | undefined;
};

/**
 * An AppSpec with every default applied, as parsing `driftless.yaml` would
 * give for an entry with just these fields (for tests and tools).
 */
export function appSpec(fields: Pick<AppSpec, 'name' | 'path'> & Partial<AppSpec>): AppSpec {
  const unset = {
    namespace: undefined,
    allowedNamespaces: undefined,
    allowedClusterKinds: undefined,
    serviceAccountName: undefined,
    sync: undefined,
    selfHeal: undefined,
    prune: undefined,
    allowEmpty: undefined,
    allowPlaintextSecrets: undefined,
    dependsOn: undefined,
    render: undefined,
    healthTimeoutMs: undefined,
    createNamespace: undefined,
    replace: undefined,
    health: undefined,
    ignoreDifferences: undefined,
  };
  return {
    ...withDefaults({ ...unset, ...fields, helm: fields.helm, kustomize: fields.kustomize }, {}),
    ...fields,
  };
}

/** Applies the defaults of {@link APP_DEFAULTS}; the only place that does. */
function withDefaults(a: AppInput, options: ParseClusterConfigOptions): AppSpec {
  const namespace = a.namespace ?? APP_DEFAULTS.namespace;
  // Unset means "just the app's namespace"; with no namespace either, the
  // empty list means any namespace (see AppSpec).
  const allowedNamespaces = a.allowedNamespaces ?? (namespace ? [namespace] : []);
  return {
    name: a.name,
    path: a.path,
    namespace,
    allowedNamespaces,
    // An app limited to namespaces stays in them unless it lists cluster
    // kinds; by default it may still bring its own new CRDs (a chart's crds/).
    allowedClusterKinds:
      a.allowedClusterKinds ?? (allowedNamespaces.length === 0 ? ['*'] : [NEW_OR_OWN_CRDS]),
    serviceAccountName: a.serviceAccountName ?? APP_DEFAULTS.serviceAccountName,
    sync: a.sync ?? APP_DEFAULTS.sync,
    selfHeal: a.selfHeal ?? APP_DEFAULTS.selfHeal,
    prune: a.prune ?? APP_DEFAULTS.prune,
    allowEmpty: a.allowEmpty ?? APP_DEFAULTS.allowEmpty,
    allowPlaintextSecrets: a.allowPlaintextSecrets ?? APP_DEFAULTS.allowPlaintextSecrets,
    dependsOn: a.dependsOn ?? [...APP_DEFAULTS.dependsOn],
    render: a.render ?? APP_DEFAULTS.render,
    helm: {
      // A release named after the app keeps `helm list`-style names readable.
      releaseName: a.helm?.releaseName ?? a.name,
      valuesFiles: a.helm?.valuesFiles ?? [...APP_DEFAULTS.helmValuesFiles],
      values: a.helm?.values ?? {},
      ...(a.helm?.chart ? { chart: a.helm.chart } : {}),
      allowRemoteDependencies:
        a.helm?.allowRemoteDependencies ?? APP_DEFAULTS.helmAllowRemoteDependencies,
    },
    kustomize: {
      allowRemoteResources:
        a.kustomize?.allowRemoteResources ?? APP_DEFAULTS.kustomizeAllowRemoteResources,
      allowRemoteCharts: a.kustomize?.allowRemoteCharts ?? APP_DEFAULTS.kustomizeAllowRemoteCharts,
    },
    healthTimeoutMs:
      a.healthTimeoutMs ?? options.defaultHealthTimeoutMs ?? APP_DEFAULTS.healthTimeoutMs,
    createNamespace: a.createNamespace ?? APP_DEFAULTS.createNamespace,
    replace: a.replace ?? APP_DEFAULTS.replace,
    health: a.health ?? [...APP_DEFAULTS.health],
    ignoreDifferences: a.ignoreDifferences ?? [],
  };
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

// --- the reader: typed access to YAML nodes that records problems -------------------

/** RFC 1123 label, the rule for Kubernetes namespaces and our app names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_LABEL_MAX = 63;
/** Helm refuses longer release names (it appends suffixes to them). */
const HELM_RELEASE_MAX = 53;

/** Fields of one mapping, by key, as found (unknown ones already reported). */
type Fields = Map<string, Node>;

class Reader {
  readonly problems: ConfigProblem[] = [];
  readonly file: string;
  readonly #lines: LineCounter;
  readonly doc: Document.Parsed;
  /** Orders problems by position, since checks across apps run after the per-app ones. */
  readonly #offsets: number[] = [];

  constructor(file: string, lines: LineCounter, doc: Document.Parsed) {
    this.file = file;
    this.#lines = lines;
    this.doc = doc;
  }

  sortedProblems(): ConfigProblem[] {
    return this.problems
      .map((p, i) => ({ p, o: this.#offsets[i] ?? 0, i }))
      .sort((a, b) => a.o - b.o || a.i - b.i)
      .map((x) => x.p);
  }

  reportAt(offset: number, path: string, message: string): void {
    const { line, col } = this.#lines.linePos(offset);
    this.problems.push({ file: this.file, line, column: col, path, message });
    this.#offsets.push(offset);
  }

  report(node: Node | null | undefined, path: string, message: string): void {
    this.reportAt(node?.range?.[0] ?? 0, path, message);
  }

  /** Follows an alias to the node it names, so anchors work like plain values. */
  resolve(node: unknown): Node | undefined {
    if (isAlias(node)) return node.resolve(this.doc) ?? undefined;
    return (node ?? undefined) as Node | undefined;
  }

  map(node: unknown, path: string, expected: string): YAMLMap<unknown, unknown> | undefined {
    const n = this.resolve(node);
    if (isMap(n)) return n;
    this.report(n, path, `${expected}, got ${describe(n)}`);
    return undefined;
  }

  seq(node: Node, path: string): YAMLSeq<unknown> | undefined {
    const n = this.resolve(node);
    if (isSeq(n)) return n;
    this.report(n, path, `must be a list, got ${describe(n)}`);
    return undefined;
  }

  /**
   * The fields of `map`. Unknown keys are reported with a suggestion (a typo
   * would otherwise silently fall back to a default); null values count as unset.
   */
  fields(map: YAMLMap<unknown, unknown>, path: string, allowed: readonly string[]): Fields {
    const out: Fields = new Map();
    for (const pair of map.items) {
      const key = this.resolve(pair.key);
      const where = (k: string) => (path ? `${path}.${k}` : k);
      if (!isScalar(key) || typeof key.value !== 'string') {
        this.report(key, path, `keys must be strings, got ${describe(key)}`);
        continue;
      }
      const name = key.value;
      if (!allowed.includes(name)) {
        this.report(
          key,
          where(name),
          `unknown field${suggest(name, allowed) || `; allowed: ${allowed.join(', ')}`}`,
        );
        continue;
      }
      const value = this.resolve(pair.value);
      if (value === undefined || (isScalar(value) && value.value === null)) continue;
      out.set(name, value);
    }
    return out;
  }

  required(f: Fields, parent: Node, path: string, name: string): Node | undefined {
    const n = f.get(name);
    if (n === undefined) this.report(parent, path ? `${path}.${name}` : name, 'required');
    return n;
  }

  constant(f: Fields, path: string, name: string, want: string): void {
    const n = f.get(name);
    const where = path ? `${path}.${name}` : name;
    if (n === undefined) return this.report(this.doc.contents, where, `required: "${want}"`);
    if (!isScalar(n) || n.value !== want)
      this.report(n, where, `must be "${want}", got ${describe(n)}`);
  }

  string(node: Node | undefined, path: string): string | undefined {
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    this.report(node, path, `must be a string, got ${describe(node)}`);
    return undefined;
  }

  /** Booleans are strict YAML 1.2 `true`/`false`; `yes` is a string and rejected. */
  bool(node: Node | undefined, path: string): boolean | undefined {
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.report(node, path, `must be true or false, got ${describe(node)}`);
    return undefined;
  }

  oneOf<T extends string>(
    node: Node | undefined,
    path: string,
    values: readonly T[],
  ): T | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    if ((values as readonly string[]).includes(s)) return s as T;
    this.report(node, path, `must be one of ${values.join(', ')}, got ${JSON.stringify(s)}`);
    return undefined;
  }

  /** A DNS-1123 subdomain, the rule for most object names (ServiceAccounts among them). */
  dnsSubdomain(node: Node | undefined, path: string): string | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    if (s.length <= 253 && s.split('.').every((part) => DNS_LABEL.test(part))) return s;
    this.report(node, path, `${JSON.stringify(s)} is not a valid object name`);
    return undefined;
  }

  dnsLabel(node: Node | undefined, path: string, max = DNS_LABEL_MAX): string | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    if (DNS_LABEL.test(s) && s.length <= max) return s;
    this.report(
      node,
      path,
      `${JSON.stringify(s)} is not a valid name: use at most ${max} lowercase letters, digits and '-', starting and ending with a letter or digit`,
    );
    return undefined;
  }

  /**
   * A path inside the repository, relative to `base` (a repository-relative
   * folder; default the root). Returned normalized, as written when `base` is
   * the root. Absolute paths and escapes above the root are refused: the agent
   * must never read outside its checkout.
   */
  repoPath(node: Node | undefined, path: string, base?: string): string | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    const bad = (why: string) => {
      this.report(node, path, `${JSON.stringify(s)} ${why}`);
      return undefined;
    };
    if (s.trim() === '') return bad('is empty');
    if (s.includes('\\')) return bad("must use '/' as separator");
    if (s.startsWith('/') || /^[a-zA-Z]:/.test(s))
      return bad('must be relative to the repository root');
    if (base === undefined) {
      if (s.split('/').includes('..')) return bad("must not contain '..'");
      return posixPath.normalize(s).replace(/\/$/, '');
    }
    const inRepo = posixPath.normalize(posixPath.join(base, s));
    if (inRepo === '..' || inRepo.startsWith('../'))
      return bad(`leaves the repository (relative to ${base})`);
    return s;
  }

  list<T>(
    node: Node | undefined,
    path: string,
    item: (n: Node | undefined, path: string) => T | undefined,
  ): T[] | undefined {
    if (node === undefined) return undefined;
    const seq = this.seq(node, path);
    if (!seq) return undefined;
    const out: T[] = [];
    seq.items.forEach((it, i) => {
      const v = item(this.resolve(it), `${path}[${i}]`);
      if (v !== undefined) out.push(v);
    });
    return out;
  }

  /** A duration with a unit; bare numbers are refused since `300` could mean seconds or ms. */
  duration(node: Node | undefined, path: string): number | undefined {
    if (node === undefined) return undefined;
    const s = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
    let ms: number | undefined;
    try {
      ms = s !== undefined && !/^\s*\d+\s*$/.test(s) ? parseDuration(s) : undefined;
    } catch {
      ms = undefined;
    }
    if (ms !== undefined && ms > 0) return ms;
    this.report(
      node,
      path,
      `must be a positive duration such as 90s, 5m or 1h, got ${describe(node)}`,
    );
    return undefined;
  }
}

/** How a value reads in a message: scalars as JSON, collections by kind. */
function describe(node: unknown): string {
  if (node === undefined || node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'null' : JSON.stringify(node.value);
  return 'an unexpected node';
}

/** ` (did you mean "x"?)` for the closest candidate within a small edit distance, else ''. */
function suggest(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 4))
    ? ` (did you mean "${best}"?)`
    : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
