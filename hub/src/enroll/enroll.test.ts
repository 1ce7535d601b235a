import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { webcrypto, X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@driftless/common';
import { openStore, type Store } from '../store/index.ts';
import {
  CertificateAuthority,
  Enroller,
  FailureLimiter,
  mintToken,
  parseToken,
  peerAddress,
  secretMatches,
} from './index.ts';

x509.cryptoProvider.set(webcrypto as never);

/** A CSR as an agent makes it: its own key, never sent. */
async function makeCsr(kind: 'ec' | 'rsa1024' = 'ec'): Promise<string> {
  const alg =
    kind === 'ec'
      ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
      : {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 1024,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        };
  const keys = await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=whatever',
    keys: keys as never,
    signingAlgorithm: alg,
  });
  return csr.toString('pem');
}

const dir = mkdtempSync(join(tmpdir(), 'driftless-enroll-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const log = createLogger({ name: 'test', level: 'silent' });

describe('tokens', () => {
  it('round-trips and compares secrets in constant time', () => {
    const t = mintToken('enrollment');
    const p = parseToken('enrollment', t.text);
    assert.equal(p?.id, t.id);
    assert.equal(secretMatches(p.secret, t.secretHash), true);
    assert.equal(secretMatches('x'.repeat(43), t.secretHash), false);
    assert.equal(secretMatches(p.secret, undefined), false);
    assert.equal(parseToken('api', t.text), undefined, 'an enrollment token is not an API token');
    assert.equal(parseToken('enrollment', 'garbage'), undefined);
  });
  it('parses peer addresses', () => {
    assert.equal(peerAddress('ipv4:127.0.0.1:5000'), '127.0.0.1');
    assert.equal(peerAddress('ipv6:[::1]:5000'), '::1');
  });
});

describe('certificate authority', () => {
  it('is created once with a 0600 key and loaded afterwards', async () => {
    const first = await CertificateAuthority.loadOrCreate({ dataDir: dir });
    assert.equal(first.created, true);
    assert.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
    const second = await CertificateAuthority.loadOrCreate({ dataDir: dir });
    assert.equal(second.created, false);
    assert.equal(second.ca.certPem, first.ca.certPem);
    const fromFiles = await CertificateAuthority.loadOrCreate({
      dataDir: '/nonexistent',
      certFile: join(dir, 'ca.crt'),
      keyFile: join(dir, 'ca.key'),
    });
    assert.equal(fromFiles.ca.certPem, first.ca.certPem);
  });

  it('signs a client certificate whose identity is the cluster', async () => {
    const { ca } = await CertificateAuthority.loadOrCreate({ dataDir: dir });
    const issued = await ca.issueClientCertificate({
      csrPem: await makeCsr(),
      cluster: 'prod-eu',
      validityMs: 3_600_000,
    });
    const cert = new X509Certificate(issued.certificatePem);
    assert.equal(cert.verify(ca.nodeCertificate.publicKey), true);
    assert.match(cert.subject, /CN=prod-eu/);
    assert.equal(cert.subjectAltName, 'URI:spiffe://driftless/cluster/prod-eu');
    assert.equal(cert.serialNumber, issued.serial);
    assert.ok(issued.notAfterMs <= Date.now() + 3_600_000);
    await assert.rejects(
      ca.issueClientCertificate({ csrPem: await makeCsr('rsa1024'), cluster: 'x', validityMs: 1 }),
      /CSR key too weak: RSA 1024 bits/,
    );
    await assert.rejects(
      ca.issueClientCertificate({ csrPem: 'nope', cluster: 'x', validityMs: 1 }),
      /not a PEM PKCS#10/,
    );
  });
});

describe('enroller', () => {
  let store: Store;
  let enroller: Enroller;
  let now = Date.now();
  const clock = { now: () => now, sleep: async () => undefined };
  before(async () => {
    store = await openStore({ kind: 'sqlite', path: ':memory:' });
    const { ca } = await CertificateAuthority.loadOrCreate({ dataDir: dir });
    enroller = new Enroller({
      store,
      ca,
      limiter: new FailureLimiter({ maxFailures: 3, windowMs: 60_000, clock }),
      clientCertValidityMs: 3_600_000,
      log,
      clock,
    });
  });
  after(() => store.close());

  const token = async (cluster: string, opts: { ttl?: number; uses?: number } = {}) => {
    const t = mintToken('enrollment');
    await store.createEnrollmentToken(
      {
        id: t.id,
        secretHash: t.secretHash,
        cluster,
        labels: { env: 'prod' },
        createdMs: now,
        createdBy: 'test',
        expiresMs: now + (opts.ttl ?? 60_000),
        maxUses: opts.uses ?? 1,
        uses: 0,
        revokedMs: 0,
        lastUsedMs: 0,
      },
      { actor: 'test', action: 'token.create', target: `token/${t.id}` },
    );
    return t;
  };
  const input = (tokenText: string, clusterName: string, csrPem: string) => ({
    token: tokenText,
    clusterName,
    csrPem,
    agentVersion: '1.0.0',
    labels: { region: 'eu', env: 'dev' },
  });

  it('enrolls once with a good token; token labels win', async () => {
    const t = await token('prod-eu');
    const csr = await makeCsr();
    const out = await enroller.enroll(input(t.text, 'prod-eu', csr), 'peer-a');
    assert.match(out.certificatePem, /BEGIN CERTIFICATE/);
    assert.deepEqual((await store.getCluster('prod-eu'))?.labels, { env: 'prod', region: 'eu' });
    await assert.rejects(enroller.enroll(input(t.text, 'prod-eu', csr), 'peer-a'), {
      name: 'UnauthenticatedError',
      message: /already used/,
    });
  });

  it('refuses wrong-cluster, expired and revoked tokens, and weak keys without using the token', async () => {
    const t = await token('prod-us');
    await assert.rejects(enroller.enroll(input(t.text, 'dev-eu', await makeCsr()), 'peer-b'), {
      name: 'PermissionDeniedError',
    });
    await assert.rejects(
      enroller.enroll(input(t.text, 'prod-us', await makeCsr('rsa1024')), 'peer-b'),
      { name: 'InvalidArgumentError', message: /too weak/ },
    );
    assert.equal((await store.getEnrollmentToken(t.id))?.uses, 0);
    const expired = await token('prod-us', { ttl: 10 });
    now += 20;
    await assert.rejects(
      enroller.enroll(input(expired.text, 'prod-us', await makeCsr()), 'peer-c'),
      {
        message: /expired/,
      },
    );
    await store.revokeEnrollmentToken(t.id, now, {
      actor: 't',
      action: 'token.revoke',
      target: t.id,
    });
    await assert.rejects(enroller.enroll(input(t.text, 'prod-us', await makeCsr()), 'peer-c'), {
      message: /revoked/,
    });
  });

  it('rate-limits a peer after repeated failures, even with a good token', async () => {
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        enroller.enroll(input('et_0000000000000000.' + 'a'.repeat(43), 'x', 'csr'), 'peer-d'),
        { name: 'UnauthenticatedError' },
      );
    const good = await token('late', { ttl: 600_000 });
    await assert.rejects(enroller.enroll(input(good.text, 'late', await makeCsr()), 'peer-d'), {
      name: 'RateLimitedError',
    });
    now += 61_000;
    await enroller.enroll(input(good.text, 'late', await makeCsr()), 'peer-d');
  });
});
