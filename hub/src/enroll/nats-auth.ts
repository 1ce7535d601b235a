import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fromPublic,
  fromSeed,
  type KeyPair,
} from '@nats-io/jwt';
import { TerminalError } from '@driftless/common';
import { InvalidArgumentError } from '../errors.ts';

/** The NATS key material in the data directory is unreadable or not what we wrote. */
export class NatsAuthError extends TerminalError {
  override name = 'NatsAuthError';
}

/** Default JWT directory of nats-server's account resolver (see {@link NatsAuthority.serverConfig}). */
export const NATS_RESOLVER_DIR = 'driftless-jwt';

/** Name of the NATS account every agent and the hub live in. */
export const NATS_ACCOUNT_NAME = 'DRIFTLESS';

/**
 * The subject token of a cluster. Cluster names may hold dots, which NATS
 * reads as token separators; `_` is not allowed in a cluster name, so mapping
 * `.` to `_` is one-to-one and keeps a cluster inside one token (and so inside
 * its own permissions).
 */
export function clusterToken(cluster: string): string {
  return cluster.replaceAll('.', '_');
}

/** The subjects of the NATS link (one place, used by the hub, agents and the docs). */
export const natsSubjects = {
  /** Agent → hub, everything the agent publishes. */
  agentPrefix: (cluster: string) => `driftless.agent.${clusterToken(cluster)}`,
  /** Hub → agent, hints, approvals and Hello acks. */
  down: (cluster: string) => `driftless.hub.${clusterToken(cluster)}.down`,
  /** The agent's reply inbox prefix, so replies to it stay in its own namespace. */
  inbox: (cluster: string) => `_INBOX.${clusterToken(cluster)}`,
};

/**
 * What an agent's user JWT allows, and why each entry is there:
 * - publish `driftless.agent.<cluster>.>`: its reports (captured by the
 *   JetStream stream), Hello, heartbeats and acks; nothing of another cluster;
 * - publish nothing else: a JetStream publish is a plain publish with a reply
 *   subject, its ack comes back from the server to the agent's inbox, so no
 *   `$JS.API` subject is needed;
 * - subscribe `driftless.hub.<cluster>.>`: what the hub sends it;
 * - subscribe `_INBOX.<cluster>.>`: replies (publish acks, the Hello's Ack) to
 *   its own inbox prefix, so no agent can read another's replies.
 */
export function agentPermissions(cluster: string): {
  pub: { allow: string[] };
  sub: { allow: string[] };
} {
  return {
    pub: { allow: [`${natsSubjects.agentPrefix(cluster)}.>`] },
    sub: {
      allow: [`driftless.hub.${clusterToken(cluster)}.>`, `${natsSubjects.inbox(cluster)}.>`],
    },
  };
}

/** Credentials to connect with: a user JWT and the seed of its key (never logged). */
export interface NatsUserCredentials {
  jwt: string;
  seed: Uint8Array;
}

/** DER prefix of a PKCS#8 Ed25519 private key (RFC 8410), followed by the 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * `kp` with Node's native Ed25519 for signing, and its public and private keys computed once.
 * The JWT library's key pair derives the key pair from the seed in JavaScript on every
 * `getPublicKey`, `getPrivateKey` and `sign` (an encode asks for it four or five times), tens
 * of ms of CPU per JWT; Ed25519 is deterministic, so the signatures (and so the JWTs) are the
 * same bytes. Throws when `kp` holds no seed (a public key only).
 */
export function nativeKeyPair(kp: KeyPair): KeyPair {
  // The KeyPair class of the library has it; its interface leaves it out.
  const rawSeed = (kp as KeyPair & { getRawSeed(): Uint8Array }).getRawSeed();
  const key: KeyObject = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, rawSeed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = kp.getPublicKey();
  const privateKey = kp.getPrivateKey();
  return {
    getPublicKey: () => publicKey,
    getPrivateKey: () => privateKey,
    getSeed: () => kp.getSeed(),
    verify: (data, sig) => kp.verify(data, sig),
    clear: () => kp.clear(),
    seal: (...args) => kp.seal(...args),
    open: (...args) => kp.open(...args),
    sign: (data) => new Uint8Array(cryptoSign(null, data, key)),
  };
}

/** The system account: clients allowed (no JetStream there). */
const SYSTEM_ACCOUNT_LIMITS = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

/** The hub's account: as the system account's, and unlimited JetStream. */
const UNLIMITED_ACCOUNT = {
  ...SYSTEM_ACCOUNT_LIMITS,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

/**
 * The hub's NATS decentralized-auth trust chain: an operator, a system
 * account, the DRIFTLESS account with a separate signing key (which signs
 * user JWTs, so the account's identity key is used only to name it), and the
 * hub's own user. Created on first start in `<data-dir>/nats-*.nk` (0600);
 * the operator's nats-server runs with {@link serverConfig}.
 */
export class NatsAuthority {
  readonly #operator: KeyPair;
  readonly #system: KeyPair;
  readonly #account: KeyPair;
  readonly #signer: KeyPair;
  readonly #hubUser: KeyPair;

  private constructor(keys: {
    operator: KeyPair;
    system: KeyPair;
    account: KeyPair;
    signer: KeyPair;
    hubUser: KeyPair;
  }) {
    this.#operator = keys.operator;
    this.#system = keys.system;
    this.#account = keys.account;
    this.#signer = keys.signer;
    this.#hubUser = keys.hubUser;
  }

  /** Loads the keys from `<dataDir>/nats-*.nk`, creating the missing ones (mode 0600). */
  static async loadOrCreate(dataDir: string): Promise<{ auth: NatsAuthority; created: boolean }> {
    // Files next to ca.key rather than in a folder: the data directory stays flat (tools and
    // tests walk it as a list of files).
    const dir = dataDir;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let created = false;
    const key = async (file: string, make: () => KeyPair, prefix: string): Promise<KeyPair> => {
      const path = join(dir, file);
      let seed: string | undefined;
      try {
        seed = (await readFile(path, 'utf8')).trim();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          throw new NatsAuthError(`read NATS key ${path}: ${(err as Error).message}`, {
            cause: err,
          });
      }
      if (seed === undefined) {
        const kp = make();
        // 'wx': two hubs starting on one data directory must not overwrite each other's key.
        await writeFile(path, new TextDecoder().decode(kp.getSeed()) + '\n', {
          mode: 0o600,
          flag: 'wx',
        }).catch(async (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        await chmod(path, 0o600);
        created = true;
        seed = (await readFile(path, 'utf8')).trim();
      }
      try {
        const kp = fromSeed(new TextEncoder().encode(seed));
        if (!kp.getPublicKey().startsWith(prefix)) throw new Error(`not a ${prefix} key`);
        return nativeKeyPair(kp);
      } catch (err) {
        // The message names the file only: its content is a secret.
        throw new NatsAuthError(`NATS key ${path} is not a valid seed`, { cause: err });
      }
    };
    const auth = new NatsAuthority({
      operator: await key('nats-operator.nk', createOperator, 'O'),
      system: await key('nats-system-account.nk', createAccount, 'A'),
      account: await key('nats-account.nk', createAccount, 'A'),
      signer: await key('nats-account-signing.nk', createAccount, 'A'),
      hubUser: await key('nats-hub-user.nk', createUser, 'U'),
    });
    return { auth, created };
  }

  /** Public key of the DRIFTLESS account (users name it as their issuer account). */
  get accountPublicKey(): string {
    return this.#account.getPublicKey();
  }

  /**
   * The DRIFTLESS account JWT, listing `revokedUsers` (user public key → revocation time,
   * ms): nats-server then refuses those users' JWTs issued before that time and closes their
   * connections as soon as it receives the JWT.
   */
  async accountJwt(revokedUsers: readonly { publicKey: string; revokedMs: number }[] = []) {
    const revocations: Record<string, number> = {};
    // Seconds, rounded up: a JWT issued in the same second as the revocation is revoked too.
    for (const u of revokedUsers) revocations[u.publicKey] = Math.ceil(u.revokedMs / 1000);
    return encodeAccount(
      NATS_ACCOUNT_NAME,
      this.#account,
      {
        signing_keys: [this.#signer.getPublicKey()],
        limits: UNLIMITED_ACCOUNT,
        ...(revokedUsers.length ? { revocations } : {}),
      },
      { signer: this.#operator },
    );
  }

  /**
   * The nats-server configuration fragment that trusts this hub's operator: operator JWT,
   * system account, and the `full` account resolver (which takes account JWT updates at run
   * time, so a revocation reaches the server at once) preloaded with both accounts. Its JWT
   * directory is `resolverDir` (relative paths are taken from nats-server's working
   * directory). Nothing secret is in it (JWTs and public keys only).
   */
  async serverConfig(resolverDir = NATS_RESOLVER_DIR): Promise<string> {
    const operatorJwt = await encodeOperator('driftless', this.#operator, {
      system_account: this.#system.getPublicKey(),
    });
    // Connections allowed: the hub pushes account updates as a system-account user.
    const systemJwt = await encodeAccount(
      'SYS',
      this.#system,
      { limits: SYSTEM_ACCOUNT_LIMITS },
      { signer: this.#operator },
    );
    return [
      '# Driftless: trust the hub operator (generated by `driftless-hub nats-config`).',
      '# Add listen, jetstream { store_dir: ... } and TLS settings around it.',
      `operator: ${operatorJwt}`,
      `system_account: ${this.#system.getPublicKey()}`,
      `resolver: { type: full, dir: ${JSON.stringify(resolverDir)}, allow_delete: false }`,
      'resolver_preload: {',
      `  ${this.#system.getPublicKey()}: ${systemJwt}`,
      `  ${this.#account.getPublicKey()}: ${await this.accountJwt()}`,
      '}',
      '',
    ].join('\n');
  }

  /** Subject on which nats-server takes an updated JWT of the DRIFTLESS account. */
  get accountUpdateSubject(): string {
    return `$SYS.REQ.ACCOUNT.${this.#account.getPublicKey()}.CLAIMS.UPDATE`;
  }

  /** A user of the system account, to push account JWT updates (never logged). */
  async systemCredentials(): Promise<NatsUserCredentials> {
    const user = createUser();
    const jwt = await encodeUser('driftless-hub-system', user, this.#system, {}, {});
    return { jwt, seed: user.getSeed() };
  }

  /**
   * Signs a user JWT for an agent's public nkey, allowed only `cluster`'s
   * subjects ({@link agentPermissions}). Throws InvalidArgumentError when the
   * key is not a user public key.
   */
  async issueAgentUser(cluster: string, userPublicKey: string, what: string): Promise<string> {
    try {
      fromPublic(userPublicKey);
      if (!userPublicKey.startsWith('U')) throw new Error('not a user key');
    } catch {
      throw new InvalidArgumentError(
        `${what}: nats_user_public_key is not a NATS user public key (U...)`,
      );
    }
    return encodeUser(
      `agent ${cluster}`,
      userPublicKey,
      this.#signer,
      {
        issuer_account: this.#account.getPublicKey(),
        ...agentPermissions(cluster),
      },
      {},
    );
  }

  /** The hub's own user: every subject of the account (it runs the stream and answers all agents). */
  async hubCredentials(): Promise<NatsUserCredentials> {
    const jwt = await encodeUser(
      'driftless-hub',
      this.#hubUser,
      this.#signer,
      { issuer_account: this.#account.getPublicKey() },
      {},
    );
    return { jwt, seed: this.#hubUser.getSeed() };
  }
}
