import { createHash } from 'node:crypto';
import { redactUrl, TerminalError, TransientError } from '@driftless/common';
import { parse as parseYamlText } from 'yaml';
import { formatBytes } from './limits.ts';

/** User name and password for a chart repository or registry. */
export interface ChartCredentials {
  username: string;
  password: string;
}

/** One chart to fetch: where, which, and how to authenticate. */
export interface ChartRef {
  /** `https://…` Helm repository or `oci://host/path`. */
  repository: string;
  name: string;
  /** Exact version. */
  version: string;
  credentials?: ChartCredentials;
  /** OCI over plain HTTP. */
  plainHttp?: boolean;
}

/** Options of {@link fetchChartArchive}. */
export interface FetchOptions {
  /** Most bytes read per response (index, manifest or package). */
  maxBytes: number;
  /** Per-request limit, in ms. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The HTTP client. Default the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * A chart repository or registry could not be reached or answered an error.
 * Transient: the server may be back on the next try.
 */
export class ChartUnreachableError extends TransientError {
  override name = 'ChartUnreachableError';
}

/** The chart or version does not exist, or the answer is not what a chart source sends. Terminal. */
export class ChartNotFoundError extends TerminalError {
  override name = 'ChartNotFoundError';
}

/** `name@version from repository`, how messages name a chart; never with credentials. */
export function describeChart(ref: Pick<ChartRef, 'repository' | 'name' | 'version'>): string {
  return `chart ${ref.name} ${ref.version} from ${repositoryText(ref.repository)}`;
}

/** `repository/name@version`, where rendered objects of a remote chart say they came from. */
export function chartLocation(ref: Pick<ChartRef, 'repository' | 'name' | 'version'>): string {
  return `${repositoryText(ref.repository)}/${ref.name}@${ref.version}`;
}

/** A chart repository as messages show it: redacted, without a trailing slash. */
const repositoryText = (url: string) => redactUrl(url).replace(/\/+$/, '');

/**
 * Downloads the packaged chart (`.tgz`) of `ref`: from a Helm repository by
 * its `index.yaml` (digest checked when the index gives one), or from an OCI
 * registry by its manifest's chart layer (digest always checked). Basic auth,
 * and the bearer-token exchange registries ask for, use `ref.credentials`.
 */
export async function fetchChartArchive(ref: ChartRef, options: FetchOptions): Promise<Buffer> {
  return ref.repository.startsWith('oci://')
    ? fetchFromRegistry(ref, options)
    : fetchFromRepository(ref, options);
}

interface IndexEntry {
  version?: string;
  urls?: string[];
  digest?: string;
}

async function fetchFromRepository(ref: ChartRef, o: FetchOptions): Promise<Buffer> {
  const what = describeChart(ref);
  const base = `${ref.repository.replace(/\/+$/, '')}/`;
  const auth = basicAuth(ref.credentials);
  const indexText = (await get(new URL('index.yaml', base), what, o, auth)).toString('utf8');
  let index: { entries?: Record<string, IndexEntry[]> };
  try {
    index = (parseYamlText(indexText, { maxAliasCount: 100 }) ?? {}) as typeof index;
  } catch (err) {
    throw new ChartNotFoundError(`${what}: the repository's index.yaml is not YAML`, {
      cause: err,
    });
  }
  const entry = index.entries?.[ref.name]?.find((e) => sameVersion(e.version, ref.version));
  const url = entry?.urls?.[0];
  if (!entry || !url) {
    const known = (index.entries?.[ref.name] ?? []).map((e) => e.version).slice(0, 5);
    throw new ChartNotFoundError(
      `${what}: not in the repository's index${known.length ? ` (it has ${known.join(', ')}${(index.entries?.[ref.name]?.length ?? 0) > 5 ? ', …' : ''})` : ''}`,
    );
  }
  const packageUrl = new URL(url, base);
  // Credentials go only to the repository's own host, as Helm does by default.
  const sameHost = packageUrl.host === new URL(base).host;
  const archive = await get(packageUrl, what, o, sameHost ? auth : undefined);
  if (entry.digest) verifyDigest(archive, `sha256:${entry.digest.replace(/^sha256:/, '')}`, what);
  return archive;
}

async function fetchFromRegistry(ref: ChartRef, o: FetchOptions): Promise<Buffer> {
  const what = describeChart(ref);
  const location = new URL(ref.repository.replace(/^oci:/, ref.plainHttp ? 'http:' : 'https:'));
  const repo = `${location.pathname.replace(/^\/+|\/+$/g, '')}/${ref.name}`.replace(/^\//, '');
  const origin = `${location.protocol}//${location.host}`;
  const session = new RegistrySession(origin, repo, ref.credentials, what, o);
  // OCI tags cannot hold "+": Helm writes it as "_".
  const tag = ref.version.replace(/\+/g, '_');
  const manifestText = await session.get(
    `/v2/${repo}/manifests/${tag}`,
    'application/vnd.oci.image.manifest.v1+json',
  );
  let manifest: { layers?: Array<{ mediaType?: string; digest?: string }> };
  try {
    manifest = JSON.parse(manifestText.toString('utf8')) as typeof manifest;
  } catch (err) {
    throw new ChartNotFoundError(`${what}: the registry's manifest is not JSON`, { cause: err });
  }
  const layer = manifest.layers?.find(
    (l) => l.mediaType === 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  );
  if (!layer?.digest) throw new ChartNotFoundError(`${what}: the artifact holds no Helm chart`);
  const blob = await session.get(`/v2/${repo}/blobs/${layer.digest}`);
  verifyDigest(blob, layer.digest, what);
  return blob;
}

/** A registry conversation: basic auth, or the bearer token a 401 challenge asks for. */
class RegistrySession {
  #authorization: string | undefined;
  readonly #origin: string;
  readonly #repo: string;
  readonly #credentials: ChartCredentials | undefined;
  readonly #what: string;
  readonly #o: FetchOptions;

  constructor(
    origin: string,
    repo: string,
    credentials: ChartCredentials | undefined,
    what: string,
    o: FetchOptions,
  ) {
    this.#origin = origin;
    this.#repo = repo;
    this.#credentials = credentials;
    this.#what = what;
    this.#o = o;
    this.#authorization = basicAuth(credentials);
  }

  async get(path: string, accept?: string): Promise<Buffer> {
    const url = new URL(path, this.#origin);
    try {
      return await get(url, this.#what, this.#o, this.#authorization, accept);
    } catch (err) {
      if (!(err instanceof ChallengeError)) throw err;
      this.#authorization = await this.#token(err.challenge);
      return get(url, this.#what, this.#o, this.#authorization, accept);
    }
  }

  async #token(challenge: string): Promise<string> {
    const params: Record<string, string> = {};
    for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) {
      if (m[1] !== undefined && m[2] !== undefined) params[m[1].toLowerCase()] = m[2];
    }
    if (!/^bearer/i.test(challenge) || !params['realm']) {
      throw new ChartNotFoundError(
        `${this.#what}: the registry refused access${this.#credentials ? ' with the given credentials' : ' and no credentials are set'}`,
      );
    }
    const url = new URL(params['realm']);
    if (params['service']) url.searchParams.set('service', params['service']);
    url.searchParams.set('scope', params['scope'] ?? `repository:${this.#repo}:pull`);
    const body = await get(url, this.#what, this.#o, basicAuth(this.#credentials));
    const token = (JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string })
      .token;
    if (!token) throw new ChartNotFoundError(`${this.#what}: the registry gave no token`);
    return `Bearer ${token}`;
  }
}

class ChallengeError extends Error {
  readonly challenge: string;
  constructor(challenge: string) {
    super('authentication challenge');
    this.challenge = challenge;
  }
}

function basicAuth(c: ChartCredentials | undefined): string | undefined {
  return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
}

/** One GET with a size limit; errors classified, never showing credentials. */
async function get(
  url: URL,
  what: string,
  o: FetchOptions,
  authorization?: string,
  accept?: string,
): Promise<Buffer> {
  const signals = [AbortSignal.timeout(o.timeoutMs), ...(o.signal ? [o.signal] : [])];
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(url, {
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(accept ? { accept } : {}),
      },
      redirect: 'follow',
      signal: AbortSignal.any(signals),
    });
  } catch (err) {
    o.signal?.throwIfAborted();
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new ChartUnreachableError(
      `${what}: ${redactUrl(url.href)} is unreachable (${cause?.code ?? (err as Error).name})`,
      { cause: err },
    );
  }
  // A registry's token challenge; a plain Basic challenge means the credentials were refused.
  const challenge = res.headers.get('www-authenticate') ?? '';
  if (res.status === 401 && /^bearer/i.test(challenge) && !/^Bearer/.test(authorization ?? '')) {
    await res.body?.cancel();
    throw new ChallengeError(challenge);
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new ChartNotFoundError(
      `${what}: ${redactUrl(url.href)} refused access (HTTP ${res.status})${authorization ? '; check the credentials' : '; the app sets no credentials'}`,
    );
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new ChartNotFoundError(`${what}: ${redactUrl(url.href)} not found (HTTP 404)`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new ChartUnreachableError(`${what}: ${redactUrl(url.href)} answered HTTP ${res.status}`);
  }
  return readLimited(res, o.maxBytes, `${what}: ${redactUrl(url.href)}`);
}

async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > max) {
        await res.body.cancel().catch(() => undefined);
        throw new ChartNotFoundError(
          `${what} sent more than ${formatBytes(max)} (--render-max-bytes)`,
        );
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}

function verifyDigest(data: Buffer, digest: string, what: string): void {
  const [algorithm, expected] = digest.split(':');
  if (algorithm !== 'sha256' || !expected) {
    throw new ChartNotFoundError(`${what}: unsupported digest ${digest}`);
  }
  const actual = createHash('sha256').update(data).digest('hex');
  if (actual !== expected) {
    throw new ChartNotFoundError(`${what}: the package does not match its digest`);
  }
}

function sameVersion(a: string | undefined, b: string): boolean {
  return a !== undefined && a.replace(/^v/, '') === b.replace(/^v/, '');
}
