import { randomBytes } from 'node:crypto';
import { chmod, link, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TerminalError } from '@driftless/common';
import { AesGcmSecretBox, SECRET_KEY_BYTES, type SecretBox } from './secret-box.ts';

/** The secrets key is missing, unreadable or malformed; the hub cannot start. */
export class SecretKeyError extends TerminalError {
  override name = 'SecretKeyError';
}

/** Name of the key file the hub creates in its data directory (SQLite store only). */
export const SECRET_KEY_FILE_NAME = 'secrets.key';

/** Where the hub's secrets key comes from. */
export interface LoadSecretBoxOptions {
  /** A file holding the key (base64 or hex of 32 bytes); '' to use the data directory. */
  keyFile: string;
  /** The hub's data directory; `secrets.key` is created there when no `keyFile` is given. */
  dataDir: string;
  /**
   * The store kind. With `postgres` several replicas share the store and must
   * share the key, so a `keyFile` is required.
   */
  store: 'sqlite' | 'postgres';
}

/** The loaded box and whether its key was created by this call. */
export interface LoadedSecretBox {
  box: SecretBox;
  created: boolean;
  /** The file the key came from. */
  path: string;
}

/**
 * Loads the key that encrypts destination secrets: from `keyFile`, or from
 * `<dataDir>/secrets.key`, created once with mode 0600 (SQLite only).
 * Throws {@link SecretKeyError} naming the flag and file on any problem.
 */
export async function loadSecretBox(o: LoadSecretBoxOptions): Promise<LoadedSecretBox> {
  if (o.keyFile) {
    const key = parseSecretKey(await readKeyFile(o.keyFile), `--secrets-key-file ${o.keyFile}`);
    return { box: new AesGcmSecretBox([key]), created: false, path: o.keyFile };
  }
  if (o.store === 'postgres')
    throw new SecretKeyError(
      '--store postgres needs --secrets-key-file (or DRIFTLESS_HUB_SECRETS_KEY_FILE): every replica must encrypt notification secrets with the same key; make one with "openssl rand -base64 32"',
    );
  const path = join(o.dataDir, SECRET_KEY_FILE_NAME);
  const created = await createKeyFileOnce(path);
  const key = parseSecretKey(await readKeyFile(path), path);
  return { box: new AesGcmSecretBox([key]), created, path };
}

/**
 * Reads a key from its text form: base64 (standard or URL-safe) or hex of
 * exactly 32 bytes, surrounding whitespace ignored. `where` names the source in errors.
 */
export function parseSecretKey(text: string, where: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) key = Buffer.from(t, 'base64');
  if (!key || key.length !== SECRET_KEY_BYTES)
    throw new SecretKeyError(
      `${where}: expected a ${SECRET_KEY_BYTES}-byte key as base64 or hex (e.g. from "openssl rand -base64 32")`,
    );
  return key;
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new SecretKeyError(`secrets key ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Creates the key file with a fresh key unless it holds one; true when this call made it. The
 * key is written and synced under a temporary name first and then linked into place (link
 * fails if the name exists), so the file is never seen empty or half written: a start that
 * dies midway, or a full disk, leaves no key file rather than one that stops every later
 * start. An empty file (from a start interrupted before this was so) is replaced: no secret
 * was ever sealed with it, since no key could be read from it.
 */
async function createKeyFileOnce(path: string): Promise<boolean> {
  const fail = (err: unknown): never => {
    throw new SecretKeyError(`secrets key ${path}: ${(err as Error).message}`, { cause: err });
  };
  const existing = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) =>
    err.code === 'ENOENT' ? undefined : fail(err),
  );
  if (existing !== undefined && existing.trim() !== '') return false;
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o600).catch(fail);
    try {
      await handle.writeFile(randomBytes(SECRET_KEY_BYTES).toString('base64') + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    // The umask may have narrowed the mode at creation but never widens it; set it exactly.
    await chmod(temp, 0o600);
    if (existing !== undefined) {
      await rename(temp, path);
      return true;
    }
    try {
      await link(temp, path);
    } catch (err) {
      // Another start made it meanwhile: theirs is the key.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    return true;
  } catch (err) {
    if (err instanceof SecretKeyError) throw err;
    return fail(err);
  } finally {
    await rm(temp, { force: true });
  }
}
