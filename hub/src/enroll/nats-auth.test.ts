import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAccount, createUser, decode, fromSeed } from '@nats-io/jwt';
import { NatsAuthority, nativeKeyPair } from './nats-auth.ts';

describe('NATS signing with native Ed25519', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('signs exactly what the JWT library signs, with the same keys', () => {
    const library = createAccount();
    const native = nativeKeyPair(library);
    assert.equal(native.getPublicKey(), library.getPublicKey());
    assert.deepEqual(native.getPrivateKey(), library.getPrivateKey());
    assert.deepEqual(native.getSeed(), library.getSeed());
    for (const data of ['', 'a', 'x'.repeat(5000)].map((s) => new TextEncoder().encode(s))) {
      const sig = native.sign(data);
      assert.deepEqual(sig, library.sign(data));
      assert.ok(library.verify(data, sig));
    }
  });

  it('refuses a key pair without a seed', () => {
    const publicOnly = { getRawSeed: () => assert.fail('no seed'), getPublicKey: () => 'A' };
    assert.throws(() => nativeKeyPair(publicOnly as never));
  });

  it('issues agent JWTs signed by the account signing key in the data directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'driftless-nats-auth-'));
    dirs.push(dir);
    const { auth } = await NatsAuthority.loadOrCreate(dir);
    const user = createUser().getPublicKey();
    const jwt = await auth.issueAgentUser('eu.prod', user, 'test');
    // decode checks the signature with the library's own Ed25519.
    const claims = decode<{ issuer_account: string; pub?: { allow: string[] } }>(jwt);
    const signer = fromSeed(
      new TextEncoder().encode(readFileSync(join(dir, 'nats-account-signing.nk'), 'utf8').trim()),
    );
    assert.equal(claims.iss, signer.getPublicKey());
    assert.equal(claims.sub, user);
    assert.equal(claims.nats.issuer_account, auth.accountPublicKey);
    assert.deepEqual(claims.nats.pub?.allow, ['driftless.agent.eu_prod.>']);
  });
});
