import { execFile } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HarnessError } from './errors.ts';

const execFileAsync = promisify(execFile);
const generateKeyPairAsync = promisify(generateKeyPair);

/** Paths of the PEM files of a test cluster's PKI. */
export interface ClusterPkiFiles {
  /** Certificate authority that signs the serving and client certificates. */
  caCert: string;
  caKey: string;
  /** kube-apiserver serving certificate, valid for 127.0.0.1, localhost and the in-cluster names. */
  servingCert: string;
  servingKey: string;
  /** Private key that signs service account tokens. */
  serviceAccountKey: string;
  /** Its public half, which verifies them. */
  serviceAccountPublicKey: string;
  /** Client certificate of `driftless-admin`, in group `system:masters`. */
  adminCert: string;
  adminKey: string;
}

/** A test cluster's PKI: the file paths, and the PEM a client needs. */
export interface ClusterPki {
  /** Paths of every file. */
  files: ClusterPkiFiles;
  /** PEM of the CA certificate. */
  caCert: string;
  /** PEM of the admin client certificate. */
  adminCert: string;
  /** PEM of the admin client key. */
  adminKey: string;
}

// Extensions per certificate kind; `req -x509 -CA` (OpenSSL 3) signs in one call.
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

/** Writes a new P-256 key to `<path>.key` (SEC1, which every Kubernetes component reads) and `<path>.pub`. */
async function newKey(path: string): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  await writeFile(`${path}.key`, privateKey.export({ type: 'sec1', format: 'pem' }), {
    mode: 0o600,
  });
  await writeFile(`${path}.pub`, publicKey.export({ type: 'spki', format: 'pem' }));
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new HarnessError(`openssl ${args[0]} failed: ${stderr.trim()}`, { cause: error });
  }
}

/**
 * Creates a fresh CA, a kube-apiserver serving certificate, a service account
 * key and an admin client certificate in `dir`, with ECDSA P-256 keys made by
 * node:crypto and certificates signed by the openssl CLI.
 */
export async function createClusterPki(dir: string): Promise<ClusterPki> {
  await mkdir(dir, { recursive: true });
  const file = (name: string): string => join(dir, name);
  const config = file('openssl.cnf');
  await writeFile(config, OPENSSL_CONFIG);
  await Promise.all(['ca', 'apiserver', 'sa', 'admin'].map((name) => newKey(file(name))));
  const cert = (
    name: string,
    subject: string,
    extensions: string,
    signed: boolean,
  ): Promise<void> =>
    openssl([
      'req',
      '-config',
      config,
      '-x509',
      '-new',
      '-key',
      file(`${name}.key`),
      '-subj',
      subject,
      '-days',
      '3650',
      '-extensions',
      extensions,
      ...(signed ? ['-CA', file('ca.crt'), '-CAkey', file('ca.key')] : []),
      '-out',
      file(`${name}.crt`),
    ]);
  await cert('ca', '/CN=driftless-test-ca', 'ca', false);
  await Promise.all([
    cert('apiserver', '/CN=kube-apiserver', 'server', true),
    cert('admin', '/O=system:masters/CN=driftless-admin', 'client', true),
  ]);
  const files: ClusterPkiFiles = {
    caCert: file('ca.crt'),
    caKey: file('ca.key'),
    servingCert: file('apiserver.crt'),
    servingKey: file('apiserver.key'),
    serviceAccountKey: file('sa.key'),
    serviceAccountPublicKey: file('sa.pub'),
    adminCert: file('admin.crt'),
    adminKey: file('admin.key'),
  };
  const [caCert, adminCert, adminKey] = await Promise.all(
    [files.caCert, files.adminCert, files.adminKey].map((path) => readFile(path, 'utf8')),
  );
  return { files, caCert: caCert ?? '', adminCert: adminCert ?? '', adminKey: adminKey ?? '' };
}
