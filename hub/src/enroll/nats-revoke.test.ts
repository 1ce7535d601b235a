import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it, mock } from 'node:test';
import { createUser } from 'nkeys.js';
import { createLogger } from '@driftless/common';
import { openStore, type Store } from '../store/index.ts';
import { CertificateAuthority, Enroller, FailureLimiter, mintToken } from './index.ts';
import { NatsAuthority } from './nats-auth.ts';

x509.cryptoProvider.set(webcrypto as never);

/**
 * A revoked cluster's agent must lose its NATS access: every user JWT the hub handed out for
 * the cluster is covered by the account's revocations (user key → time; a JWT issued at or
 * before that time is refused by nats-server).
 */

const dir = mkdtempSync(join(tmpdir(), 'driftless-nats-revoke-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const log = createLogger({ name: 'test', level: 'silent' });
const audit = { actor: 'test', action: 'cluster.revoke', target: 'cluster/c' };

async function makeCsr(): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=whatever',
    keys: keys as never,
    signingAlgorithm: alg,
  });
  return csr.toString('pem');
}

/** The `iat` (seconds) and subject of a NATS user JWT. */
function claims(jwt: string): { iat: number; sub: string } {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as {
    iat: number;
    sub: string;
  };
}

async function setup(wrap: (s: Store) => Store = (s) => s) {
  const store = await openStore({ kind: 'sqlite', path: ':memory:' });
  const { ca } = await CertificateAuthority.loadOrCreate({ dataDir: dir });
  const { auth } = await NatsAuthority.loadOrCreate(dir);
  // The JWTs' issue times come from Date: one clock for the hub and them.
  const clock = { now: () => Date.now(), sleep: async () => undefined };
  const enroller = new Enroller({
    store: wrap(store),
    ca,
    nats: auth,
    limiter: new FailureLimiter({ maxFailures: 100, windowMs: 60_000, clock }),
    clientCertValidityMs: 3_600_000,
    log,
    clock,
  });
  const enroll = async (cluster: string, natsKey: string) => {
    const t = mintToken('enrollment');
    await store.createEnrollmentToken(
      {
        id: t.id,
        secretHash: t.secretHash,
        cluster,
        labels: {},
        createdMs: Date.now(),
        createdBy: 'test',
        expiresMs: Date.now() + 600_000,
        maxUses: 1,
        uses: 0,
        revokedMs: 0,
        lastUsedMs: 0,
      },
      { actor: 'test', action: 'token.create', target: `token/${t.id}` },
    );
    return enroller.enroll(
      {
        token: t.text,
        clusterName: cluster,
        csrPem: await makeCsr(),
        agentVersion: '1.0.0',
        labels: {},
        natsUserPublicKey: natsKey,
      },
      'peer',
    );
  };
  /** Whether nats-server would refuse `jwt` with the hub's current revocations. */
  const revoked = async (jwt: string) => {
    const c = claims(jwt);
    const r = (await store.listRevokedNatsUsers()).find((u) => u.publicKey === c.sub);
    return r !== undefined && c.iat <= Math.ceil(r.revokedMs / 1000);
  };
  return {
    store,
    enroll,
    revoked,
    advance: (ms: number) => mock.timers.setTime(Date.now() + ms),
    now: () => Date.now(),
  };
}

describe('NATS credentials of a revoked cluster', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 }));
  afterEach(() => mock.timers.reset());

  it('a second revocation covers credentials issued for a NATS key used before', async () => {
    const h = await setup();
    const key = createUser().getPublicKey();
    const first = await h.enroll('c', key);
    h.advance(10_000);
    await h.store.revokeCluster('c', h.now(), audit);
    assert.equal(await h.revoked(first.natsUserJwt), true);
    h.advance(10_000);
    await h.store.allowEnrollment('c', h.now(), { ...audit, action: 'cluster.allow-enroll' });
    // The same key again: the hub must not hand out credentials that outlive the next
    // revocation (nats_users kept the first revocation's time, older than this JWT).
    let second: Awaited<ReturnType<typeof h.enroll>> | undefined;
    try {
      second = await h.enroll('c', key);
    } catch (err) {
      assert.match(String((err as Error).message), /NATS user key .* new key/);
    }
    h.advance(10_000);
    await h.store.revokeCluster('c', h.now(), audit);
    if (second) assert.equal(await h.revoked(second.natsUserJwt), true, 'revoked twice, still in');
    await h.store.close();
  });

  it('a revocation covers a key that a database already holds as revoked earlier', async () => {
    const h = await setup();
    await h.enroll('c', createUser().getPublicKey());
    // As a hub before reused keys were refused left it: a key revoked once, then given new
    // credentials, its row still holding the first revocation's time.
    const key = createUser().getPublicKey();
    await h.store.recordNatsUser({ publicKey: key, cluster: 'c', issuedMs: 1, revokedMs: 2 });
    await h.store.revokeCluster('c', h.now(), audit);
    const row = (await h.store.listRevokedNatsUsers()).find((u) => u.publicKey === key);
    assert.equal(row?.revokedMs, h.now());
    await h.store.close();
  });

  it('a key used by one cluster cannot be enrolled for another', async () => {
    const h = await setup();
    const key = createUser().getPublicKey();
    await h.enroll('a', key);
    await assert.rejects(h.enroll('b', key), {
      name: 'InvalidArgumentError',
      message:
        /enroll cluster b: NATS user key U\w+ already has credentials; enroll with a new key/,
    });
    assert.equal(await h.store.getCluster('b'), undefined, 'nothing recorded');
    await h.store.close();
  });

  it('a revocation that lands while the enrollment completes covers its credentials', async () => {
    const hook: { revoke?: () => Promise<void> } = {};
    const h = await setup(
      (s) =>
        new Proxy(s, {
          get(target, prop, receiver) {
            if (prop !== 'completeEnrollment') return Reflect.get(target, prop, receiver) as never;
            return async (c: Parameters<Store['completeEnrollment']>[0]) => {
              const ok = await target.completeEnrollment(c);
              // An administrator revokes the cluster right after the enrollment committed.
              await hook.revoke?.();
              return ok;
            };
          },
        }),
    );
    hook.revoke = () => h.store.revokeCluster('c', h.now(), audit);
    const out = await h.enroll('c', createUser().getPublicKey());
    assert.equal((await h.store.getCluster('c'))?.enrollmentBlocked, true);
    assert.equal(await h.revoked(out.natsUserJwt), true, 'the revoked cluster keeps NATS access');
    await h.store.close();
  });

  it('an enrollment is in the audit log, with the token it used and the certificate it got', async () => {
    const h = await setup();
    const out = await h.enroll('audited', createUser().getPublicKey());
    const entries = (await h.store.listAudit({})).filter((e) => e.action === 'cluster.enroll');
    assert.equal(entries.length, 1, 'a cluster joined the hub and the audit log does not say so');
    const e = entries[0]!;
    assert.equal(e.target, 'cluster/audited');
    assert.match(e.actor, /^enrollment token et_\w+ \(from peer\)$/);
    assert.equal(e.details['natsCredentials'], true);
    assert.equal(typeof e.details['certificateSerial'], 'string');
    assert.ok(!JSON.stringify(e).includes(out.natsUserJwt), 'no credential in the audit log');
    await h.store.close();
  });
});
