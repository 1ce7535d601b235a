/** Paths inside a checkout: nothing a repository names may lead out of it. */
import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { PathNotFoundError, PathOutsideCheckoutError } from './errors.ts';
import type { Checkout } from './source-options.ts';

/**
 * The absolute, symlink-free path of `path` inside `checkout`. Refuses
 * absolute paths and any path — through `..` or a symlink committed to the
 * repository — that resolves outside the checkout, since a repository must
 * never make the agent read the node's files.
 */
export async function resolveInCheckout(checkout: Checkout, path: string): Promise<string> {
  if (isAbsolute(path)) throw new PathOutsideCheckoutError(path);
  const root = await realpath(checkout.dir);
  const joined = resolve(root, path);
  if (!inside(root, joined)) throw new PathOutsideCheckoutError(path);
  let real: string;
  try {
    real = await realpath(joined);
  } catch (err) {
    throw new PathNotFoundError(path, checkout.revision, err);
  }
  if (!inside(root, real)) throw new PathOutsideCheckoutError(path);
  // The repository's own metadata is not part of the desired state.
  const rel = relative(root, real);
  if (rel === '.git' || rel.startsWith(`.git${sep}`)) throw new PathOutsideCheckoutError(path);
  return real;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
