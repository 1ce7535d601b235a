import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { RenderError } from './errors.ts';
import { checkFileSize, type RenderLimits } from './limits.ts';
import type { Checkout } from './paths.ts';

/** Options of {@link confineTree}. */
export interface ConfineOptions {
  /** When set, every regular file reached is checked against `maxFileBytes`. */
  limits?: RenderLimits;
  signal?: AbortSignal;
}

/**
 * Walks everything a renderer started at `start` can reach on disk and
 * refuses, with one error naming the link, any symbolic link that resolves
 * outside the checkout or into its `.git` folder — also a dangling one whose
 * target would. Links to folders inside the checkout are followed, so their
 * contents are checked too; each real folder is visited once.
 *
 * This is what confines the renderers whatever field names a file: Helm's
 * chart loader (`.Files`, templates, subcharts), kustomize's loader and the
 * plain-YAML walk all read the file system through paths below `start`, and
 * after this walk no such path leads out. The checkout is not written to
 * while it is rendered, so what was checked is what the tools read.
 */
export async function confineTree(
  checkout: Checkout,
  start: string,
  options: ConfineOptions = {},
): Promise<void> {
  const visited = new Set<string>();
  const gitDir = path.join(checkout.root, '.git');
  const walk = async (dir: string): Promise<void> => {
    options.signal?.throwIfAborted();
    const real = await realpath(dir);
    if (visited.has(real)) return;
    visited.add(real);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (full === gitDir) continue;
      if (entry.isSymbolicLink()) {
        const target = await checkLink(checkout, full, gitDir);
        if (target === undefined) continue;
        const info = await stat(target);
        if (info.isDirectory()) await walk(target);
        else if (info.isFile() && options.limits)
          checkFileSize(checkout.relative(full), info.size, options.limits);
      } else if (entry.isDirectory()) {
        await walk(full);
      } else if (entry.isFile() && options.limits) {
        checkFileSize(checkout.relative(full), (await lstat(full)).size, options.limits);
      }
    }
  };
  const top = await lstat(start);
  if (top.isSymbolicLink()) {
    const target = await checkLink(checkout, start, gitDir);
    if (target !== undefined && (await stat(target)).isDirectory()) await walk(target);
  } else if (top.isDirectory()) {
    await walk(start);
  } else if (top.isFile() && options.limits) {
    checkFileSize(checkout.relative(start), top.size, options.limits);
  }
}

/**
 * The symlink-free target of the link `full`, or undefined when it dangles
 * inside the checkout. Throws when it leads outside or into `.git`.
 */
async function checkLink(
  checkout: Checkout,
  full: string,
  gitDir: string,
): Promise<string | undefined> {
  const source = checkout.relative(full);
  const refuse = (why: string) =>
    new RenderError(
      `render ${source}: symbolic link ${why}; a repository may only link to files inside itself`,
      { file: source },
    );
  const real = await realpath(full).catch(() => undefined);
  if (real === undefined) {
    // Dangling: judge where it points, so a link to a file that appears later cannot pass.
    const lexical = path.resolve(path.dirname(full), await readlink(full));
    if (!checkout.contains(lexical)) throw refuse('points outside the checkout');
    return undefined;
  }
  if (!checkout.contains(real)) throw refuse('points outside the checkout');
  if (real === gitDir || real.startsWith(`${gitDir}${path.sep}`)) {
    throw refuse("points into the repository's .git folder");
  }
  return real;
}
