import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The two kinds of bearer secret the hub hands out. */
export type TokenKind = 'enrollment' | 'api';

const PREFIX: Record<TokenKind, string> = { enrollment: 'et', api: 'at' };
const FORMAT = /^(et|at)_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

/** A freshly minted token: `text` is shown to the person once and never stored. */
export interface MintedToken {
  /** Public id, e.g. `et_3f9a0c1d2b4e5f60`: safe to list, log and audit. */
  id: string;
  /** The whole bearer token, `<id>.<secret>`. */
  text: string;
  /** SHA-256 of the secret part, hex: the only thing the store keeps. */
  secretHash: string;
}

/**
 * Mints a token `<id>.<secret>` with 256 random bits of secret. The id lets
 * the hub find the row without comparing secrets in SQL; the secret is then
 * compared in constant time against the stored hash.
 */
export function mintToken(kind: TokenKind): MintedToken {
  const id = `${PREFIX[kind]}_${randomBytes(8).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  return { id, text: `${id}.${secret}`, secretHash: hashSecret(secret) };
}

/** Splits a bearer token into id and secret; undefined when it is not one of ours. */
export function parseToken(
  kind: TokenKind,
  text: string,
): { id: string; secret: string } | undefined {
  const m = FORMAT.exec(text.trim());
  if (!m || m[1] !== PREFIX[kind]) return undefined;
  return { id: `${m[1]}_${m[2]}`, secret: m[3]! };
}

/**
 * SHA-256 of a token secret. A fast hash is right here: the secret is 256
 * random bits, so there is nothing to brute-force that a slow hash would slow.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

// Compared against when the id is unknown, so a miss takes as long as a hit.
const DUMMY_HASH = hashSecret('driftless-dummy-secret');

/** Whether `secret` hashes to `storedHash`, compared in constant time. */
export function secretMatches(secret: string, storedHash: string | undefined): boolean {
  const expected = Buffer.from(storedHash ?? DUMMY_HASH, 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual) && !!storedHash;
}
