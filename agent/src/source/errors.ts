/**
 * The errors of the Git source, each classified the way the poll loop needs:
 * a wrong password or a missing branch cannot fix itself (terminal: report and
 * wait for the next poll or a config change), an unreachable server can
 * (transient: retry with backoff).
 *
 * Messages name the repository by common's `redactUrl` — never with credentials —
 * and the branch, so a person can act on them.
 */
import { CODE_CLASSES, classify, TerminalError, TransientError } from '@driftless/common';

/** Where an error happened: the repository (already without credentials) and branch. */
export interface GitLocation {
  url: string;
  branch: string;
}

/** The server refused our credentials (401) or denied access (403). Terminal. */
export class GitAuthError extends TerminalError {
  override name = 'GitAuthError';
  /** The repository, without credentials. */
  readonly url: string;
  /** HTTP status: 401 or 403. */
  readonly status: number;

  constructor(where: GitLocation, status: number, hasCredentials: boolean, cause?: unknown) {
    const why =
      status === 403
        ? 'access denied (HTTP 403): the credentials are valid but may not read this repository'
        : hasCredentials
          ? 'authentication failed (HTTP 401): check the user name and password or token'
          : 'authentication required (HTTP 401) and no credentials are configured';
    super(`git ${where.url}: ${why}`, { cause });
    this.url = where.url;
    this.status = status;
  }
}

/** The repository or the branch does not exist on the server. Terminal. */
export class GitNotFoundError extends TerminalError {
  override name = 'GitNotFoundError';
  /** The repository, without credentials. */
  readonly url: string;
  /** The branch asked for. */
  readonly branch: string;
  /** What is missing. */
  readonly missing: 'repository' | 'branch';

  constructor(where: GitLocation, missing: 'repository' | 'branch', cause?: unknown) {
    super(
      missing === 'branch'
        ? `git ${where.url}: branch "${where.branch}" not found`
        : `git ${where.url}: repository not found (HTTP 404)`,
      { cause },
    );
    this.url = where.url;
    this.branch = where.branch;
    this.missing = missing;
  }
}

/**
 * The server could not be reached or failed (network error, 5xx, 429), or the
 * fetch broke off midway. Transient.
 */
export class GitUnavailableError extends TransientError {
  override name = 'GitUnavailableError';
  /** The repository, without credentials. */
  readonly url: string;

  constructor(where: GitLocation, detail: string, cause?: unknown) {
    super(`git ${where.url}: ${detail}`, { cause });
    this.url = where.url;
  }
}

/** The server answered something that is not Git (e.g. an HTML login page). Terminal. */
export class GitProtocolError extends TerminalError {
  override name = 'GitProtocolError';
  /** The repository, without credentials. */
  readonly url: string;

  constructor(where: GitLocation, detail: string, cause?: unknown) {
    super(`git ${where.url}: ${detail}`, { cause });
    this.url = where.url;
  }
}

/** A path given to {@link resolveInCheckout} would leave the checkout. Terminal. */
export class PathOutsideCheckoutError extends TerminalError {
  override name = 'PathOutsideCheckoutError';
  /** The path as given. */
  readonly path: string;

  constructor(path: string) {
    super(`path ${JSON.stringify(path)} is outside the repository checkout`);
    this.path = path;
  }
}

/** A path asked for is not in the checked-out revision. Terminal: only a new commit helps. */
export class PathNotFoundError extends TerminalError {
  override name = 'PathNotFoundError';
  /** The path as given, relative to the repository root. */
  readonly path: string;
  /** The revision that lacks it. */
  readonly revision: string;

  /**
   * `cause` is the file-system error; only its code is kept, so no message
   * names the checkout's absolute path (the agent's own work directory).
   */
  constructor(path: string, revision: string, cause?: unknown) {
    const code = (cause as { code?: unknown } | undefined)?.code;
    const why = typeof code === 'string' && code !== 'ENOENT' && code !== 'ENOTDIR' ? code : '';
    super(
      `${path} not found at ${revision.slice(0, 7)}`,
      why ? { cause: Object.assign(new Error(why), { code: why }) } : {},
    );
    this.path = path;
    this.revision = revision;
  }
}

/**
 * A fetched commit holds what a checkout must not: an entry named `..`, `.git` or with a
 * slash, or two entries of one name (Git itself never writes those), a file or a whole tree
 * larger than the agent's limits, or the pack cannot be read. Thrown by the pack check and
 * the checkout writer; {@link toGitSourceError} makes it a terminal {@link GitProtocolError},
 * since only a new commit helps.
 */
export class UnsafeTreeError extends Error {
  override name = 'UnsafeTreeError';
}

/** Every error the Git source raises. */
export type GitSourceError =
  | GitAuthError
  | GitNotFoundError
  | GitUnavailableError
  | GitProtocolError
  | PathOutsideCheckoutError
  | PathNotFoundError;

/**
 * Turns whatever isomorphic-git, the HTTP client or the file system threw into
 * one of our typed errors, chosen by what the one classifier in common says of
 * the server's answer. Unknown failures are transient: most are a truncated
 * pack or a full disk, which may well pass.
 */
export function toGitSourceError(
  err: unknown,
  where: GitLocation,
  options: { hasCredentials: boolean },
): GitSourceError | TerminalError | TransientError {
  if (err instanceof TerminalError || err instanceof TransientError) return err;
  if (err instanceof UnsafeTreeError) return new GitProtocolError(where, err.message, err);
  const e = err as { code?: unknown; data?: { statusCode?: unknown }; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code === 'HttpError' && typeof e?.data?.statusCode === 'number') {
    const status = e.data.statusCode;
    if (status === 401 || status === 403) {
      return new GitAuthError(where, status, options.hasCredentials, err);
    }
    if (status === 404) return new GitNotFoundError(where, 'repository', err);
    if (classify(err) !== 'terminal') {
      return new GitUnavailableError(where, `server error (HTTP ${status})`, err);
    }
    return new GitProtocolError(where, `unexpected HTTP ${status}`, err);
  }
  if (code === 'SmartHttpError') {
    return new GitProtocolError(where, 'the server did not answer as a Git smart-HTTP server', err);
  }
  if (code === 'UrlParseError' || code === 'UnknownTransportError') {
    return new GitProtocolError(where, 'not an http(s) Git URL', err);
  }
  if (code !== undefined && CODE_CLASSES[code]?.[0] === 'transient') {
    return new GitUnavailableError(where, `unreachable (${code})`, err);
  }
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return new GitUnavailableError(where, `fetch failed: ${message}`, err);
}
