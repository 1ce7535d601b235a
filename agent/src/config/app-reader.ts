/** One entry of `spec.apps`: its fields read and checked, then defaulted. */
import type { Node } from 'yaml';
import type { AppSpec, RenderKind, SyncMode } from '../model.ts';
import { withDefaults, type ParseClusterConfigOptions } from './app-defaults.ts';
import { readHelm, readKustomize } from './render-reader.ts';
import { readHealthRule, readIgnoreDifferences } from './rules-reader.ts';
import type { Fields, Reader } from './yaml-reader.ts';

const SYNC_MODES: readonly SyncMode[] = ['auto', 'manual', 'dry-run'];
const RENDER_KINDS: readonly RenderKind[] = ['auto', 'directory', 'kustomize', 'helm'];

/** An app as read, with the nodes later cross-app checks point at. */
export interface ReadApp {
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
  'suspend',
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

/** Reads `spec.apps[i]`; `spec` is set only when the entry had no problem. */
export function readApp(
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
  const suspend = r.bool(f.get('suspend'), `${path}.suspend`);
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
      suspend,
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
