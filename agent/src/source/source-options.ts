/** What a {@link GitSource} is given, what it returns, and its options once resolved. */
import { resolve } from 'node:path';
import type { HttpClient } from 'isomorphic-git';
import * as nodeHttp from 'isomorphic-git/http/node';
import {
  redactUrl,
  systemClock,
  type Clock,
  type DriftlessError,
  type Logger,
} from '@driftless/common';
import { DEFAULT_MAX_FETCH_BYTES, limitResponses } from './response-limit.ts';

/** Basic-auth credentials for the repository; a token goes in `password`. */
export interface GitAuth {
  username: string;
  password: string;
}

/** Options of {@link GitSource}. */
export interface GitSourceOptions {
  /**
   * Repository URL, `http(s)://…`. Credentials embedded in it are moved to
   * `auth` (unless `auth` is given) and never shown or stored on disk.
   */
  url: string;
  /** Branch to follow. */
  branch: string;
  /** Work directory for checkouts; created if missing and reused across restarts. */
  dir: string;
  /** Credentials sent with every request. Default none. */
  auth?: GitAuth;
  /** Measures how long a sync took. Default the system clock. */
  clock?: Clock;
  /** Where progress and fallbacks are logged. Default silent. */
  logger?: Logger;
  /** The HTTP transport. Default isomorphic-git's Node client. */
  http?: HttpClient;
  /** Complete checkouts kept on disk, the current one included; at least 1. Default 2. */
  keepCheckouts?: number;
  /**
   * A request whose connection stays silent this long fails (transient), so a
   * server that stops answering cannot hang a sync. It bounds silence, not
   * the whole fetch; bound that with the AbortSignal. Default 60 s.
   */
  idleTimeoutMs?: number;
  /**
   * Most response bytes read for one ref lookup or one clone; past it the
   * fetch fails with a {@link GitResponseTooLargeError}, so a hostile or broken
   * server streaming an endless answer cannot exhaust the agent's memory.
   * Default {@link DEFAULT_MAX_FETCH_BYTES} (512 MiB).
   */
  maxFetchBytes?: number;
  /**
   * Most bytes one checkout writes to disk (each file and folder counted as at least 4 KiB);
   * past it the sync fails, terminally. Git compresses and stores a blob once however often
   * a tree names it, so a small fetch can name far more files than a disk holds. Default
   * {@link CHECKOUT_BYTES_PER_FETCH_BYTE} times `maxFetchBytes` (2 GiB).
   */
  maxCheckoutBytes?: number;
  /**
   * Most bytes one object (a file) of a fetched commit may inflate to, checked before it is
   * inflated for keeps: a pack of kilobytes can hold gigabytes of zeros, which the agent
   * would otherwise inflate in memory. Past it the sync fails, terminally. Default an eighth
   * of `maxFetchBytes` (64 MiB).
   */
  maxObjectBytes?: number;
  /**
   * Checks a revision before it becomes current (commit signatures, see
   * verify.ts); when it throws, the last checkout that passed stays current
   * and the error is returned with it. Default none.
   */
  verify?: (checkout: Checkout) => Promise<unknown>;
}

/** A checkout on disk. */
export interface Checkout {
  /** The commit sha checked out. */
  revision: string;
  /** Absolute path of its working tree. */
  dir: string;
}

/** Result of {@link GitSource.sync}. */
export interface SyncResult extends Checkout {
  /** True when this call moved the current checkout to another revision (always on a first clone). */
  changed: boolean;
  /** True when Git could not be asked or fetched from, and this is the last good checkout. */
  fromCache: boolean;
  /** Why Git failed, when `fromCache`; classified (see errors.ts). */
  error?: DriftlessError;
  /** How long the call took. */
  durationMs: number;
  /** How long each step took, in ms: the head lookup, the clone, the signature check. */
  phases: SyncPhases;
}

/** Where the time of one {@link GitSource.sync} went, in ms; a step that did not run is 0. */
export interface SyncPhases {
  /** Asking the server for the branch head (`ls-refs`). */
  lsRefsMs: number;
  /** Fetching the commit's tree and writing it out. */
  cloneMs: number;
  /** Checking the commit's signature. */
  verifyMs: number;
}

/** Compiled options: credentials out of the URL, defaults applied. */
export interface Resolved {
  url: string;
  display: string;
  branch: string;
  dir: string;
  headers: Record<string, string>;
  hasCredentials: boolean;
  clock: Clock;
  logger: Logger | undefined;
  http: HttpClient;
  keep: number;
  idleTimeoutMs: number;
  maxFetchBytes: number;
  maxCheckoutBytes: number;
  maxObjectBytes: number;
  verify: GitSourceOptions['verify'];
}

/** Default of {@link GitSourceOptions.maxCheckoutBytes}, per byte of `maxFetchBytes`. */
export const CHECKOUT_BYTES_PER_FETCH_BYTE = 4;

export function resolveOptions(o: GitSourceOptions): Resolved {
  let url = o.url;
  let auth = o.auth;
  try {
    const u = new URL(o.url);
    if (u.username || u.password) {
      auth ??= {
        username: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
      };
      u.username = '';
      u.password = '';
      url = u.href;
    }
  } catch {
    // Left as is: isomorphic-git reports a bad URL, and redactUrl hides it.
  }
  url = url.replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  // Sent up front rather than after a 401 challenge: that would double the
  // requests of every poll.
  if (auth) {
    const basic = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
    headers['Authorization'] = `Basic ${basic}`;
  }
  return {
    url,
    display: redactUrl(url),
    branch: o.branch,
    dir: resolve(o.dir),
    headers,
    hasCredentials: auth !== undefined,
    clock: o.clock ?? systemClock,
    logger: o.logger,
    http: o.http ?? nodeHttp,
    keep: Math.max(1, o.keepCheckouts ?? 2),
    idleTimeoutMs: o.idleTimeoutMs ?? 60_000,
    maxFetchBytes: o.maxFetchBytes ?? DEFAULT_MAX_FETCH_BYTES,
    maxCheckoutBytes:
      o.maxCheckoutBytes ??
      CHECKOUT_BYTES_PER_FETCH_BYTE * (o.maxFetchBytes ?? DEFAULT_MAX_FETCH_BYTES),
    maxObjectBytes:
      o.maxObjectBytes ?? Math.floor((o.maxFetchBytes ?? DEFAULT_MAX_FETCH_BYTES) / 8),
    verify: o.verify,
  };
}

/**
 * The transport of one operation: every request carries the operation's abort
 * signal (isomorphic-git's clone takes none) and the idle timeout, which the
 * Node client applies to the socket.
 */
export function transport(o: Resolved, signal: AbortSignal | undefined): HttpClient {
  const base: HttpClient = {
    request: (req) =>
      o.http.request({
        ...req,
        signal,
        fetchOptions: { ...(req.fetchOptions as object | undefined), timeout: o.idleTimeoutMs },
      }),
  };
  return limitResponses(base, o.maxFetchBytes, o.display);
}
