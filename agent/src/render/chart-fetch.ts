import { createHash } from 'node:crypto';
import { redactUrl, TerminalError, TransientError } from '@driftless/common';
import type { GitHttpResponse, HttpClient } from 'isomorphic-git';
import * as nodeHttp from 'isomorphic-git/http/node';
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
  /**
   * The HTTP client: default isomorphic-git's Node client, the one the Git
   * source uses. Not the global `fetch`: its HTTP parser is WebAssembly, which
   * the agent image's `node --lite-mode` turns off. It follows redirects and
   * drops `authorization` when one leaves the origin.
   */
  http?: HttpClient;
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
  let index: { entries?: Record<string, unknown> };
  try {
    index = (parseYamlText(indexText, { maxAliasCount: 100 }) ?? {}) as typeof index;
  } catch (err) {
    throw new ChartNotFoundError(`${what}: the repository's index.yaml is not YAML`, {
      cause: err,
    });
  }
  // The index is the server's: any shape, so nothing in it is taken on trust.
  const listed = Object.hasOwn(index.entries ?? {}, ref.name) ? index.entries?.[ref.name] : [];
  const versions: IndexEntry[] = Array.isArray(listed)
    ? listed.filter((e): e is IndexEntry => typeof e === 'object' && e !== null)
    : [];
  const entry = versions.find((e) => sameVersion(e.version, ref.version));
  const url = Array.isArray(entry?.urls) ? (entry.urls[0] as unknown) : undefined;
  if (!entry || typeof url !== 'string') {
    const known = versions.map((e) => String(e.version)).slice(0, 5);
    throw new ChartNotFoundError(
      `${what}: not in the repository's index${known.length ? ` (it has ${known.join(', ')}${versions.length > 5 ? ', …' : ''})` : ''}`,
    );
  }
  if (entry.digest !== undefined && typeof entry.digest !== 'string') {
    throw new ChartNotFoundError(`${what}: the repository's index gives a digest that is not text`);
  }
  const packageUrl = new URL(url, base);
  // Credentials go only to the repository's own origin (scheme, host and port), as on a
  // redirect: an index that lists its packages over plain HTTP must not get them sent in clear.
  const sameOrigin = packageUrl.origin === new URL(base).origin;
  const archive = await get(packageUrl, what, o, sameOrigin ? auth : undefined);
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
    const url = URL.parse(params['realm']);
    if (url?.protocol !== 'https:' && url?.protocol !== 'http:') {
      throw new ChartNotFoundError(
        `${this.#what}: the registry's token service ${JSON.stringify(params['realm'].slice(0, 200))} is not an http(s) URL`,
      );
    }
    // The credentials go to the token service: never in clear when the registry itself is HTTPS.
    if (this.#credentials && url.protocol === 'http:' && this.#origin.startsWith('https:')) {
      throw new ChartNotFoundError(
        `${this.#what}: the registry sends the credentials to a token service over plain HTTP (${redactUrl(url.origin)}); refused`,
      );
    }
    if (params['service']) url.searchParams.set('service', params['service']);
    url.searchParams.set('scope', params['scope'] ?? `repository:${this.#repo}:pull`);
    const body = await get(url, this.#what, this.#o, basicAuth(this.#credentials));
    let answer: unknown;
    try {
      answer = JSON.parse(body.toString('utf8'));
    } catch {
      answer = undefined;
    }
    // The token spec names it `token`; OAuth2-style services send `access_token`.
    const given = answer as { token?: unknown; access_token?: unknown } | null | undefined;
    const token = given?.token ?? given?.access_token;
    if (typeof token !== 'string' || !token) {
      throw new ChartNotFoundError(`${this.#what}: the registry's token service gave no token`);
    }
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
  const where = `${what}: ${redactUrl(url.href)}`;
  const signal = AbortSignal.any([
    AbortSignal.timeout(o.timeoutMs),
    ...(o.signal ? [o.signal] : []),
  ]);
  const unreachable = (err: unknown): never => {
    o.signal?.throwIfAborted();
    const reason = signal.aborted
      ? `no answer within ${o.timeoutMs / 1000} s`
      : ((err as { code?: string }).code ?? (err as Error).name);
    throw new ChartUnreachableError(`${where} is unreachable (${reason})`, { cause: err });
  };
  let res: GitHttpResponse;
  try {
    res = await (o.http ?? nodeHttp).request({
      url: url.href,
      method: 'GET',
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(accept ? { accept } : {}),
      },
      signal,
    });
  } catch (err) {
    return unreachable(err);
  }
  const status = res.statusCode;
  if (status < 200 || status > 299) {
    // Not read: closing it frees the connection.
    await res.body?.return?.();
    // A registry's token challenge; a plain Basic challenge means the credentials were refused.
    const challenge = res.headers?.['www-authenticate'] ?? '';
    if (status === 401 && /^bearer/i.test(challenge) && !/^Bearer/.test(authorization ?? '')) {
      throw new ChallengeError(challenge);
    }
    if (status === 401 || status === 403) {
      throw new ChartNotFoundError(
        `${where} refused access (HTTP ${status})${authorization ? '; check the credentials' : '; the app sets no credentials'}`,
      );
    }
    if (status === 404) throw new ChartNotFoundError(`${where} not found (HTTP 404)`);
    throw new ChartUnreachableError(`${where} answered HTTP ${status}`);
  }
  try {
    return await readLimited(res.body, o.maxBytes, where);
  } catch (err) {
    if (err instanceof ChartNotFoundError) throw err;
    return unreachable(err);
  }
}

async function readLimited(
  body: AsyncIterableIterator<Uint8Array> | undefined,
  max: number,
  what: string,
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (!body) return Buffer.alloc(0);
  try {
    for (;;) {
      const next = await body.next();
      if (next.done) break;
      size += next.value.length;
      if (size > max) {
        throw new ChartNotFoundError(
          `${what} sent more than ${formatBytes(max)} (--render-max-bytes)`,
        );
      }
      chunks.push(next.value);
    }
  } finally {
    // Stops a body left unread (too large, aborted) and frees its connection.
    await body.return?.();
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

function sameVersion(a: unknown, b: string): boolean {
  return typeof a === 'string' && a.replace(/^v/, '') === b.replace(/^v/, '');
}
