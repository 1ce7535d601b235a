import { errorMessage, TerminalError, TransientError } from '@driftless/common';

/** The hub answered with an error status; `message` is the hub's own explanation. */
export class ApiError extends TerminalError {
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

/** A small client of the hub's HTTP API (see docs/api.md). */
export class HubClient {
  readonly #base: string;
  readonly #token: string;

  /** `base` is the hub's HTTP URL (e.g. http://hub:7080); `token` an API token. */
  constructor(options: { base: string; token: string }) {
    this.#base = options.base.replace(/\/+$/, '');
    this.#token = options.token;
  }

  /** Calls `method path` with an optional JSON body and returns the parsed JSON answer. */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.#base + path, {
        method,
        headers: {
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new HubUnreachableError(
        `cannot reach the hub at ${this.#base}: ${errorMessage(err)} (set --hub or DRIFTLESS_HUB)`,
        { cause: err },
      );
    }
    const text = await res.text();
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
