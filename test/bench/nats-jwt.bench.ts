// CPU per NATS user JWT as Enroll issues it (NatsAuthority.issueAgentUser), side by side with
// the JWT library's own key pair (signing and deriving keys in JavaScript), alternating rounds;
// and CPU per whole Enroll of a NATS agent (token check, certificate from its CSR, the JWT, the
// store on SQLite in memory) either way.
//
//   node test/bench/nats-jwt.bench.ts [--jwts 200] [--enrolls 100] [--rounds 3]
//
// Prints median (min–max) CPU ms (user + system of this process) per JWT and per Enroll, and
// the ratios native ÷ library. Both ways sign the same claims with the same account signing
// key; the JWTs of one second are compared byte for byte (Ed25519 is deterministic).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createUser, encodeUser, fromSeed } from '@nats-io/jwt';
import { createLogger } from '@driftless/common';
import {
  CertificateAuthority,
  Enroller,
  FailureLimiter,
  mintToken,
} from '../../hub/src/enroll/index.ts';
import { agentPermissions, NatsAuthority } from '../../hub/src/enroll/nats-auth.ts';
import { openStore } from '../../hub/src/store/index.ts';
import { makeAgentKey } from '../integration/hub/helpers.ts';
import { median, spread } from './lib/measure.ts';

const { values } = parseArgs({
  options: {
    jwts: { type: 'string', default: '200' },
    enrolls: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
  },
});
const JWTS = Number(values.jwts);
const dataDir = mkdtempSync(join(tmpdir(), 'driftless-nats-jwt-'));
const { auth } = await NatsAuthority.loadOrCreate(dataDir);
const seedOf = (file: string) =>
  fromSeed(new TextEncoder().encode(readFileSync(join(dataDir, file), 'utf8').trim()));
// What issueAgentUser did before: the library's key pair as loaded from the seed file.
const librarySigner = seedOf('nats-account-signing.nk');
const account = seedOf('nats-account.nk').getPublicKey();
const users = Array.from({ length: JWTS }, () => createUser().getPublicKey());

const ways = {
  native: (cluster: string, user: string) => auth.issueAgentUser(cluster, user, 'bench'),
  library: (cluster: string, user: string) =>
    encodeUser(
      `agent ${cluster}`,
      user,
      librarySigner,
      { issuer_account: account, ...agentPermissions(cluster) },
      {},
    ),
};

// Same bytes: both ways within one second (iat is in seconds; the jti hashes the claims).
for (;;) {
  const second = Math.floor(Date.now() / 1000);
  const [a, b] = [await ways.native('c-0', users[0]!), await ways.library('c-0', users[0]!)];
  if (Math.floor(Date.now() / 1000) !== second) continue;
  if (a !== b) throw new Error(`the JWTs differ:\n${a}\n${b}`);
  break;
}

const cpuMsPerJwt: Record<keyof typeof ways, number[]> = { native: [], library: [] };
for (let r = 0; r < Number(values.rounds); r++)
  for (const way of ['library', 'native'] as const) {
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < JWTS; i++) await ways[way](`c-${i}`, users[i]!);
    const cpu = process.cpuUsage(cpu0);
    cpuMsPerJwt[way].push((cpu.user + cpu.system) / 1000 / JWTS);
  }

// Whole Enrolls: the hub's Enroller with the authority as loaded (native), or with only its
// JWT signing done the library's way.
const ENROLLS = Number(values.enrolls);
const store = await openStore({ kind: 'sqlite', path: ':memory:' });
const { ca } = await CertificateAuthority.loadOrCreate({ dataDir });
const libraryAuth = {
  issueAgentUser: (cluster: string, user: string) => ways.library(cluster, user),
} as unknown as NatsAuthority;
const enroller = (nats: NatsAuthority) =>
  new Enroller({
    store,
    ca,
    limiter: new FailureLimiter({ maxFailures: 1_000_000, windowMs: 60_000 }),
    clientCertValidityMs: 3_600_000,
    nats,
    log: createLogger({ name: 'bench', level: 'error' }),
  });
const enrollers = { native: enroller(auth), library: enroller(libraryAuth) };
const { csrPem } = await makeAgentKey();
let next = 0;
const enrollOne = async (way: keyof typeof ways) => {
  const cluster = `e-${next++}`;
  const t = mintToken('enrollment');
  const now = Date.now();
  await store.createEnrollmentToken(
    {
      id: t.id,
      secretHash: t.secretHash,
      cluster,
      labels: {},
      createdMs: now,
      createdBy: 'bench',
      expiresMs: now + 600_000,
      maxUses: 1,
      uses: 0,
      revokedMs: 0,
      lastUsedMs: 0,
    },
    { actor: 'bench', action: 'token.create', target: `token/${t.id}` },
  );
  const cpu0 = process.cpuUsage();
  await enrollers[way].enroll(
    {
      token: t.text,
      clusterName: cluster,
      csrPem,
      agentVersion: 'bench',
      labels: {},
      natsUserPublicKey: users[next % users.length]!,
    },
    'bench',
  );
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000;
};
const cpuMsPerEnroll: Record<keyof typeof ways, number[]> = { native: [], library: [] };
for (let r = 0; r < Number(values.rounds); r++)
  for (const way of ['library', 'native'] as const) {
    let ms = 0;
    for (let i = 0; i < ENROLLS; i++) ms += await enrollOne(way);
    cpuMsPerEnroll[way].push(ms / ENROLLS);
  }
await store.close();

const fmt = (v: number) => v.toFixed(2);
const ratio = (m: Record<keyof typeof ways, number[]>) =>
  +(median(m.native) / median(m.library)).toFixed(3);
console.log(
  JSON.stringify(
    {
      jwtsPerRound: JWTS,
      cpuMsPerJwt: {
        library: spread(cpuMsPerJwt.library, fmt),
        native: spread(cpuMsPerJwt.native, fmt),
      },
      jwtRatioNativeToLibrary: ratio(cpuMsPerJwt),
      sameBytes: true,
      enrollsPerRound: ENROLLS,
      cpuMsPerEnroll: {
        library: spread(cpuMsPerEnroll.library, fmt),
        native: spread(cpuMsPerEnroll.native, fmt),
      },
      enrollRatioNativeToLibrary: ratio(cpuMsPerEnroll),
    },
    null,
    2,
  ),
);
