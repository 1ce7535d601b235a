import { HubMessage } from '@driftless/proto';
import { checkCsr, type CertificateAuthority } from '../enroll/index.ts';
import type { Store } from '../store/index.ts';

/** What a certificate renewal needs, whichever transport the request came over. */
export interface RenewDeps {
  store: Store;
  ca: CertificateAuthority;
  /** Validity of the new client certificate. */
  clientCertValidityMs: number;
}

/**
 * Renews a connected cluster's client certificate from its CSR: issues it,
 * records it, and returns the CertificateIssued message to send down,
 * numbered with the cluster's next hub seq.
 */
export async function renewCertificate(
  deps: RenewDeps,
  cluster: string,
  csrPem: string,
): Promise<{ message: HubMessage; serial: string }> {
  const { store, ca } = deps;
  await checkCsr(csrPem, `renew certificate of cluster ${cluster}`);
  const issued = await ca.issueClientCertificate({
    csrPem,
    cluster,
    validityMs: deps.clientCertValidityMs,
  });
  await store.recordCertificate({
    serial: issued.serial,
    cluster,
    issuedMs: issued.issuedMs,
    notAfterMs: issued.notAfterMs,
    revokedMs: 0,
  });
  const seq = await store.nextHubSeq(cluster);
  const message = HubMessage.create({
    seq: BigInt(seq),
    body: {
      $case: 'certificateIssued',
      value: {
        certificatePem: issued.certificatePem,
        caBundlePem: ca.bundlePem,
        notAfterUnixMs: BigInt(issued.notAfterMs),
      },
    },
  });
  return { message, serial: issued.serial };
}
