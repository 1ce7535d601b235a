/**
 * The wire pieces shared by the agent's Git protocol v2 requests (`ls-refs`, `fetch`): pkt-line
 * framing and one stateless POST to `git-upload-pack`, as described in Git's
 * gitprotocol-v2 and gitprotocol-http documentation.
 */
import type { GitHttpResponse, HttpClient } from 'isomorphic-git';

const encoder = new TextEncoder();

/** One pkt-line: 4 hex digits of length (including themselves), then the payload. */
export function pktLine(payload: string): Uint8Array {
  const bytes = encoder.encode(payload);
  return encoder.encode((bytes.length + 4).toString(16).padStart(4, '0') + payload);
}

/** A v2 command request: `command=<name>`, our agent line, a delimiter, the arguments, a flush. */
export function commandRequest(name: string, args: readonly string[]): Uint8Array {
  return concat([
    pktLine(`command=${name}\n`),
    pktLine('agent=driftless\n'),
    encoder.encode('0001'), // delimiter: capabilities end, arguments follow
    ...args.map((a) => pktLine(`${a}\n`)),
    encoder.encode('0000'), // flush: end of request
  ]);
}

/** The bytes of `parts`, one after another. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The status and whole body of one v2 request POSTed to `<url>/git-upload-pack`. */
export async function postUploadPack(
  http: HttpClient,
  url: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<{ res: GitHttpResponse; body: Uint8Array }> {
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
    body: [body] as unknown as AsyncIterableIterator<Uint8Array>,
  });
  const chunks: Uint8Array[] = [];
  if (res.body) for await (const chunk of res.body) chunks.push(chunk);
  return { res, body: concat(chunks) };
}

/** An HTTP status shaped as isomorphic-git throws it, for toGitSourceError. */
export function httpStatusError(res: GitHttpResponse): Error {
  return Object.assign(new Error(`HTTP Error: ${res.statusCode} ${res.statusMessage}`), {
    code: 'HttpError',
    data: { statusCode: res.statusCode, statusMessage: res.statusMessage, response: '' },
  });
}
