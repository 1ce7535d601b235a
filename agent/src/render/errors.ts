import { TerminalError, TransientError } from '@driftless/common';

/**
 * The app's path cannot be rendered: bad YAML, a broken chart or overlay, a
 * refused remote base, a missing path or renderer. Retrying the same commit
 * cannot help, so it is terminal. The message starts with `render <file>`,
 * and names the line for YAML syntax errors.
 */
export class RenderError extends TerminalError {
  override name = 'RenderError';
  /** The file (relative to the repository root) or path at fault, when one is known. */
  readonly file: string | undefined;

  constructor(message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.file = options.file;
  }
}

/**
 * `kustomize` or `helm` ran past its time limit and was killed. Transient:
 * a slow disk or a remote base may well answer in time on the next try.
 */
export class RenderTimeoutError extends TransientError {
  override name = 'RenderTimeoutError';
}

/**
 * A file-system error reduced to its code (`EACCES`, `ENOENT`, …), to carry as
 * a `cause`: Node's own message names the absolute path, which is the agent's
 * work directory and not something a user of the repository should see.
 */
export function fsCause(err: unknown): Error {
  const code = (err as { code?: unknown } | undefined)?.code;
  const name = typeof code === 'string' ? code : 'file-system error';
  return Object.assign(new Error(name), { code: name });
}
