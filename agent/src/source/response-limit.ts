import type { GitHttpResponse, HttpClient } from 'isomorphic-git';
import { TerminalError } from '@driftless/common';

/** Default of {@link GitSourceOptions.maxFetchBytes}: 512 MiB. */
export const DEFAULT_MAX_FETCH_BYTES = 512 * 1024 * 1024;

/**
 * The Git server sent more than the agent reads for one fetch. Terminal: an
 * endless or oversized answer does not shrink on retry; the operator raises
 * `--git-max-fetch-bytes` or the repository is slimmed down.
 */
export class GitResponseTooLargeError extends TerminalError {
  override name = 'GitResponseTooLargeError';
  /** The limit that was passed, in bytes. */
  readonly limit: number;

  constructor(url: string, limit: number) {
    super(
      `git ${url}: the server sent more than ${Math.round(limit / 1024 / 1024)} MiB for one fetch; refusing to read more (raise --git-max-fetch-bytes if the repository is really this large)`,
    );
    this.limit = limit;
  }
}

/**
 * Wraps a transport so that all responses of one operation (every request of
 * one ref lookup or one clone) together yield at most `limit` body bytes;
 * past it the body stops with {@link GitResponseTooLargeError} and the
 * underlying stream is closed, so the agent never buffers an endless answer.
 */
export function limitResponses(http: HttpClient, limit: number, url: string): HttpClient {
  let used = 0;
  return {
    request: async (req) => {
      const res = await http.request(req);
      if (!res.body) return res;
      const body = res.body;
      const limited = async function* (): AsyncGenerator<Uint8Array> {
        const it = body[Symbol.asyncIterator]();
        try {
          for (;;) {
            const next = await it.next();
            if (next.done) return;
            used += next.value.length;
            if (used > limit) throw new GitResponseTooLargeError(url, limit);
            yield next.value;
          }
        } finally {
          await it.return?.();
        }
      };
      return { ...res, body: limited() } satisfies GitHttpResponse;
    },
  };
}
