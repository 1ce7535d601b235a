/**
 * Over 400 lines on purpose: the checkout's life (fetch into incoming/, swap, sweep, fall
 * back to the last good copy) is one state machine that reads best in one place.
 *
 * The first step of every reconcile: make the desired state of one
 * `repo@branch` available on local disk, as cheaply as possible and without
 * ever losing the last good copy.
 *
 * Work directory layout (one GitSource per directory):
 * ```
 * <dir>/current.json          which checkout is current, for which url and branch
 * <dir>/checkouts/<sha>/      complete checkouts; only ever renamed into place whole
 * <dir>/incoming/<random>/    a fetch in progress; swept before each sync
 * ```
 * A new revision is fetched (shallow, that commit only) into `incoming/`, then
 * renamed into `checkouts/`, then `current.json` is replaced by rename. Each
 * step is atomic on one file system, so a failure or a crash at any point
 * leaves the previous checkout intact and current. The previous checkout is
 * kept on disk so a render still reading it is not pulled from under its feet.
 *
 * No timers live here: the poll loop (and refresh hints from the hub) decide
 * when to call {@link GitSource.sync}, and bound each call with an
 * AbortSignal, so this class is tested without waiting.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clone, resolveRef } from 'isomorphic-git';
import { errorMessage } from '@driftless/common';
import { resolveInCheckout } from './checkout-path.ts';
import { GitNotFoundError, toGitSourceError, type GitLocation } from './errors.ts';
import { checkoutCommit, fetchCommit, FetchProtocolError } from './fetch-v2.ts';
import { lsRemoteRef } from './ls-refs.ts';
import { checkingUploadPacks } from './pack-check.ts';
import {
  resolveOptions,
  transport,
  type Checkout,
  type GitSourceOptions,
  type Resolved,
  type SyncPhases,
  type SyncResult,
} from './source-options.ts';

export type {
  Checkout,
  GitAuth,
  GitSourceOptions,
  SyncPhases,
  SyncResult,
} from './source-options.ts';
export { resolveInCheckout } from './checkout-path.ts';

/** The pointer file; written whole by rename. */
interface CurrentFile {
  url: string;
  branch: string;
  revision: string;
}

const CURRENT = 'current.json';
const CHECKOUTS = 'checkouts';
const INCOMING = 'incoming';

/**
 * One repository branch kept checked out on disk. Calls to {@link sync} do not
 * overlap: a call made while one runs gets the running one's result.
 */
export class GitSource {
  readonly #o: Resolved;
  /** The current checkout; undefined before the first load or clone. */
  #current: Checkout | undefined;
  #loaded = false;
  #running: Promise<SyncResult> | undefined;
  /** Set once the server has refused the one-request ref lookup. */
  #twoStep = false;
  /** Set once the server has refused the one-request fetch: isomorphic-git's clone from then on. */
  #v1Fetch = false;
  /** The removal of old checkouts after the last switch, done off the sync's path. */
  #tidy: Promise<void> = Promise.resolve();

  constructor(options: GitSourceOptions) {
    this.#o = resolveOptions(options);
  }

  /** The repository URL as shown in messages: without credentials. */
  get url(): string {
    return this.#o.display;
  }

  /** The branch followed. */
  get branch(): string {
    return this.#o.branch;
  }

  /** The current checkout, if any is known yet (after a {@link sync}). */
  get current(): Checkout | undefined {
    return this.#current;
  }

  get #where(): GitLocation {
    return { url: this.#o.display, branch: this.#o.branch };
  }

  /**
   * The sha the branch points at on the server: one small request. Throws a
   * classified error ({@link GitNotFoundError} when the branch is missing).
   */
  async remoteHead(signal?: AbortSignal): Promise<string> {
    const ref = `refs/heads/${this.#o.branch}`;
    let result;
    try {
      result = await lsRemoteRef({
        http: transport(this.#o, signal),
        url: this.#o.url,
        ref,
        headers: this.#o.headers,
        twoStep: this.#twoStep,
      });
    } catch (err) {
      signal?.throwIfAborted();
      throw toGitSourceError(err, this.#where, { hasCredentials: this.#o.hasCredentials });
    }
    if (result.twoStep && !this.#twoStep) {
      this.#twoStep = true;
      this.#o.logger?.debug({ url: this.#o.display }, 'git server needs two requests to list refs');
    }
    if (result.sha === undefined) throw new GitNotFoundError(this.#where, 'branch');
    return result.sha;
  }

  /**
   * Brings the checkout to the branch's head: asks the server for the head
   * and fetches only when it moved. When Git fails, returns the last good
   * checkout with `fromCache` and the error; throws only when there is none,
   * or when `signal` aborts.
   *
   * `hint` is a commit the caller was told is the new head (a hub's refresh
   * hint). It is only a hint: it is fetched while the server is asked for the
   * head, and used only when the server names that very commit as the head;
   * otherwise it is thrown away and the head the server named is fetched.
   */
  async sync(signal?: AbortSignal, options: { hint?: string } = {}): Promise<SyncResult> {
    this.#running ??= this.#sync(signal, options.hint).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Resolves once the old checkouts a sync left to remove are gone (tests, shutdown). */
  async settled(): Promise<void> {
    await this.#running?.catch(() => undefined);
    await this.#tidy;
  }

  async #sync(signal: AbortSignal | undefined, hint: string | undefined): Promise<SyncResult> {
    const clock = this.#o.clock;
    const started = clock.now();
    const phases: SyncPhases = { lsRefsMs: 0, cloneMs: 0, verifyMs: 0 };
    const result = (r: Omit<SyncResult, 'durationMs' | 'phases'>): SyncResult => {
      const out = { ...r, durationMs: clock.now() - started, phases };
      this.#o.logger?.debug(
        { revision: r.revision, changed: r.changed, durationMs: out.durationMs, ...phases },
        'git sync done',
      );
      return out;
    };
    // Reuse what a previous process left on disk before asking the network.
    const before = await this.#load();
    await this.#tidy;
    let early: Promise<Checkout> | undefined;
    try {
      // Leftovers of a crashed or aborted fetch: never complete, never used.
      await rm(join(this.#o.dir, INCOMING), { recursive: true, force: true });
      early = this.#fetchHinted(hint, before, signal);
      // Handled now: the fetch of a hint that is no commit may fail before the head lookup
      // answers, and a rejection nobody handles yet ends the process.
      early?.catch(() => undefined);
      const head = await this.remoteHead(signal);
      phases.lsRefsMs = clock.now() - started;
      const hinted = await early?.catch(() => undefined);
      early = undefined;
      if (hinted && hinted.revision !== head) await this.#discard(hinted);
      if (before?.revision === head) {
        this.#o.logger?.debug({ revision: head }, 'git head unchanged; no fetch');
        return result({ ...before, changed: false, fromCache: false });
      }
      const fetched = hinted?.revision === head ? hinted : undefined;
      if (fetched) phases.cloneMs = Math.max(0, clock.now() - started - phases.lsRefsMs);
      const checkout = await this.#checkout(head, signal, phases, fetched);
      this.#o.logger?.info(
        { revision: checkout.revision, previous: before?.revision, hinted: fetched !== undefined },
        'checked out new revision',
      );
      return result({ ...checkout, changed: true, fromCache: false });
    } catch (err) {
      await early?.then((c) => this.#discard(c)).catch(() => undefined);
      signal?.throwIfAborted();
      const error = toGitSourceError(err, this.#where, { hasCredentials: this.#o.hasCredentials });
      if (!before) throw error;
      this.#o.logger?.warn(
        { revision: before.revision, err: errorMessage(error), errorClass: error.errorClass },
        'cannot fetch from git; using the last good checkout',
      );
      return result({ ...before, changed: false, fromCache: true, error });
    }
  }

  /**
   * Starts fetching the hinted commit into `incoming/`, to be used only if the server then
   * names it as the head; undefined when there is nothing worth fetching (no hint, not a
   * SHA-1, the current or an existing checkout, a server without the one-request fetch).
   */
  #fetchHinted(
    hint: string | undefined,
    before: Checkout | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Checkout> | undefined {
    if (!hint || !/^[0-9a-f]{40}$/.test(hint) || hint === before?.revision) return undefined;
    if (this.#twoStep || this.#v1Fetch) return undefined;
    if (fs.existsSync(join(this.#o.dir, CHECKOUTS, hint))) return undefined;
    return this.#fetchV2(hint, signal);
  }

  /** Removes a fetch that will not be used. */
  async #discard(fetched: Checkout): Promise<void> {
    await rm(fetched.dir, { recursive: true, force: true });
  }

  /**
   * Reads a file of the current checkout as UTF-8. `path` is relative to the
   * repository root; paths that leave the checkout, also through symlinks,
   * are refused.
   */
  async readFile(path: string): Promise<string> {
    const checkout = this.#requireCheckout();
    return readFile(await resolveInCheckout(checkout, path), 'utf8');
  }

  /** The absolute path of `path` in the current checkout, checked like {@link readFile}. */
  async resolvePath(path: string): Promise<string> {
    return resolveInCheckout(this.#requireCheckout(), path);
  }

  #requireCheckout(): Checkout {
    if (!this.#current) {
      throw new Error(`git ${this.#o.display}: no checkout yet; call sync() first`);
    }
    return this.#current;
  }

  /** Loads `current.json` once; a checkout of another url or branch is not ours to reuse. */
  async #load(): Promise<Checkout | undefined> {
    if (this.#loaded) return this.#current;
    this.#loaded = true;
    let saved: Partial<CurrentFile>;
    try {
      saved = JSON.parse(
        await readFile(join(this.#o.dir, CURRENT), 'utf8'),
      ) as Partial<CurrentFile>;
    } catch {
      return undefined; // none yet, or unreadable: a fresh clone will replace it
    }
    if (saved.url !== this.#o.display || saved.branch !== this.#o.branch) return undefined;
    if (typeof saved.revision !== 'string' || !/^[0-9a-f]{40,64}$/.test(saved.revision)) {
      return undefined;
    }
    const dir = join(this.#o.dir, CHECKOUTS, saved.revision);
    if (!fs.existsSync(dir)) return undefined;
    // Verification may have been turned on since: an unverified checkout is no fallback.
    try {
      await this.#o.verify?.({ revision: saved.revision, dir });
    } catch (err) {
      this.#o.logger?.warn({ err: errorMessage(err) }, 'saved checkout fails verification');
      return undefined;
    }
    this.#current = { revision: saved.revision, dir };
    this.#o.logger?.info({ revision: saved.revision }, 'reusing checkout from the work directory');
    return this.#current;
  }

  /**
   * Makes `head` the current checkout: from disk when still there, else `fetched` (the hinted
   * commit, already fetched into `incoming/`), else a fresh shallow fetch.
   */
  async #checkout(
    head: string,
    signal: AbortSignal | undefined,
    phases: SyncPhases,
    fetched: Checkout | undefined,
  ): Promise<Checkout> {
    const clock = this.#o.clock;
    let target = join(this.#o.dir, CHECKOUTS, head);
    let revision = head;
    let at = clock.now();
    if (fs.existsSync(target)) {
      if (fetched) await this.#discard(fetched);
    } else {
      ({ revision, dir: target } = await this.#place(fetched ?? (await this.#fetch(head, signal))));
      if (!fetched) phases.cloneMs = clock.now() - at;
      at = clock.now();
    }
    await this.#o.verify?.({ revision, dir: target });
    phases.verifyMs = clock.now() - at;
    await this.#writeCurrent(revision);
    this.#current = { revision, dir: target };
    // The switch is done; tidying up runs after it (the next sync waits for it), and failing
    // to tidy up must not turn it into a failed sync.
    this.#tidy = this.#prune().catch((err: unknown) =>
      this.#o.logger?.warn({ err: errorMessage(err) }, 'could not remove old checkouts'),
    );
    return this.#current;
  }

  /** Fetches `head` into `incoming/`: one v2 request when the server takes it, else a clone. */
  async #fetch(head: string, signal: AbortSignal | undefined): Promise<Checkout> {
    if (!this.#twoStep && !this.#v1Fetch && /^[0-9a-f]{40}$/.test(head)) {
      try {
        return await this.#fetchV2(head, signal);
      } catch (err) {
        if (!(err instanceof FetchProtocolError)) throw err;
        this.#v1Fetch = true;
        this.#o.logger?.info(
          { url: this.#o.display, err: errorMessage(err) },
          'git server refused the one-request fetch; cloning instead from now on',
        );
      }
    }
    return this.#clone(signal);
  }

  /** A new folder under `incoming/`, for a fetch in progress. */
  async #incoming(): Promise<string> {
    const tmp = join(this.#o.dir, INCOMING, randomBytes(6).toString('hex'));
    await mkdir(tmp, { recursive: true });
    return tmp;
  }

  /** Fetches exactly `sha` (depth 1) into `incoming/` in one request (see fetch-v2.ts). */
  async #fetchV2(sha: string, signal: AbortSignal | undefined): Promise<Checkout> {
    const tmp = await this.#incoming();
    try {
      await fetchCommit({
        http: transport(this.#o, signal),
        url: this.#o.url,
        headers: this.#o.headers,
        sha,
        branch: this.#o.branch,
        dir: tmp,
        maxCheckoutBytes: this.#o.maxCheckoutBytes,
        maxObjectBytes: this.#o.maxObjectBytes,
      });
      return { revision: sha, dir: tmp };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Clones the branch (shallow) into `incoming/` with isomorphic-git. */
  async #clone(signal: AbortSignal | undefined): Promise<Checkout> {
    const tmp = await this.#incoming();
    try {
      await clone({
        fs,
        // The pack is checked before isomorphic-git inflates it, as on the one-request fetch.
        http: checkingUploadPacks(transport(this.#o, signal), this.#o.maxObjectBytes),
        dir: tmp,
        url: this.#o.url,
        ref: this.#o.branch,
        singleBranch: true,
        depth: 1,
        noTags: true,
        // Checked out by the same writer as the one-request fetch, within the same limits.
        noCheckout: true,
        headers: { ...this.#o.headers },
      });
      // The branch may have moved since remoteHead: record what was fetched.
      const revision = await resolveRef({ fs, dir: tmp, ref: 'HEAD' });
      await checkoutCommit(tmp, revision, this.#o.maxCheckoutBytes);
      return { revision, dir: tmp };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Renames a complete fetch from `incoming/` into `checkouts/<sha>`. */
  async #place(fetched: Checkout): Promise<Checkout> {
    const target = join(this.#o.dir, CHECKOUTS, fetched.revision);
    await mkdir(join(this.#o.dir, CHECKOUTS), { recursive: true });
    if (fs.existsSync(target)) await this.#discard(fetched);
    else await rename(fetched.dir, target);
    return { revision: fetched.revision, dir: target };
  }

  async #writeCurrent(revision: string): Promise<void> {
    const file: CurrentFile = { url: this.#o.display, branch: this.#o.branch, revision };
    const tmp = join(this.#o.dir, `${CURRENT}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`);
    await rename(tmp, join(this.#o.dir, CURRENT));
  }

  /** Removes all but the newest `keepCheckouts` checkouts, never the current one. */
  async #prune(): Promise<void> {
    const root = join(this.#o.dir, CHECKOUTS);
    const entries = await readdir(root, { withFileTypes: true });
    const aged = await Promise.all(
      entries
        .filter((e) => e.isDirectory() && e.name !== this.#current?.revision)
        .map(async (e) => ({
          name: e.name,
          mtime: (await fs.promises.stat(join(root, e.name))).mtimeMs,
        })),
    );
    aged.sort((a, b) => b.mtime - a.mtime);
    for (const old of aged.slice(this.#o.keep - 1)) {
      // Moved out whole first: a crash mid-delete must not leave a partial
      // tree under checkouts/, where it would pass for complete.
      const trash = join(this.#o.dir, INCOMING, `old-${old.name}`);
      await mkdir(join(this.#o.dir, INCOMING), { recursive: true });
      await rm(trash, { recursive: true, force: true });
      await rename(join(root, old.name), trash);
      await rm(trash, { recursive: true, force: true });
    }
  }
}
