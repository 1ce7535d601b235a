import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { TerminalError } from '@driftless/common';

/**
 * Encrypts and decrypts small secrets (webhook URLs, bot tokens, HMAC keys)
 * for storage. A sealed value names the key that sealed it, so a box holding
 * an old and a new key opens both while sealing with the new one.
 */
export interface SecretBox {
  /** Id of the key new values are sealed with (8 hex digits). */
  readonly keyId: string;
  /**
   * Encrypts `plain`. `context` (e.g. `destination/ops-slack`) is bound to the
   * sealed value: opening it under another context fails, so a sealed value
   * copied onto another record is refused.
   */
  seal(plain: string, context?: string): string;
  /** Decrypts a value from {@link SecretBox.seal}; throws {@link SealedSecretError} if it cannot. */
  open(sealed: string, context?: string): string;
}

/** A sealed value cannot be opened: unknown key, tampered or truncated text, other context. */
export class SealedSecretError extends TerminalError {
  override name = 'SealedSecretError';
}

/** Length of an AES-256 key, bytes. */
export const SECRET_KEY_BYTES = 32;
/** GCM nonce length, bytes (the size NIST SP 800-38D recommends). */
const IV_BYTES = 12;
/** GCM authentication tag length, bytes. */
const TAG_BYTES = 16;
/** Format version of sealed values; the first field of every sealed text. */
const FORMAT = 'v1';

/** The id of a key: the first 8 hex digits of its SHA-256, so it names the key without revealing it. */
export function secretKeyId(key: Buffer): string {
  return createHash('sha256')
    .update('driftless-secret-key\0')
    .update(key)
    .digest('hex')
    .slice(0, 8);
}

/**
 * AES-256-GCM with a random 96-bit nonce per value. Sealed text:
 * `v1:<keyId>:<base64url(nonce | ciphertext | tag)>`.
 */
export class AesGcmSecretBox implements SecretBox {
  readonly keyId: string;
  readonly #keys = new Map<string, Buffer>();
  readonly #current: Buffer;

  /** `keys[0]` seals; every key opens. Throws if a key is not 32 bytes. */
  constructor(keys: readonly Buffer[]) {
    const [current] = keys;
    if (!current) throw new TerminalError('a secret box needs at least one key');
    for (const k of keys) {
      if (k.length !== SECRET_KEY_BYTES)
        throw new TerminalError(`a secret key must be ${SECRET_KEY_BYTES} bytes, not ${k.length}`);
      this.#keys.set(secretKeyId(k), k);
    }
    this.#current = current;
    this.keyId = secretKeyId(current);
  }

  seal(plain: string, context = ''): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(this.keyId, context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const blob = Buffer.concat([iv, body, cipher.getAuthTag()]);
    return `${FORMAT}:${this.keyId}:${blob.toString('base64url')}`;
  }

  open(sealed: string, context = ''): string {
    const [format, keyId = '', data = '', ...rest] = sealed.split(':');
    if (format !== FORMAT || rest.length > 0 || !data)
      throw new SealedSecretError('a sealed secret is malformed (expected v1:<key id>:<data>)');
    const key = this.#keys.get(keyId);
    if (!key)
      throw new SealedSecretError(
        `a secret was sealed with key ${keyId}, which this hub does not have (its key is ${this.keyId}); give the hub the same --secrets-key-file as the replica that stored it`,
      );
    const blob = Buffer.from(data, 'base64url');
    if (blob.length < IV_BYTES + TAG_BYTES)
      throw new SealedSecretError('a sealed secret is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(aad(keyId, context));
      decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(blob.subarray(IV_BYTES, blob.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return plain.toString('utf8');
    } catch (err) {
      throw new SealedSecretError(
        'a sealed secret fails its integrity check (altered, or stored for another record)',
        { cause: err },
      );
    }
  }
}

/** Additional authenticated data: format, key id and context, so none can be swapped. */
function aad(keyId: string, context: string): Buffer {
  return Buffer.from(`${FORMAT}\0${keyId}\0${context}`, 'utf8');
}
