/**
 * The one way the hub sends HTTP requests to addresses people configure (notification
 * destinations, Git commit-status hosts): only to public addresses unless the operator allows
 * more (`--allow-private-destinations`), checked on the address each connection is actually
 * made to (a name that resolved to a public address when it was saved and to 127.0.0.1 now —
 * DNS rebinding — is refused), never following redirects.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { TerminalError } from '@driftless/common';
import { AllowList, nonPublicReason, normaliseHostName, parseIp } from './address.ts';

/** Resolves a host name to every address it has (A and AAAA). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** Options of {@link OutboundGuard}; see {@link OUTBOUND_DEFAULTS}. */
export interface OutboundOptions {
  /** `--allow-private-destinations`: ranges, addresses and host names allowed although not public. */
  allow?: readonly string[];
  /** Resolves host names at connect time and in {@link OutboundGuard.check}; default the system resolver. */
  resolve?: Resolver;
  /** How long connecting (lookup, TCP, TLS) may take, ms. */
  connectTimeoutMs?: number;
}

/** Defaults of {@link OutboundOptions}: nothing but public addresses. */
export const OUTBOUND_DEFAULTS = {
  allow: [] as readonly string[],
  resolve: systemResolve,
  connectTimeoutMs: 10_000,
};

/** The flag that allows more, named in every refusal. */
export const ALLOW_FLAG = '--allow-private-destinations';

/** A request as {@link OutboundGuard.fetch} sends it. */
export interface OutboundRequest {
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/**
 * The hub refused to send to a destination: its URL is not http(s), or its host is (or
 * resolves to) an address that is not public and not allowed. Terminal: retrying cannot help
 * until the URL or the hub's flags change. The message names the destination and the reason,
 * never the URL (it may be a secret).
 */
export class ForbiddenDestinationError extends TerminalError {
  override name = 'ForbiddenDestinationError';
}

/** What the connect-time lookup throws; {@link OutboundGuard.fetch} names the destination. */
class ForbiddenAddressError extends TerminalError {
  override name = 'ForbiddenAddressError';
}

function systemResolve(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, order: 'verbatim' }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );
}

/** Resolves and guards outgoing requests; one per hub, shared by every sender. */
export class OutboundGuard {
  readonly #allow: AllowList;
  readonly #resolve: Resolver;
  readonly #agent: Agent;

  /** Throws AllowListError for an `allow` entry that is no range, address or host name. */
  constructor(options: OutboundOptions = {}) {
    const o = { ...OUTBOUND_DEFAULTS, ...definedOnly(options) };
    this.#allow = new AllowList(o.allow);
    this.#resolve = o.resolve;
    const lookup: LookupFunction = (hostname, opts, callback) => {
      this.#addresses(hostname, opts.family).then(
        (list) => {
          if (opts.all) callback(null, list);
          else callback(null, list[0]!.address, list[0]!.family);
        },
        (err: NodeJS.ErrnoException) => callback(err, '', 0),
      );
    };
    this.#agent = new Agent({ connect: { lookup, timeout: o.connectTimeoutMs } });
  }

  /** The allow list's entries, for the startup log. */
  get allowed(): readonly string[] {
    return this.#allow.entries;
  }

  /**
   * Checks a URL when it is configured: http(s), and its host an allowed address, or a name
   * that resolves (now) only to allowed addresses. A name that does not resolve now passes
   * (the send will tell); every connection is checked again. Throws
   * {@link ForbiddenDestinationError} naming `what`.
   */
  async check(what: string, url: string): Promise<void> {
    const hostname = this.#hostOf(what, url);
    if (parseIp(hostname) || this.#allow.allowsHost(hostname)) return;
    try {
      await this.#addresses(hostname);
    } catch (err) {
      if (err instanceof ForbiddenAddressError)
        throw new ForbiddenDestinationError(`${what}: ${err.message}`);
    }
  }

  /**
   * Sends one request to `url` and returns the answer, whatever its status; a redirect is
   * returned as it is, not followed. Throws {@link ForbiddenDestinationError} (naming `what`)
   * when the URL or the address connected to is not allowed, and the client's error when the
   * destination cannot be reached.
   */
  async fetch(what: string, url: string, req: OutboundRequest): Promise<Response> {
    this.#hostOf(what, url);
    try {
      return await undiciFetch(url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        redirect: 'manual',
        dispatcher: this.#agent,
      });
    } catch (err) {
      const forbidden = findForbidden(err);
      if (forbidden) throw new ForbiddenDestinationError(`${what}: ${forbidden.message}`);
      throw err;
    }
  }

  /** Closes idle connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  /**
   * The URL's host; throws when the URL is not http(s), holds credentials or its host is a
   * forbidden IP literal.
   */
  #hostOf(what: string, url: string): string {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ForbiddenDestinationError(`${what}: the URL is not a valid URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new ForbiddenDestinationError(`${what}: use an http or https URL, not ${u.protocol}`);
    // The HTTP client would refuse it with the whole URL, credentials included, in its message.
    if (u.username || u.password)
      throw new ForbiddenDestinationError(
        `${what}: the URL holds a user name or password; give it without them (the hub sends no credentials from a URL)`,
      );
    const hostname = u.hostname.replace(/^\[|\]$/g, '');
    const ip = parseIp(hostname);
    if (ip) {
      const why = nonPublicReason(ip);
      if (why && !this.#allow.allowsAddress(ip))
        throw new ForbiddenDestinationError(`${what}: ${refusal(`${hostname} is ${why}`)}`);
    }
    return hostname;
  }

  /**
   * Every address `hostname` resolves to (of `family` when 4 or 6), when each is allowed:
   * one forbidden address refuses the name, so a name cannot mix a public address with an
   * internal one.
   */
  async #addresses(hostname: string, family?: number | string): Promise<LookupAddress[]> {
    const all = await this.#resolve(hostname);
    const list = family === 4 || family === 6 ? all.filter((a) => a.family === family) : all;
    if (list.length === 0) {
      const err = new Error(`getaddrinfo ENOTFOUND ${hostname}`) as NodeJS.ErrnoException;
      err.code = 'ENOTFOUND';
      throw err;
    }
    if (this.#allow.allowsHost(hostname)) return list;
    for (const a of all) {
      const why = nonPublicReason(a.address);
      if (why && !this.#allow.allowsAddress(a.address))
        throw new ForbiddenAddressError(
          refusal(`host ${normaliseHostName(hostname)} resolves to ${a.address}, ${why}`),
        );
    }
    return list;
  }
}

function refusal(detail: string): string {
  return `refused: ${detail}; the hub sends only to public addresses unless ${ALLOW_FLAG} allows it`;
}

/** The {@link ForbiddenAddressError} in an error's chain of causes (or aggregate), if any. */
function findForbidden(err: unknown, depth = 0): ForbiddenAddressError | undefined {
  if (err instanceof ForbiddenAddressError) return err;
  if (typeof err !== 'object' || err === null || depth > 8) return undefined;
  if (err instanceof AggregateError)
    for (const e of err.errors) {
      const found = findForbidden(e, depth + 1);
      if (found) return found;
    }
  return findForbidden((err as { cause?: unknown }).cause, depth + 1);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
