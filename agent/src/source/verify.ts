/**
 * Over 400 lines on purpose: the two signature formats (OpenPGP, SSH) share the parsing of
 * the commit object and the key list, and are checked side by side.
 *
 * Trust the commit, not only the server: with allowed keys configured, the
 * agent applies a revision only when its commit carries a valid signature by
 * one of them. Git keeps the signature in the commit object's `gpgsig`
 * header, over the object without that header:
 * - OpenPGP (`gpg.format=openpgp`, the default): an armored detached
 *   signature, checked with the `openpgp` library against armored public keys;
 * - SSH (`gpg.format=ssh`): an armored `SSHSIG` blob (namespace `git`),
 *   checked with node:crypto for ed25519, RSA (SHA-2) and ECDSA (P-256/384/521)
 *   keys, given as `ssh-ed25519 AAAA… comment` lines or Git's allowed-signers
 *   lines (`principal ssh-ed25519 AAAA…`).
 * An unsigned or wrongly signed head fails with {@link CommitSignatureError}
 * (terminal: only a new commit can change the answer); the source then keeps
 * the last verified checkout in force.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { readObject } from 'isomorphic-git';
import type { Key, Signature } from 'openpgp';
import { TerminalError, TransientError, errorMessage } from '@driftless/common';
import type { KubeObject, ObjectRef } from '../model.ts';
import { loadOptionalModule } from '../optional-module.ts';

/** OpenPGP, loaded the first time an OpenPGP key or signature is read. */
const loadOpenPgp = () => loadOptionalModule('OpenPGP signature checks', () => import('openpgp'));

/** The head commit is unsigned or not signed by an allowed key. Terminal until a new commit. */
export class CommitSignatureError extends TerminalError {
  override name = 'CommitSignatureError';
  /** The commit refused. */
  readonly revision: string;
  constructor(revision: string, why: string) {
    super(`commit ${revision.slice(0, 7)} not applied: ${why}`);
    this.revision = revision;
  }
}

/** Who signed a verified commit, for logs. */
export interface Signer {
  format: 'openpgp' | 'ssh';
  /** OpenPGP key id (hex) or SSH key fingerprint (`SHA256:…`). */
  key: string;
}

/** Options of {@link CommitVerifier}. */
export interface CommitVerifierOptions {
  /**
   * Reads the allowed keys (armored OpenPGP public keys and SSH public-key
   * lines, in any mix), e.g. from a file or a Secret; called for each commit
   * checked, so rotated keys take effect without a restart. Errors are
   * transient (the check is retried).
   */
  keys: () => Promise<string>;
  /** Where the keys come from, for messages (e.g. `file /etc/keys` or `Secret ns/name`). */
  keysSource: string;
}

/** Checks commit signatures of checkouts against allowed keys; remembers what it verified. */
export class CommitVerifier {
  readonly #o: CommitVerifierOptions;
  /** `revision|keys digest` verified before, so an unchanged head is not checked every poll. */
  readonly #verified = new Map<string, Signer>();

  constructor(options: CommitVerifierOptions) {
    this.#o = options;
  }

  /**
   * Verifies the commit `revision` of the repository checked out in `dir`.
   * Returns the signer; throws {@link CommitSignatureError} when the commit is
   * not signed by an allowed key, a transient error when the keys cannot be read.
   */
  async verify(checkout: { dir: string; revision: string }): Promise<Signer> {
    let text: string;
    try {
      text = await this.#o.keys();
    } catch (err) {
      throw new TransientError(
        `cannot read the allowed commit signing keys from ${this.#o.keysSource}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    const memo = `${checkout.revision}|${createHash('sha256').update(text).digest('hex')}`;
    const known = this.#verified.get(memo);
    if (known) return known;
    const keys = await parseAllowedKeys(text);
    if (keys.openpgp.length === 0 && keys.ssh.length === 0) {
      throw new CommitSignatureError(
        checkout.revision,
        `no allowed signing keys in ${this.#o.keysSource}`,
      );
    }
    const { object } = await readObject({
      fs,
      dir: checkout.dir,
      oid: checkout.revision,
      format: 'content',
    });
    const signer = await verifyCommit(Buffer.from(object as Uint8Array), checkout.revision, keys);
    this.#verified.clear(); // only the latest matters
    this.#verified.set(memo, signer);
    return signer;
  }
}

/** Allowed keys, parsed. */
export interface AllowedKeys {
  openpgp: Key[];
  ssh: { blob: Buffer; fingerprint: string }[];
}

/** Parses armored OpenPGP public keys and SSH public-key lines out of one text. */
export async function parseAllowedKeys(text: string): Promise<AllowedKeys> {
  const out: AllowedKeys = { openpgp: [], ssh: [] };
  const armored =
    text.match(/-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----/g) ??
    [];
  for (const block of armored) {
    const openpgp = await loadOpenPgp();
    out.openpgp.push(...(await openpgp.readKeys({ armoredKeys: block })));
  }
  const rest = armored.reduce((t, block) => t.replace(block, ''), text);
  for (const line of rest.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const at = fields.findIndex((f) => SSH_KEY_TYPES.has(f));
    const blob = at >= 0 ? fields[at + 1] : undefined;
    if (line.trim().startsWith('#') || blob === undefined) continue;
    const bytes = Buffer.from(blob, 'base64');
    out.ssh.push({ blob: bytes, fingerprint: fingerprint(bytes) });
  }
  return out;
}

const SSH_KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** The signature and the signed bytes of a raw commit object. */
export function splitSignedCommit(raw: Buffer): { payload: Buffer; signature?: string } {
  const text = raw.toString('latin1'); // byte-preserving
  const headerEnd = text.indexOf('\n\n');
  const headers = headerEnd < 0 ? text : text.slice(0, headerEnd + 1);
  const lines = headers.split('\n');
  const kept: string[] = [];
  let signature: string[] | undefined;
  let inSig = false;
  for (const line of lines) {
    if (inSig && line.startsWith(' ')) {
      signature?.push(line.slice(1));
      continue;
    }
    inSig = false;
    if (line.startsWith('gpgsig ') || line.startsWith('gpgsig-sha256 ')) {
      inSig = true;
      signature = [line.slice(line.indexOf(' ') + 1)];
      continue;
    }
    kept.push(line);
  }
  const payload = kept.join('\n') + (headerEnd < 0 ? '' : text.slice(headerEnd + 1));
  return {
    payload: Buffer.from(payload, 'latin1'),
    signature: signature && `${signature.join('\n')}\n`,
  };
}

/** Verifies one raw commit object against the allowed keys; returns the signer or throws. */
export async function verifyCommit(
  raw: Buffer,
  revision: string,
  keys: AllowedKeys,
): Promise<Signer> {
  const { payload, signature } = splitSignedCommit(raw);
  if (!signature) {
    throw new CommitSignatureError(
      revision,
      'it is not signed, and this agent applies only commits signed by an allowed key',
    );
  }
  if (signature.startsWith('-----BEGIN SSH SIGNATURE-----'))
    return verifySsh(payload, signature, revision, keys);
  if (signature.startsWith('-----BEGIN PGP SIGNATURE-----'))
    return verifyOpenPgp(payload, signature, revision, keys);
  throw new CommitSignatureError(revision, 'its signature is neither OpenPGP nor SSH (X.509?)');
}

async function verifyOpenPgp(
  payload: Buffer,
  armored: string,
  revision: string,
  keys: AllowedKeys,
): Promise<Signer> {
  const openpgp = await loadOpenPgp();
  let signature: Signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: armored });
  } catch (err) {
    throw new CommitSignatureError(
      revision,
      `its OpenPGP signature cannot be read: ${errorMessage(err)}`,
    );
  }
  const ids = signature.getSigningKeyIDs().map((id) => id.toHex().toUpperCase());
  const signer = ids[0] ?? 'unknown';
  const known = keys.openpgp.filter((k) =>
    k.getKeyIDs().some((id) => ids.includes(id.toHex().toUpperCase())),
  );
  if (known.length === 0) {
    throw new CommitSignatureError(
      revision,
      `it is signed by OpenPGP key ${signer}, which is not an allowed key`,
    );
  }
  const result = await openpgp.verify({
    message: await openpgp.createMessage({ binary: payload }),
    signature,
    verificationKeys: known,
    format: 'binary',
  });
  try {
    for (const s of result.signatures) await s.verified;
  } catch (err) {
    throw new CommitSignatureError(
      revision,
      `its OpenPGP signature by key ${signer} is not valid: ${errorMessage(err)}`,
    );
  }
  return { format: 'openpgp', key: signer };
}

/** Reads SSH wire-format fields (uint32 length-prefixed strings). */
class Wire {
  #at = 0;
  readonly #buf: Buffer;
  constructor(buf: Buffer) {
    this.#buf = buf;
  }
  bytes(): Buffer {
    if (this.#at + 4 > this.#buf.length) throw new Error('truncated');
    const n = this.#buf.readUInt32BE(this.#at);
    this.#at += 4;
    if (this.#at + n > this.#buf.length) throw new Error('truncated');
    const out = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  string(): string {
    return this.bytes().toString('utf8');
  }
  raw(n: number): Buffer {
    const out = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  uint32(): number {
    const v = this.#buf.readUInt32BE(this.#at);
    this.#at += 4;
    return v;
  }
}

function sshString(b: Buffer | string): Buffer {
  const bytes = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function verifySsh(payload: Buffer, armored: string, revision: string, keys: AllowedKeys): Signer {
  const body = armored
    .replace('-----BEGIN SSH SIGNATURE-----', '')
    .replace('-----END SSH SIGNATURE-----', '')
    .replace(/\s+/g, '');
  let parsed: { key: Buffer; namespace: string; reserved: Buffer; hash: string; sig: Buffer };
  try {
    const w = new Wire(Buffer.from(body, 'base64'));
    if (w.raw(6).toString() !== 'SSHSIG') throw new Error('not an SSHSIG blob');
    const version = w.uint32();
    if (version !== 1) throw new Error(`version ${version}`);
    parsed = {
      key: w.bytes(),
      namespace: w.string(),
      reserved: w.bytes(),
      hash: w.string(),
      sig: w.bytes(),
    };
  } catch (err) {
    throw new CommitSignatureError(
      revision,
      `its SSH signature cannot be read: ${errorMessage(err)}`,
    );
  }
  const print = fingerprint(parsed.key);
  if (!keys.ssh.some((k) => k.blob.equals(parsed.key))) {
    throw new CommitSignatureError(
      revision,
      `it is signed by SSH key ${print}, which is not an allowed key`,
    );
  }
  const bad = (why: string) =>
    new CommitSignatureError(revision, `its SSH signature by key ${print} is not valid: ${why}`);
  if (parsed.namespace !== 'git') throw bad(`namespace "${parsed.namespace}" is not "git"`);
  if (parsed.hash !== 'sha512' && parsed.hash !== 'sha256')
    throw bad(`hash ${parsed.hash} is not supported`);
  const signed = Buffer.concat([
    Buffer.from('SSHSIG'),
    sshString(parsed.namespace),
    sshString(parsed.reserved),
    sshString(parsed.hash),
    sshString(createHash(parsed.hash).update(payload).digest()),
  ]);
  let ok: boolean;
  try {
    ok = checkSshSignature(parsed.key, parsed.sig, signed);
  } catch (err) {
    throw bad(errorMessage(err));
  }
  if (!ok) throw bad('the signature does not match the commit');
  return { format: 'ssh', key: print };
}

/** Verifies an SSH signature blob over `data` with the public key blob `keyBlob`. */
function checkSshSignature(keyBlob: Buffer, sigBlob: Buffer, data: Buffer): boolean {
  const key = new Wire(keyBlob);
  const keyType = key.string();
  const sig = new Wire(sigBlob);
  const sigType = sig.string();
  const sigBytes = sig.bytes();
  const b64u = (b: Buffer) => b.toString('base64url');
  if (keyType === 'ssh-ed25519') {
    if (sigType !== 'ssh-ed25519') throw new Error(`signature type ${sigType} for an ed25519 key`);
    const pub = jwk({ kty: 'OKP', crv: 'Ed25519', x: b64u(key.bytes()) });
    return cryptoVerify(null, data, pub, sigBytes);
  }
  if (keyType === 'ssh-rsa') {
    const e = stripZeros(key.bytes());
    const n = stripZeros(key.bytes());
    const hash = { 'rsa-sha2-512': 'sha512', 'rsa-sha2-256': 'sha256' }[sigType];
    if (!hash) throw new Error(`signature type ${sigType} is not allowed (SHA-1)`);
    return cryptoVerify(hash, data, jwk({ kty: 'RSA', n: b64u(n), e: b64u(e) }), sigBytes);
  }
  const curve = /^ecdsa-sha2-nistp(256|384|521)$/.exec(keyType)?.[1];
  if (curve) {
    if (sigType !== keyType) throw new Error(`signature type ${sigType} for a ${keyType} key`);
    key.string(); // curve name, repeated
    const point = key.bytes(); // 0x04 || x || y
    const size = (point.length - 1) / 2;
    const pub = jwk({
      kty: 'EC',
      crv: `P-${curve}`,
      x: b64u(point.subarray(1, 1 + size)),
      y: b64u(point.subarray(1 + size)),
    });
    const rs = new Wire(sigBytes);
    const pad = (b: Buffer) => {
      const v = stripZeros(b);
      return Buffer.concat([Buffer.alloc(Math.max(0, size - v.length)), v]);
    };
    const ieee = Buffer.concat([pad(rs.bytes()), pad(rs.bytes())]);
    const hash = { '256': 'sha256', '384': 'sha384', '521': 'sha512' }[curve];
    return cryptoVerify(hash, data, { key: pub, dsaEncoding: 'ieee-p1363' }, ieee);
  }
  throw new Error(`key type ${keyType} is not supported`);
}

function jwk(key: Record<string, string>): KeyObject {
  return createPublicKey({ key, format: 'jwk' });
}

/** SSH mpints carry a leading zero byte when the high bit is set. */
function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/**
 * Reads allowed keys from a file, or from every file of a folder (a mounted
 * Secret: its `..data` links and hidden entries are skipped).
 */
export function keysFromFile(path: string): () => Promise<string> {
  return async () => {
    const stat = await fs.promises.stat(path);
    if (!stat.isDirectory()) return fs.promises.readFile(path, 'utf8');
    const names = (await fs.promises.readdir(path)).filter((n) => !n.startsWith('.')).sort();
    const texts = await Promise.all(
      names.map(async (n) => {
        const file = join(path, n);
        return (await fs.promises.stat(file)).isFile() ? fs.promises.readFile(file, 'utf8') : '';
      }),
    );
    return texts.join('\n');
  };
}

/** Reads allowed keys from every value of a Secret (read again for each commit checked). */
export function keysFromSecret(
  client: { get(ref: ObjectRef): Promise<KubeObject | undefined> },
  namespace: string,
  name: string,
): () => Promise<string> {
  return async () => {
    const secret = await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name });
    if (!secret) throw new Error(`Secret ${namespace}/${name} does not exist`);
    const data = (secret['data'] ?? {}) as Record<string, string>;
    return Object.keys(data)
      .sort()
      .map((k) => Buffer.from(data[k] ?? '', 'base64').toString('utf8'))
      .join('\n');
  };
}
