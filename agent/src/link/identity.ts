import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { errorMessage } from '@driftless/common';
import { Marks, type KubeObject } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
import { IdentityInvalidError, IdentityStoreError } from './errors.ts';

x509.cryptoProvider.set(webcrypto as never);

/** The agent's credentials towards the hub: its own key, the hub-signed certificate, the CA. */
export interface Identity {
  /** PKCS#8 PEM private key; generated in the cluster, never sent anywhere. */
  keyPem: string;
  /** PEM client certificate chain, leaf first (CN = the cluster). */
  certPem: string;
  /** PEM CA bundle to trust for the hub's server certificate. */
  caPem: string;
  /**
   * Credentials of the NATS link, when the agent enrolled for it: the seed of
   * the user nkey it generated (never sent anywhere) and the user JWT the hub
   * signed for its public key.
   */
  nats?: { seed: string; jwt: string };
}

/** Where the identity lives between restarts (a Secret in production, memory in tests). */
export interface IdentityStore {
  /** The stored identity, or undefined before the first enrollment. */
  load(): Promise<Identity | undefined>;
  /** Stores (replaces) the identity. */
  save(identity: Identity): Promise<void>;
  /** Where the identity is kept, for messages (e.g. `driftless/driftless-agent-identity`). */
  readonly where?: string;
}

/** A fresh key pair and a CSR for it. */
export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * Generates an EC P-256 key and a PKCS#10 CSR for it. The CSR's subject is a
 * courtesy: the hub sets the certificate's identity from the enrollment
 * token (or the authenticated stream), never from the CSR.
 */
export async function generateKeyAndCsr(cluster: string): Promise<KeyAndCsr> {
  const keys = await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${cluster}`,
    keys: keys as never,
    signingAlgorithm: EC_P256,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
  return { keyPem, csrPem: csr.toString('pem') };
}

/** Validity of the leaf certificate of a PEM chain. */
export interface CertificateInfo {
  notBeforeMs: number;
  notAfterMs: number;
  /** Upper-case hex serial, as the hub records it. */
  serial: string;
  subject: string;
}

/** Reads the leaf of a PEM certificate chain; throws {@link IdentityInvalidError} when unreadable. */
export function certificateInfo(certPem: string): CertificateInfo {
  try {
    const leaf = new X509Certificate(certPem);
    return {
      notBeforeMs: Date.parse(leaf.validFrom),
      notAfterMs: Date.parse(leaf.validTo),
      serial: leaf.serialNumber.toUpperCase(),
      subject: leaf.subject,
    };
  } catch (err) {
    throw new IdentityInvalidError(`client certificate is not readable PEM: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** Whether `keyPem` is the private key of the leaf certificate of `certPem`. */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/**
 * When to renew a certificate: at `fraction` (default 2/3) of its lifetime,
 * so a renewal that fails keeps a third of the lifetime to be retried in.
 * The lifetime counts from `receivedMs` when later than notBefore: issuers
 * backdate notBefore for clock skew (the hub by 5 minutes), which would make a
 * short certificate look due for renewal the moment it arrives.
 */
export function renewAtMs(info: CertificateInfo, fraction = 2 / 3, receivedMs = 0): number {
  const start = Math.max(info.notBeforeMs, Math.min(receivedMs, info.notAfterMs));
  return start + (info.notAfterMs - start) * fraction;
}

/** Name of the Secret holding the agent's identity. */
export const IDENTITY_SECRET = 'driftless-agent-identity';

/**
 * Keeps the identity in a `kubernetes.io/tls` Secret (tls.key, tls.crt, plus
 * ca.crt) in the agent's state namespace, written by server-side apply, so a
 * restarted agent reconnects without a token. Error messages name the Secret,
 * never its content.
 */
export class SecretIdentityStore implements IdentityStore {
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #name: string;

  constructor(client: KubeClient, namespace: string, name = IDENTITY_SECRET) {
    this.#client = client;
    this.#namespace = namespace;
    this.#name = name;
  }

  /** `namespace/name` of the Secret, for messages. */
  get where(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  async load(): Promise<Identity | undefined> {
    let secret: KubeObject | undefined;
    try {
      secret = await this.#client.get({
        apiVersion: 'v1',
        kind: 'Secret',
        namespace: this.#namespace,
        name: this.#name,
      });
    } catch (err) {
      throw new IdentityStoreError(`read Secret ${this.where}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    if (!secret) return undefined;
    const data = (secret['data'] ?? {}) as Record<string, string>;
    const field = (k: string) => Buffer.from(data[k] ?? '', 'base64').toString('utf8');
    const identity: Identity = {
      keyPem: field('tls.key'),
      certPem: field('tls.crt'),
      caPem: field('ca.crt'),
    };
    const natsSeed = field('nats.seed');
    const natsJwt = field('nats.jwt');
    if (natsSeed && natsJwt) identity.nats = { seed: natsSeed, jwt: natsJwt };
    if (!identity.keyPem || !identity.certPem || !identity.caPem)
      throw new IdentityInvalidError(
        `Secret ${this.where} lacks tls.key, tls.crt or ca.crt; delete it and enroll again with a new token`,
      );
    if (!keyMatchesCertificate(identity.keyPem, identity.certPem))
      throw new IdentityInvalidError(
        `Secret ${this.where}: tls.key is not the key of tls.crt; delete it and enroll again with a new token`,
      );
    return identity;
  }

  async save(identity: Identity): Promise<void> {
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    try {
      await this.#client.apply(
        {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'kubernetes.io/tls',
          metadata: {
            name: this.#name,
            namespace: this.#namespace,
            labels: { [Marks.managedBy]: Marks.managedByValue },
          },
          data: {
            'tls.key': b64(identity.keyPem),
            'tls.crt': b64(identity.certPem),
            'ca.crt': b64(identity.caPem),
            ...(identity.nats
              ? { 'nats.seed': b64(identity.nats.seed), 'nats.jwt': b64(identity.nats.jwt) }
              : {}),
          },
        },
        { fieldManager: 'driftless-agent-identity' },
      );
    } catch (err) {
      throw new IdentityStoreError(`write Secret ${this.where}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }
}

/** An identity store in memory, for tests and for `--hub-address` without a cluster. */
export class MemoryIdentityStore implements IdentityStore {
  #identity: Identity | undefined;
  constructor(identity?: Identity) {
    this.#identity = identity;
  }
  async load(): Promise<Identity | undefined> {
    return this.#identity;
  }
  async save(identity: Identity): Promise<void> {
    this.#identity = identity;
  }
}
