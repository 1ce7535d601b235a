import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { errorMessage, TerminalError } from '@driftless/common';
import { ExecCredentialSource, type CredentialSource, staticCredentials } from './credentials.ts';

/**
 * Where and how to reach one Kubernetes API server: the resolved current
 * context of a kubeconfig, or the pod's service account in a cluster.
 */
export interface ClusterAccess {
  /** The context's name; `in-cluster` for the service account. */
  contextName: string;
  /** The API server's base URL, e.g. `https://10.0.0.1:443`. */
  server: URL;
  /** PEM certificate authority bundle; undefined uses the system roots. */
  ca?: Buffer;
  /** `insecure-skip-tls-verify`: accept any server certificate. */
  insecureSkipTlsVerify: boolean;
  /** `tls-server-name`: the name the server certificate is checked against. */
  serverName?: string;
  /** Where request credentials (headers, client certificate) come from. */
  credentials: CredentialSource;
}

/** The default locations, overridable for tests. */
export interface KubeconfigLocations {
  /** Environment: `KUBECONFIG`, `HOME`, `KUBERNETES_SERVICE_HOST`/`_PORT`. */
  env: NodeJS.ProcessEnv;
  /** Folder of the pod's service account files. */
  serviceAccountDir?: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The cluster access kubectl would use: the files listed in `files` (or in
 * `KUBECONFIG`, separated by the path delimiter) merged as kubectl merges
 * them (for each named cluster, user and context, and for current-context,
 * the first file that sets it wins; missing files are skipped unless all
 * are), else `~/.kube/config`, else the pod's service account.
 * Undefined when there is none of these.
 * @throws TerminalError naming the file or entry that is wrong.
 */
export function loadClusterAccess(
  files: readonly string[],
  locations: KubeconfigLocations = { env: process.env },
): ClusterAccess | undefined {
  const { env } = locations;
  const listed = files.length > 0 ? files : (env['KUBECONFIG'] ?? '').split(path.delimiter);
  const wanted = listed.filter(Boolean);
  if (wanted.length > 0) {
    const present = wanted.filter((f) => existsSync(f));
    if (present.length === 0) {
      throw new TerminalError(`kubeconfig ${wanted.join(path.delimiter)}: no such file`);
    }
    return resolveCurrentContext(mergeKubeconfigs(present.map(readKubeconfigFile)));
  }
  const home = path.join(env['HOME'] || homedir(), '.kube', 'config');
  if (existsSync(home)) return resolveCurrentContext(mergeKubeconfigs([readKubeconfigFile(home)]));
  if (env['KUBERNETES_SERVICE_HOST']) {
    return inClusterAccess(env, locations.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  }
  return undefined;
}

/**
 * Cluster access from kubeconfig YAML text; relative file paths in it are
 * resolved against `baseDir`.
 * @throws TerminalError when the text is not a kubeconfig or its current context cannot be used.
 */
export function clusterAccessFromText(text: string, baseDir = process.cwd()): ClusterAccess {
  return resolveCurrentContext(mergeKubeconfigs([parseKubeconfig(text, baseDir, 'kubeconfig')]));
}

/** The pod's service account: token (re-read as the kubelet rotates it) and CA. */
export function inClusterAccess(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): ClusterAccess {
  const host = env['KUBERNETES_SERVICE_HOST'] ?? '';
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const caFile = path.join(dir, 'ca.crt');
  return {
    contextName: 'in-cluster',
    server: new URL(`https://${hostPart}:${port}`),
    ca: existsSync(caFile) ? readFileSync(caFile) : undefined,
    insecureSkipTlsVerify: false,
    credentials: staticCredentials({ tokenFile: path.join(dir, 'token') }),
  };
}

interface NamedEntries {
  clusters: Map<string, Record<string, unknown>>;
  users: Map<string, Record<string, unknown>>;
  contexts: Map<string, Record<string, unknown>>;
}

interface Kubeconfig extends NamedEntries {
  currentContext: string;
}

/** One parsed file, with relative paths already made absolute. */
interface KubeconfigFile extends Kubeconfig {
  source: string;
}

function readKubeconfigFile(file: string): KubeconfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TerminalError(`kubeconfig ${file}: ${errorMessage(err)}`, { cause: err });
  }
  return parseKubeconfig(text, path.dirname(path.resolve(file)), file);
}

const PATH_FIELDS = {
  cluster: ['certificate-authority'],
  user: ['client-certificate', 'client-key', 'tokenFile'],
} as const;

function parseKubeconfig(text: string, baseDir: string, source: string): KubeconfigFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new TerminalError(`kubeconfig ${source}: not YAML: ${errorMessage(err)}`, { cause: err });
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new TerminalError(`kubeconfig ${source}: not a mapping`);
  }
  const d = doc as Record<string, unknown>;
  const absolute = (entry: Record<string, unknown>, fields: readonly string[]) => {
    const out = { ...entry };
    for (const f of fields) {
      const v = out[f];
      if (typeof v === 'string' && v !== '' && !path.isAbsolute(v)) out[f] = path.join(baseDir, v);
    }
    return out;
  };
  const named = (key: string, inner: string, fields: readonly string[] = []) => {
    const map = new Map<string, Record<string, unknown>>();
    const list = d[key] ?? [];
    if (!Array.isArray(list)) throw new TerminalError(`kubeconfig ${source}: ${key} is not a list`);
    for (const item of list as Array<Record<string, unknown>>) {
      const name = item?.['name'];
      const body = item?.[inner];
      if (typeof name !== 'string' || typeof body !== 'object' || body === null) continue;
      if (!map.has(name)) map.set(name, absolute(body as Record<string, unknown>, fields));
    }
    return map;
  };
  const users = named('users', 'user', PATH_FIELDS.user);
  for (const [name, user] of users) {
    const exec = user['exec'] as Record<string, unknown> | undefined;
    const command = exec?.['command'];
    // kubectl resolves a relative command containing a separator against the file's folder.
    if (typeof command === 'string' && command.includes('/') && !path.isAbsolute(command)) {
      users.set(name, { ...user, exec: { ...exec, command: path.join(baseDir, command) } });
    }
  }
  return {
    source,
    clusters: named('clusters', 'cluster', PATH_FIELDS.cluster),
    users,
    contexts: named('contexts', 'context'),
    currentContext: typeof d['current-context'] === 'string' ? d['current-context'] : '',
  };
}

function mergeKubeconfigs(files: readonly KubeconfigFile[]): Kubeconfig {
  const merged: Kubeconfig = {
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    currentContext: '',
  };
  for (const file of files) {
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      for (const [name, entry] of file[key]) {
        if (!merged[key].has(name)) merged[key].set(name, entry);
      }
    }
    if (!merged.currentContext) merged.currentContext = file.currentContext;
  }
  return merged;
}

function resolveCurrentContext(config: Kubeconfig): ClusterAccess {
  const name = config.currentContext;
  if (!name) throw new TerminalError('kubeconfig has no current-context');
  const context = config.contexts.get(name);
  if (!context) throw new TerminalError(`kubeconfig: current-context ${name} is not defined`);
  const clusterName = stringField(context, 'cluster') ?? '';
  const cluster = config.clusters.get(clusterName);
  if (!cluster) {
    throw new TerminalError(
      `kubeconfig: context ${name} names cluster "${clusterName}", not defined`,
    );
  }
  const userName = stringField(context, 'user') ?? '';
  const user = userName ? config.users.get(userName) : {};
  if (!user)
    throw new TerminalError(`kubeconfig: context ${name} names user "${userName}", not defined`);
  let server: URL;
  try {
    server = new URL(stringField(cluster, 'server') ?? '');
  } catch {
    throw new TerminalError(`kubeconfig: cluster ${clusterName} has no valid server URL`);
  }
  const where = `kubeconfig user ${userName || '(none)'}`;
  return {
    contextName: name,
    server,
    ca: fileOrData(cluster, 'certificate-authority', `kubeconfig cluster ${clusterName}`),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    serverName: stringField(cluster, 'tls-server-name'),
    credentials: userCredentials(user, where, server, cluster),
  };
}

function userCredentials(
  user: Record<string, unknown>,
  where: string,
  server: URL,
  cluster: Record<string, unknown>,
): CredentialSource {
  const provider = user['auth-provider'] as Record<string, unknown> | undefined;
  if (provider) {
    throw new TerminalError(
      `${where}: auth-provider ${stringField(provider, 'name') ?? '?'} is not supported (removed from kubectl in 1.26); use an exec credential plugin`,
    );
  }
  const exec = user['exec'] as Record<string, unknown> | undefined;
  const cert = fileOrData(user, 'client-certificate', where);
  const key = fileOrData(user, 'client-key', where);
  if (exec) {
    return new ExecCredentialSource({
      exec,
      where,
      cluster: { server: stringField(cluster, 'server') ?? '', cluster },
      base: { cert, key },
    });
  }
  const username = stringField(user, 'username');
  return staticCredentials({
    token: stringField(user, 'token'),
    tokenFile: stringField(user, 'tokenFile'),
    basic: username ? { username, password: stringField(user, 'password') ?? '' } : undefined,
    cert,
    key,
  });
}

function stringField(entry: Record<string, unknown>, field: string): string | undefined {
  const v = entry[field];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** `<field>-data` (base64) wins over `<field>` (a file path), as in kubectl. */
function fileOrData(
  entry: Record<string, unknown>,
  field: string,
  where: string,
): Buffer | undefined {
  const data = stringField(entry, `${field}-data`);
  if (data) return Buffer.from(data, 'base64');
  const file = stringField(entry, field);
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TerminalError(`${where}: ${field} ${file}: ${errorMessage(err)}`, { cause: err });
  }
}
