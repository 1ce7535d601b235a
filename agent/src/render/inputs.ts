/**
 * What an app's render depends on, so a new commit that leaves it alone need not run
 * kustomize again just to learn what the app declares. A render reports the paths whose
 * files alone decide its result (a plain folder: itself; a kustomization: the folder of every
 * kustomization it includes, since kustomize's root-only load restrictor reads nothing else);
 * {@link RenderInputs} remembers them per app and digests those files in a later checkout.
 * Same spec and same digest: the render would come out the same.
 */
import { createHash, type Hash } from 'node:crypto';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AppSpec } from '../model.ts';

/** Bounds of one digest; past them there is no digest and the app simply renders. */
export const INPUT_DIGEST_DEFAULTS = {
  /** Files read for one app. */
  maxFiles: 2000,
  /** Bytes read for one app. */
  maxBytes: 16 * 1024 * 1024,
} as const;

/** Gave up on a digest: a bound was passed, or a symlink leads to a folder. */
class NoDigest extends Error {}

/**
 * The SHA-256 of every file below `paths` (relative to `root`): names, kinds and contents,
 * symlinks to files followed (their content counts), in sorted order. Undefined when a path
 * is missing or outside `root`, a symlink leads to a folder, or a bound is passed.
 */
export async function inputsDigest(
  root: string,
  paths: readonly string[],
  bounds: { maxFiles: number; maxBytes: number } = INPUT_DIGEST_DEFAULTS,
): Promise<string | undefined> {
  const hash = createHash('sha256');
  const budget = { files: bounds.maxFiles, bytes: bounds.maxBytes };
  try {
    for (const rel of [...paths].sort()) {
      const abs = path.resolve(root, rel);
      const inside = path.relative(root, abs);
      if (inside.startsWith('..') || path.isAbsolute(inside)) return undefined;
      hash.update(`path ${rel}\0`);
      await digestEntry(hash, abs, budget);
    }
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}

async function digestEntry(
  hash: Hash,
  abs: string,
  budget: { files: number; bytes: number },
): Promise<void> {
  const link = await lstat(abs);
  const info = link.isSymbolicLink() ? await stat(abs) : link;
  if (info.isDirectory()) {
    if (link.isSymbolicLink()) throw new NoDigest();
    const names = (await readdir(abs)).sort();
    hash.update(`dir ${names.length}\0`);
    for (const name of names) {
      if (name === '.git') continue;
      hash.update(`name ${name}\0`);
      await digestEntry(hash, path.join(abs, name), budget);
    }
    return;
  }
  if (!info.isFile()) {
    hash.update('other\0');
    return;
  }
  budget.files -= 1;
  budget.bytes -= info.size;
  if (budget.files < 0 || budget.bytes < 0) throw new NoDigest();
  const content = await readFile(abs);
  hash.update(`file ${content.length}\0`);
  hash.update(content);
}

/**
 * The input paths of each app's last successful render, and from them a key that stays the
 * same for as long as the app's render would. Apps whose render depends on more than files
 * (charts, remote resources) have no key.
 */
export class RenderInputs {
  readonly #inputs = new Map<string, { spec: string; paths: string[] }>();

  /**
   * Records what a render of `app` read; call only after it succeeded. `paths` undefined: the
   * render depends on more than the checkout's files, so it has no key.
   */
  note(app: AppSpec, paths: string[] | undefined): void {
    if (paths === undefined) this.#inputs.delete(app.name);
    else this.#inputs.set(app.name, { spec: JSON.stringify(app), paths });
  }

  /** Whether the last render of `app` (as specified now) read the checkout's files alone. */
  filesOnly(app: AppSpec): boolean {
    return this.#inputs.get(app.name)?.spec === JSON.stringify(app);
  }

  /** Forgets an app (it left Git). */
  forget(app: string): void {
    this.#inputs.delete(app);
  }

  /**
   * A key of what `app` renders to from the checkout at `root`: its spec and the digest of its
   * inputs there. Undefined when not known (never rendered, the spec changed, no digest).
   */
  async key(app: AppSpec, root: string): Promise<string | undefined> {
    const known = this.#inputs.get(app.name);
    const spec = JSON.stringify(app);
    if (!known || known.spec !== spec) return undefined;
    const digest = await inputsDigest(root, known.paths);
    return digest === undefined ? undefined : `inputs:${digest}|${spec}`;
  }
}
