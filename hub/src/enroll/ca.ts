import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import * as x509 from '@peculiar/x509';
import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  webcrypto,
  X509Certificate,
} from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DNS_LABEL,
  DNS_LABEL_RULE,
  TerminalError,
  systemClock,
  type Clock,
} from '@driftless/common';
import { InvalidArgumentError } from '../errors.ts';

x509.cryptoProvider.set(webcrypto as never);

/** The CA's files could not be read, parsed or written. */
export class CaError extends TerminalError {
  override name = 'CaError';
}

/** Options of {@link loadOrCreateCa}. */
export interface CaOptions {
  /** Where `ca.crt` and `ca.key` (mode 0600) live when not given as files. */
  dataDir: string;
  /** PEM certificate of an existing CA; with `keyFile`, used instead of the data directory. */
  certFile?: string;
  /** PEM private key (PKCS#8) of that CA. */
  keyFile?: string;
  /** Validity of a CA created here. Default 10 years. */
  validityMs?: number;
  clock?: Clock;
}

/** A client certificate issued to a cluster. */
export interface IssuedCertificate {
  certificatePem: string;
  /** Upper-case hex, as Node's X509Certificate and TLS peer certificates print it. */
  serial: string;
  notAfterMs: number;
  issuedMs: number;
}

const EC_CURVES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};
const MIN_RSA_BITS = 2048;
const SKEW_MS = 5 * 60_000; // notBefore slack for agents whose clocks run a little behind
const DAY = 86_400_000;

/** A cluster name as certificates and tokens carry it: a DNS label (see common's names.ts). */
export const CLUSTER_NAME = DNS_LABEL;

/** Throws InvalidArgumentError unless `name` is a valid cluster name. */
export function checkClusterName(name: string): void {
  if (!CLUSTER_NAME.test(name))
    throw new InvalidArgumentError(`cluster name "${name.slice(0, 80)}": ${DNS_LABEL_RULE}`);
}

function signingAlgorithm(key: webcrypto.CryptoKey): { name: string; hash: string } {
  return key.algorithm.name === 'ECDSA'
    ? { name: 'ECDSA', hash: 'SHA-256' }
    : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

async function importPrivateKey(pem: string, source: string): Promise<webcrypto.CryptoKey> {
  try {
    const key = createPrivateKey(pem);
    const der = key.export({ format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType === 'ec') {
      const curve = EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (!curve) throw new Error(`unsupported curve ${key.asymmetricKeyDetails?.namedCurve}`);
      return await webcrypto.subtle.importKey(
        'pkcs8',
        der,
        { name: 'ECDSA', namedCurve: curve },
        true,
        ['sign'],
      );
    }
    if (key.asymmetricKeyType === 'rsa')
      return await webcrypto.subtle.importKey(
        'pkcs8',
        der,
        { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        true,
        ['sign'],
      );
    throw new Error(`unsupported key type ${key.asymmetricKeyType}; use EC P-256/P-384 or RSA`);
  } catch (err) {
    throw new CaError(`load CA key ${source}: ${(err as Error).message}`, { cause: err });
  }
}

/** A random positive 128-bit serial whose first byte is non-zero, so its hex form is canonical. */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString('hex').toUpperCase();
}

/**
 * Checks a CSR: well-formed, self-signed by its key (proof the requester holds
 * it) and a key strong enough: RSA of at least 2048 bits, EC P-256/P-384/P-521
 * or Ed25519. Returns its public key.
 */
export async function checkCsr(csrPem: string, what: string): Promise<x509.PublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new InvalidArgumentError(`${what}: CSR is not a PEM PKCS#10 certificate request`, {
      cause: err,
    });
  }
  const spki = createPublicKey({
    key: Buffer.from(csr.publicKey.rawData),
    format: 'der',
    type: 'spki',
  });
  const type = spki.asymmetricKeyType;
  const details = spki.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS)
      throw new InvalidArgumentError(
        `${what}: CSR key too weak: RSA ${details.modulusLength} bits, need at least ${MIN_RSA_BITS}`,
      );
  } else if (type === 'ec') {
    if (!EC_CURVES[details.namedCurve ?? ''])
      throw new InvalidArgumentError(
        `${what}: CSR key too weak or unsupported: EC curve ${details.namedCurve}; use P-256, P-384 or P-521`,
      );
  } else if (type !== 'ed25519') {
    throw new InvalidArgumentError(
      `${what}: CSR key type ${type} is not allowed; use EC P-256, RSA 2048+ or Ed25519`,
    );
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid)
    throw new InvalidArgumentError(`${what}: CSR signature does not verify with its own key`);
  return csr.publicKey;
}

/**
 * The hub's certificate authority. It signs client certificates for clusters
 * (identity = CN and a SPIFFE-style URI SAN) and the hub's own TLS server
 * certificate. It never sees an agent's private key: agents send CSRs.
 */
export class CertificateAuthority {
  readonly #key: webcrypto.CryptoKey;
  readonly #cert: x509.X509Certificate;
  readonly #clock: Clock;
  /** PEM of the CA certificate. */
  readonly certPem: string;

  private constructor(key: webcrypto.CryptoKey, cert: x509.X509Certificate, clock: Clock) {
    this.#key = key;
    this.#cert = cert;
    this.#clock = clock;
    this.certPem = cert.toString('pem') + '\n';
  }

  /** The CA bundle handed to agents: every CA they must trust (one, until CA rotation exists). */
  get bundlePem(): string {
    return this.certPem;
  }

  /** Node's view of the CA certificate, to verify peer certificates with. */
  get nodeCertificate(): X509Certificate {
    return new X509Certificate(this.certPem);
  }

  /** Loads the CA from `certFile`/`keyFile`, or from the data directory, creating it there on first start. */
  static async loadOrCreate(
    options: CaOptions,
  ): Promise<{ ca: CertificateAuthority; created: boolean }> {
    const clock = options.clock ?? systemClock;
    if (options.certFile || options.keyFile) {
      if (!options.certFile || !options.keyFile)
        throw new CaError('CA from files: give both the certificate file and the key file');
      return {
        ca: await CertificateAuthority.#load(options.certFile, options.keyFile, clock),
        created: false,
      };
    }
    const certFile = join(options.dataDir, 'ca.crt');
    const keyFile = join(options.dataDir, 'ca.key');
    try {
      return { ca: await CertificateAuthority.#load(certFile, keyFile, clock), created: false };
    } catch (err) {
      if ((err as { cause?: { code?: string } }).cause?.code !== 'ENOENT') throw err;
    }
    const ca = await CertificateAuthority.#create(clock, options.validityMs ?? 3650 * DAY);
    try {
      await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
      const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', ca.#key));
      const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
        .export({ format: 'pem', type: 'pkcs8' })
        .toString();
      // 'wx' never overwrites a key another process just wrote; 0600 keeps it owner-only.
      await writeFile(keyFile, keyPem, { mode: 0o600, flag: 'wx' });
      await chmod(keyFile, 0o600);
      await writeFile(certFile, ca.certPem, { mode: 0o644, flag: 'wx' });
    } catch (err) {
      throw new CaError(`create CA in ${options.dataDir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return { ca, created: true };
  }

  static async #load(
    certFile: string,
    keyFile: string,
    clock: Clock,
  ): Promise<CertificateAuthority> {
    let certPem: string;
    let keyPem: string;
    try {
      certPem = await readFile(certFile, 'utf8');
      keyPem = await readFile(keyFile, 'utf8');
    } catch (err) {
      throw new CaError(`load CA from ${certFile} and ${keyFile}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(certPem);
    } catch (err) {
      throw new CaError(`load CA certificate ${certFile}: not a PEM certificate`, { cause: err });
    }
    const key = await importPrivateKey(keyPem, keyFile);
    const nodeCert = new X509Certificate(certPem);
    if (!nodeCert.checkPrivateKey(createPrivateKey(keyPem)))
      throw new CaError(`load CA: key ${keyFile} does not belong to certificate ${certFile}`);
    if (!nodeCert.ca)
      throw new CaError(`load CA certificate ${certFile}: it is not a CA (basicConstraints)`);
    return new CertificateAuthority(key, cert, clock);
  }

  static async #create(clock: Clock, validityMs: number): Promise<CertificateAuthority> {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const now = clock.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: newSerial(),
      name: `CN=Driftless hub CA ${newSerial().slice(0, 8)}`,
      notBefore: new Date(now - SKEW_MS),
      notAfter: new Date(now + validityMs),
      keys: keys as never,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new CertificateAuthority(keys.privateKey, cert, clock);
  }

  async #sign(params: {
    subject: string;
    publicKey: x509.PublicKey | webcrypto.CryptoKey;
    validityMs: number;
    extensions: x509.Extension[];
  }): Promise<IssuedCertificate> {
    const now = this.#clock.now();
    const serial = newSerial();
    const notAfter = Math.min(now + params.validityMs, this.#cert.notAfter.getTime());
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: params.subject,
      issuer: this.#cert.subject,
      notBefore: new Date(now - SKEW_MS),
      notAfter: new Date(notAfter),
      signingKey: this.#key as never,
      publicKey: params.publicKey,
      signingAlgorithm: signingAlgorithm(this.#key),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        await x509.AuthorityKeyIdentifierExtension.create(this.#cert),
        ...params.extensions,
      ],
    });
    // Certificates carry whole seconds, so report the expiry the certificate really has.
    return {
      certificatePem: cert.toString('pem') + '\n',
      serial,
      notAfterMs: cert.notAfter.getTime(),
      issuedMs: now,
    };
  }

  /**
   * Signs a client certificate for `cluster` from the agent's CSR. The subject
   * of the CSR is ignored: the identity is the cluster the caller authorised.
   */
  async issueClientCertificate(params: {
    csrPem: string;
    cluster: string;
    validityMs: number;
  }): Promise<IssuedCertificate> {
    checkClusterName(params.cluster);
    const publicKey = await checkCsr(params.csrPem, `certificate for cluster ${params.cluster}`);
    return this.#sign({
      subject: `CN=${params.cluster}, O=driftless-cluster`,
      publicKey,
      validityMs: params.validityMs,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: clusterUri(params.cluster) },
        ]),
      ],
    });
  }

  /** A fresh key and server certificate for the hub's gRPC TLS, valid for `names` (DNS names or IPs). */
  async issueServerCertificate(
    names: string[],
    validityMs = 365 * DAY,
  ): Promise<{ certPem: string; keyPem: string }> {
    const alg = { name: 'ECDSA', namedCurve: 'P-256' };
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const san = names.map((n) =>
      /^[\d.]+$|:/.test(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n },
    );
    const issued = await this.#sign({
      subject: 'CN=driftless-hub',
      publicKey: keys.publicKey,
      validityMs,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(san),
      ],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
      .export({ format: 'pem', type: 'pkcs8' })
      .toString();
    return { certPem: issued.certificatePem + this.certPem, keyPem };
  }
}

/** The URI SAN that names a cluster in its certificate. */
export function clusterUri(cluster: string): string {
  return `spiffe://driftless/cluster/${cluster}`;
}
