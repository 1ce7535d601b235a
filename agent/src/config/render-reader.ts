/** The render sections of an app entry: `helm` (with a pinned `chart`) and `kustomize`. */
import type { Node } from 'yaml';
import type { HelmChartSource } from '../model.ts';
import type { HelmInput, KustomizeInput } from './app-defaults.ts';
import type { Reader } from './yaml-reader.ts';

/** Helm refuses longer release names (it appends suffixes to them). */
const HELM_RELEASE_MAX = 53;

/** `helm`: release name, values files and inline values, and an optional chart. */
export function readHelm(
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

/** `kustomize`: what a kustomization may fetch from outside the repository. */
export function readKustomize(
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
