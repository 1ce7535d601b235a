import { errorMessage, TransientError } from '@driftless/common';

/**
 * The hub answered with an error status; `message` is the hub's own explanation. Classified
 * by its status (common's `classify`): a 4xx is the request's fault, a 502/503/504 (a hub
 * restarting, its database away) passes.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  /** HTTP status. */
  readonly status: number;
  constructor(message: string, options: { status: number; cause?: unknown }) {
    super(message, options);
    this.status = options.status;
  }
}

/** The hub could not be reached at all. */
export class HubUnreachableError extends TransientError {
  override name = 'HubUnreachableError';
}

/** How long one API call may take, ms. */
const REQUEST_TIMEOUT_MS = 30_000;

/** A small client of the hub's HTTP API (see docs/api.md). */
export class HubClient {
  readonly #base: string;
  readonly #token: string;

  /** `base` is the hub's HTTP URL (e.g. http://hub:7080); `token` an API token. */
  constructor(options: { base: string; token: string }) {
    this.#base = options.base.replace(/\/+$/, '');
    this.#token = options.token;
  }

  /** The hub's base URL, without a trailing slash. */
  get base(): string {
    return this.#base;
  }

  /** Calls `method path` with an optional JSON body and returns the parsed JSON answer. */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#fetch(method, path, {
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    return this.#parse<T>(method, path, res, text);
  }

  /**
   * Opens `GET path` as a stream (server-sent events): resolves with the response once the
   * hub answered 2xx; ApiError or HubUnreachableError as for {@link call} otherwise.
   */
  async stream(path: string, options: { headers?: Record<string, string>; signal?: AbortSignal }) {
    const res = await this.#fetch('GET', path, {
      headers: { accept: 'text/event-stream', ...options.headers },
      signal: options.signal,
    });
    if (!res.ok) this.#parse('GET', path, res, await res.text());
    return res;
  }

  async #fetch(
    method: string,
    path: string,
    o: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal | undefined },
  ): Promise<Response> {
    try {
      return await fetch(this.#base + path, {
        method,
        headers: {
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...o.headers,
        },
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (err) {
      if (
        o.signal?.aborted &&
        !(o.signal.reason instanceof DOMException && o.signal.reason.name === 'TimeoutError')
      )
        throw err;
      throw new HubUnreachableError(
        `cannot reach the hub at ${this.#base}: ${errorMessage(err)} (set --hub or DRIFTLESS_HUB)`,
        { cause: err },
      );
    }
  }

  #parse<T>(method: string, path: string, res: Response, text: string): T {
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const message =
        (parsed as { error?: { message?: string } } | undefined)?.error?.message ??
        `${res.status} ${res.statusText}`;
      const hint = res.status === 401 ? ' (give an API token with --token or DRIFTLESS_TOKEN)' : '';
      throw new ApiError(`${method} ${path}: ${message}${hint}`, { status: res.status });
    }
    return parsed as T;
  }
}
