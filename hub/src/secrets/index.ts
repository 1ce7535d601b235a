/** Encryption at rest of the secrets the hub stores for others (webhook URLs, tokens, HMAC keys). */
export {
  AesGcmSecretBox,
  SealedSecretError,
  SECRET_KEY_BYTES,
  secretKeyId,
  type SecretBox,
} from './secret-box.ts';
export {
  loadSecretBox,
  parseSecretKey,
  SecretKeyError,
  SECRET_KEY_FILE_NAME,
  type LoadedSecretBox,
  type LoadSecretBoxOptions,
} from './key-file.ts';
