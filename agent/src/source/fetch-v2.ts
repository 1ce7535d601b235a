/**
 * Fetches one commit into a fresh repository in a single HTTP request: Git protocol v2's
 * `fetch` command with `want <sha>` and `deepen 1` (a shallow copy of that commit's tree, no
 * history), the pack indexed and the tree checked out by isomorphic-git.
 *
 * Why not isomorphic-git's `clone`: it speaks protocol v1, which costs two requests (the ref
 * advertisement, then the pack) on top of the `ls-refs` the agent already made, and on a Git
 * server every request starts processes. v2 over HTTP is stateless, so the pack is asked for
 * directly, by the sha `ls-refs` returned (or a hint named, checked against `ls-refs` before
 * it is used, see git-source.ts). The pack's objects are named by their content hash when
 * indexed, so what arrives is that commit or nothing: the sha cannot be lied about.
 */
import * as fs from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  indexPack,
  init,
  readBlob,
  readCommit,
  readTree,
  writeRef,
  type HttpClient,
} from 'isomorphic-git';
import { UnsafeTreeError } from './errors.ts';
import { checkPackObjects } from './pack-check.ts';
import { commandRequest, concat, httpStatusError, postUploadPack } from './upload-pack.ts';

const decoder = new TextDecoder();

/** The body of a v2 `fetch` of `sha` alone, shallow, without progress messages. */
export function fetchRequest(sha: string): Uint8Array {
  return commandRequest('fetch', ['no-progress', 'ofs-delta', 'deepen 1', `want ${sha}`, 'done']);
}

/** A v2 `fetch` answer that is not a pack: an `ERR` line, a band-3 error, or broken framing. */
export class FetchProtocolError extends Error {
  override readonly name = 'FetchProtocolError';
}

/**
 * The pack of a v2 `fetch` answer: the `packfile` section's band-1 data. Sections before it
 * (`shallow-info`, `acknowledgments`) are skipped. Throws {@link FetchProtocolError} for an
 * `ERR` line, a band-3 (error) message, or an answer without a complete pack section.
 */
export function parseFetchResponse(bytes: Uint8Array): Uint8Array {
  const pack: Uint8Array[] = [];
  let inPack = false;
  let at = 0;
  while (at + 4 <= bytes.length) {
    const len = Number.parseInt(decoder.decode(bytes.subarray(at, at + 4)), 16);
    if (Number.isNaN(len)) throw new FetchProtocolError('git fetch: malformed answer');
    if (len === 0) {
      if (!inPack) throw new FetchProtocolError('git fetch: the answer holds no pack');
      return concat(pack);
    }
    if (len < 4) {
      at += 4; // delimiter (0001) or response-end (0002)
      continue;
    }
    if (at + len > bytes.length) break;
    const payload = bytes.subarray(at + 4, at + len);
    at += len;
    if (inPack) {
      const band = payload[0];
      if (band === 1) pack.push(payload.subarray(1));
      else if (band === 3)
        throw new FetchProtocolError(
          `git fetch: the server failed: ${decoder.decode(payload.subarray(1)).trim().slice(0, 200)}`,
        );
      continue;
    }
    const line = decoder.decode(payload).replace(/\n$/, '');
    if (line.startsWith('ERR '))
      throw new FetchProtocolError(`git fetch: the server refused: ${line.slice(4, 204)}`);
    if (line === 'packfile') inPack = true;
  }
  throw new FetchProtocolError('git fetch: the answer was cut short');
}

/** Options of {@link fetchCommit}. */
export interface FetchCommitOptions {
  http: HttpClient;
  /** Repository URL without credentials. */
  url: string;
  /** Sent with the request, e.g. `Authorization`. */
  headers: Record<string, string>;
  /** The commit to fetch: 40 hex digits (SHA-1 repositories). */
  sha: string;
  /** The branch it is checked out as (HEAD points at it). */
  branch: string;
  /** An empty folder that becomes the working tree, its `.git` beside the files. */
  dir: string;
  /** Most bytes the checkout may write (see {@link checkoutCommit}). */
  maxCheckoutBytes: number;
  /** Most bytes one object of the pack may inflate to (see pack-check.ts). */
  maxObjectBytes: number;
}

/**
 * Fetches `sha` alone (depth 1) and checks it out into `dir`, laid out as a shallow clone of
 * `branch` at that commit. HTTP errors are thrown as isomorphic-git shapes them (for
 * toGitSourceError); a server that sends no pack throws {@link FetchProtocolError}.
 */
export async function fetchCommit(options: FetchCommitOptions): Promise<void> {
  const { http, url, headers, sha, branch, dir } = options;
  const { res, body } = await postUploadPack(http, url, headers, fetchRequest(sha));
  if (res.statusCode !== 200) throw httpStatusError(res);
  const pack = parseFetchResponse(body);
  if (pack.length < 32 || decoder.decode(pack.subarray(0, 4)) !== 'PACK')
    throw new FetchProtocolError('git fetch: the answer is not a pack');
  checkPackObjects(pack, options.maxObjectBytes);
  await init({ fs, dir, defaultBranch: branch });
  const packDir = join(dir, '.git', 'objects', 'pack');
  await mkdir(packDir, { recursive: true });
  const name = `pack-${Buffer.from(pack.subarray(pack.length - 20)).toString('hex')}.pack`;
  await writeFile(join(packDir, name), pack);
  const cache = {};
  await indexPack({ fs, dir, filepath: join('.git', 'objects', 'pack', name), cache });
  // The commit must be in what came: its id is the hash of its content.
  await readCommit({ fs, dir, oid: sha, cache });
  await writeFile(join(dir, '.git', 'shallow'), `${sha}\n`);
  await writeRef({ fs, dir, ref: `refs/heads/${branch}`, value: sha, force: true });
  await checkoutCommit(dir, sha, options.maxCheckoutBytes, cache);
}

/** Disk use counted for each file and folder beyond its content: one block of a file system. */
const ENTRY_BYTES = 4096;

/**
 * Writes the files of commit `sha` of the repository in `dir` into `dir` (its working tree,
 * without an index: nothing reads one). Git stores a blob once however often a tree names
 * it, and compresses it, so a fetch of a few kilobytes can name gigabytes of files: at most
 * `maxBytes` are written (each file and folder counted as at least one disk block), past
 * which the checkout fails with {@link UnsafeTreeError} rather than fill the node's disk.
 */
export async function checkoutCommit(
  dir: string,
  sha: string,
  maxBytes: number,
  cache: object = {},
): Promise<void> {
  const { commit } = await readCommit({ fs, dir, oid: sha, cache });
  await writeTree(dir, dir, commit.tree, cache, { left: maxBytes, total: maxBytes });
}

/** What a checkout may still write, in bytes. */
interface Budget {
  left: number;
  readonly total: number;
}

function spend(budget: Budget, bytes: number): void {
  budget.left -= Math.max(bytes, ENTRY_BYTES);
  if (budget.left < 0)
    throw new UnsafeTreeError(
      `the commit's files add up to more than ${Math.round(budget.total / 1024 / 1024)} MiB checked out (four times --git-max-fetch-bytes); refusing to write more`,
    );
}

/**
 * Writes the tree `oid` out into `into` (a working tree without an index: nothing reads one).
 * Names a checkout must not hold (`..`, `.git`, a slash) are refused, as Git refuses them, and
 * so is a name given twice in one tree: Git never writes such a tree, but a server serves one
 * as it is, and a symbolic link followed by a file of the same name would write that file
 * wherever the link points. Every entry is created new (`wx`, `mkdir`, `symlink` all fail on
 * an existing path), so nothing is ever written through a link.
 */
async function writeTree(
  root: string,
  into: string,
  oid: string,
  cache: object,
  budget: Budget,
): Promise<void> {
  const { tree } = await readTree({ fs, dir: root, oid, cache });
  const names = new Set<string>();
  for (const entry of tree) {
    const name = entry.path;
    if (
      name === '' ||
      name === '.' ||
      name === '..' ||
      /[/\\\0]/.test(name) ||
      name.toLowerCase() === '.git'
    )
      throw new UnsafeTreeError(`the commit's tree holds an entry named ${JSON.stringify(name)}`);
    if (names.has(name))
      throw new UnsafeTreeError(
        `the commit's tree holds two entries named ${JSON.stringify(name)}, which Git never writes`,
      );
    names.add(name);
    const target = join(into, name);
    if (entry.type === 'tree') {
      spend(budget, 0);
      await mkdir(target);
      await writeTree(root, target, entry.oid, cache, budget);
    } else if (entry.type === 'commit') {
      spend(budget, 0);
      await mkdir(target); // a submodule: an empty folder, as git leaves it
    } else {
      const { blob } = await readBlob({ fs, dir: root, oid: entry.oid, cache });
      spend(budget, blob.length);
      if (entry.mode === '120000') await symlink(Buffer.from(blob).toString('utf8'), target);
      else
        await writeFile(target, blob, {
          mode: entry.mode === '100755' ? 0o755 : 0o644,
          flag: 'wx',
        });
    }
  }
}
