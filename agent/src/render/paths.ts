import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsCause, RenderError } from './errors.ts';

/**
 * The checkout being rendered. Every file a renderer reads must resolve
 * (after symlinks) inside it: a repository must not be able to render the
 * agent's own files, such as its service-account token, into the cluster.
 */
export class Checkout {
  /** Absolute, symlink-free path of the checkout root. */
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** Opens a checkout; fails when the root does not exist. */
  static async open(root: string): Promise<Checkout> {
    try {
      return new Checkout(await realpath(root));
    } catch (err) {
      // The root is the agent's own work directory: not for a user's eyes, so not named.
      throw new RenderError('render: the checkout of this commit is gone', { cause: fsCause(err) });
    }
  }

  /** `abs` relative to the root, with `/` separators, as messages and sources show it. */
  relative(abs: string): string {
    return path.relative(this.root, abs).split(path.sep).join('/') || '.';
  }

  /** True when `abs` (already symlink-free) is the root or below it. */
  contains(abs: string): boolean {
    const rel = path.relative(this.root, abs);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  }

  /**
   * Resolves `rel` (relative to `base`, default the root) to a symlink-free
   * absolute path inside the checkout. Returns undefined when nothing exists
   * there; throws {@link RenderError} when it resolves outside. `what` names
   * the path in messages (e.g. `values file x.yaml of app web`).
   */
  async resolve(rel: string, what: string, base = this.root): Promise<string | undefined> {
    const lexical = path.resolve(base, rel);
    if (!this.contains(lexical)) {
      throw new RenderError(`render: ${what} is outside the checkout`, { file: rel });
    }
    let real: string;
    try {
      real = await realpath(lexical);
    } catch {
      return undefined;
    }
    if (!this.contains(real)) {
      throw new RenderError(`render: ${what} links outside the checkout`, { file: rel });
    }
    return real;
  }
}

/** True when `abs` is an existing regular file (after symlinks). */
export async function isFile(abs: string): Promise<boolean> {
  return (await stat(abs).catch(() => undefined))?.isFile() ?? false;
}
