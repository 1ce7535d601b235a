import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  AesGcmSecretBox,
  loadSecretBox,
  parseSecretKey,
  SealedSecretError,
  SECRET_KEY_FILE_NAME,
  SecretKeyError,
} from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'driftless-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('AesGcmSecretBox', () => {
  const key = randomBytes(32);
  const box = new AesGcmSecretBox([key]);

  test('opens what it sealed, and the sealed text shows neither the secret nor the key', () => {
    const url = 'https://hooks.example.test/services/T000/B000/XXXXSECRET';
    const sealed = box.seal(url, 'destination/ops');
    assert.equal(box.open(sealed, 'destination/ops'), url);
    assert.match(sealed, /^v1:[0-9a-f]{8}:[A-Za-z0-9_-]+$/);
    assert.ok(!sealed.includes('SECRET'));
    assert.ok(!sealed.includes(key.toString('base64')));
  });

  test('seals the same text differently each time (random nonce)', () => {
    assert.notEqual(box.seal('same'), box.seal('same'));
  });

  test('refuses a value opened under another context', () => {
    const sealed = box.seal('token', 'destination/a');
    assert.throws(() => box.open(sealed, 'destination/b'), SealedSecretError);
  });

  test('refuses altered, truncated and malformed values', () => {
    const sealed = box.seal('token');
    const [f, id, data = ''] = sealed.split(':');
    const blob = Buffer.from(data, 'base64url');
    blob[blob.length - 20]! ^= 1;
    assert.throws(() => box.open(`${f}:${id}:${blob.toString('base64url')}`), SealedSecretError);
    assert.throws(() => box.open(`${f}:${id}:AAAA`), /truncated/);
    assert.throws(() => box.open('plain text'), /malformed/);
    assert.throws(() => box.open(`v2:${id}:${data}`), /malformed/);
  });

  test('a value sealed with another key names the key it needs', () => {
    const other = new AesGcmSecretBox([randomBytes(32)]);
    assert.throws(
      () => box.open(other.seal('x')),
      (err: Error) => {
        assert.ok(err instanceof SealedSecretError);
        assert.match(err.message, new RegExp(other.keyId));
        return true;
      },
    );
  });

  test('after rotation, old values still open and new ones use the new key', () => {
    const newKey = randomBytes(32);
    const rotated = new AesGcmSecretBox([newKey, key]);
    const old = box.seal('old');
    assert.equal(rotated.open(old), 'old');
    assert.ok(rotated.seal('new').startsWith(`v1:${rotated.keyId}:`));
    assert.notEqual(rotated.keyId, box.keyId);
  });

  test('refuses keys that are not 32 bytes', () => {
    assert.throws(() => new AesGcmSecretBox([randomBytes(16)]), /32 bytes/);
    assert.throws(() => new AesGcmSecretBox([]), /at least one key/);
  });
});

describe('loadSecretBox', () => {
  test('SQLite without a key file creates secrets.key once, mode 0600, and reuses it', async () => {
    const dataDir = mkdtempSync(join(dir, 'data-'));
    const first = await loadSecretBox({ keyFile: '', dataDir, store: 'sqlite' });
    assert.equal(first.created, true);
    assert.equal(first.path, join(dataDir, SECRET_KEY_FILE_NAME));
    assert.equal(statSync(first.path).mode & 0o777, 0o600);
    const sealed = first.box.seal('hook');
    const second = await loadSecretBox({ keyFile: '', dataDir, store: 'sqlite' });
    assert.equal(second.created, false);
    assert.equal(second.box.open(sealed), 'hook');
  });

  test('an empty secrets.key (a start cut short) is replaced; no temporary file is left', async () => {
    const dataDir = mkdtempSync(join(dir, 'data-'));
    writeFileSync(join(dataDir, SECRET_KEY_FILE_NAME), '');
    const loaded = await loadSecretBox({ keyFile: '', dataDir, store: 'sqlite' });
    assert.equal(loaded.created, true);
    assert.equal(statSync(loaded.path).mode & 0o777, 0o600);
    const again = await loadSecretBox({ keyFile: '', dataDir, store: 'sqlite' });
    assert.equal(again.box.open(loaded.box.seal('kept')), 'kept');
    assert.deepEqual(readdirSync(dataDir), [SECRET_KEY_FILE_NAME]);
  });

  test('a data directory the hub cannot write is one clear error naming the key file', async () => {
    const dataDir = join(dir, 'missing-dir');
    await assert.rejects(
      loadSecretBox({ keyFile: '', dataDir, store: 'sqlite' }),
      (err: Error) =>
        err instanceof SecretKeyError && /secrets key .*missing-dir/.test(err.message),
    );
  });

  test('PostgreSQL without a key file fails with one clear error', async () => {
    await assert.rejects(
      loadSecretBox({ keyFile: '', dataDir: dir, store: 'postgres' }),
      (err: Error) =>
        err instanceof SecretKeyError &&
        /--store postgres needs --secrets-key-file/.test(err.message),
    );
  });

  test('two replicas given the same key file open each other’s values', async () => {
    const keyFile = join(dir, 'shared.key');
    writeFileSync(keyFile, randomBytes(32).toString('hex') + '\n');
    const a = await loadSecretBox({ keyFile, dataDir: dir, store: 'postgres' });
    const b = await loadSecretBox({ keyFile, dataDir: dir, store: 'postgres' });
    assert.equal(b.box.open(a.box.seal('shared', 'c'), 'c'), 'shared');
  });

  test('a missing or malformed key file is refused naming the file, not the content', async () => {
    await assert.rejects(
      loadSecretBox({ keyFile: join(dir, 'nope.key'), dataDir: dir, store: 'sqlite' }),
      /secrets key .*nope\.key/,
    );
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, 'not-a-key-but-secret-text\n');
    await assert.rejects(
      loadSecretBox({ keyFile: bad, dataDir: dir, store: 'sqlite' }),
      (err: Error) =>
        /bad\.key: expected a 32-byte key/.test(err.message) &&
        !err.message.includes('secret-text'),
    );
  });

  test('parseSecretKey reads base64, base64url and hex', () => {
    const k = randomBytes(32);
    for (const text of [k.toString('base64'), k.toString('base64url'), k.toString('hex')])
      assert.deepEqual(parseSecretKey(` ${text}\n`, 'test'), k);
    assert.throws(() => parseSecretKey(randomBytes(16).toString('base64'), 'test'), SecretKeyError);
  });
});
