/**
 * Asks a Git server for the sha of one branch in a single HTTP request.
 *
 * Why not just isomorphic-git's `listServerRefs`: over protocol v2 it costs two
 * round trips (capability advertisement, then `ls-refs`), and over v1 one
 * round trip that lists every ref of the repository (on GitHub that includes
 * every pull request). The agent asks this question every poll interval in
 * every cluster, so we send the v2 `ls-refs` command directly: v2 over HTTP is
 * stateless, and `git http-backend` (like the big hosts, which run git behind
 * the same protocol) answers a POST without a prior advertisement. A server
 * that does not understand it gets the two-request path instead, and is
 * remembered so it is not asked again.
 */
import { listServerRefs, type GitHttpResponse, type HttpClient } from 'isomorphic-git';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One pkt-line: 4 hex digits of length (including themselves), then the payload. */
export function pktLine(payload: string): Uint8Array {
  const bytes = encoder.encode(payload);
  return encoder.encode((bytes.length + 4).toString(16).padStart(4, '0') + payload);
}

/** The body of a v2 `ls-refs` request limited to refs starting with `prefix`. */
export function lsRefsRequest(prefix: string): Uint8Array {
  const parts = [
    pktLine('command=ls-refs\n'),
    pktLine('agent=driftless\n'),
    encoder.encode('0001'), // delimiter: capabilities end, arguments follow
    pktLine(`ref-prefix ${prefix}\n`),
    encoder.encode('0000'), // flush: end of request
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Parses an `ls-refs` response into ref name → sha. Returns undefined when the
 * bytes are not a well-formed v2 answer (e.g. a v0 server's error), so the
 * caller can fall back.
 */
export function parseLsRefsResponse(bytes: Uint8Array): Map<string, string> | undefined {
  const refs = new Map<string, string>();
  let at = 0;
  while (at + 4 <= bytes.length) {
    const len = Number.parseInt(decoder.decode(bytes.subarray(at, at + 4)), 16);
    if (Number.isNaN(len)) return undefined;
    if (len === 0) return at + 4 === bytes.length ? refs : undefined; // flush ends the answer
    if (len < 4 || at + len > bytes.length) return undefined;
    const line = decoder.decode(bytes.subarray(at + 4, at + len)).replace(/\n$/, '');
    // `<oid> <refname>[ attributes]`; SHA-1 or SHA-256 object ids.
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) (\S+)/.exec(line);
    if (!m?.[1] || !m[2]) return undefined;
    refs.set(m[2], m[1]);
    at += len;
  }
  return undefined; // no flush: truncated
}

async function readBody(res: GitHttpResponse): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  if (res.body) for await (const chunk of res.body) chunks.push(chunk);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Options of {@link lsRemoteRef}. */
export interface LsRemoteRefOptions {
  http: HttpClient;
  /** Repository URL without credentials. */
  url: string;
  /** Full ref name, e.g. `refs/heads/main`. */
  ref: string;
  /** Sent with every request, e.g. `Authorization`. */
  headers: Record<string, string>;
  /** Skip the single-request form (set once a server has refused it). */
  twoStep?: boolean;
}

/** Result of {@link lsRemoteRef}. */
export interface LsRemoteRefResult {
  /** The sha of the ref, or undefined when the server has no such ref. */
  sha: string | undefined;
  /** True when the single-request form did not work and the server needs the two-step one. */
  twoStep: boolean;
}

/**
 * The sha `ref` points at on the server. Errors (HTTP statuses, network) are
 * thrown as isomorphic-git shapes them, for {@link toGitSourceError}.
 */
export async function lsRemoteRef(options: LsRemoteRefOptions): Promise<LsRemoteRefResult> {
  const { http, url, ref, headers } = options;
  if (!options.twoStep) {
    const res = await http.request({
      method: 'POST',
      url: `${url}/git-upload-pack`,
      headers: {
        ...headers,
        'Content-Type': 'application/x-git-upload-pack-request',
        Accept: 'application/x-git-upload-pack-result',
        'Git-Protocol': 'version=2',
      },
      // The node client sends an array as one buffer with Content-Length,
      // which CGI servers such as git http-backend need.
      body: [lsRefsRequest(ref)] as unknown as AsyncIterableIterator<Uint8Array>,
    });
    const body = await readBody(res);
    if (res.statusCode === 200) {
      const refs = parseLsRefsResponse(body);
      if (refs) return { sha: refs.get(ref), twoStep: false };
    } else if (res.statusCode === 401 || res.statusCode === 403 || res.statusCode >= 500) {
      // The same status would come back from the two-step path: report it now.
      throw Object.assign(new Error(`HTTP Error: ${res.statusCode} ${res.statusMessage}`), {
        code: 'HttpError',
        data: { statusCode: res.statusCode, statusMessage: res.statusMessage, response: '' },
      });
    }
  }
  const refs = await listServerRefs({
    http,
    url,
    headers: { ...headers },
    protocolVersion: 2,
    prefix: ref,
  });
  return { sha: refs.find((r) => r.ref === ref)?.oid, twoStep: true };
}
