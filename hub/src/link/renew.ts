import type { Clock } from '@driftless/common';
import { HubMessage } from '@driftless/proto';
import { checkCsr, type CertificateAuthority } from '../enroll/index.ts';
import { RateLimitedError } from '../errors.ts';
import type { Store } from '../store/index.ts';

/** Most certificate renewals a cluster gets per {@link RENEWAL_WINDOW_MS} (per hub process). */
export const MAX_RENEWALS_PER_WINDOW = 5;
/** The window of {@link MAX_RENEWALS_PER_WINDOW}. */
export const RENEWAL_WINDOW_MS = 3_600_000;

/**
 * Counts renewals per cluster in a sliding window: an agent renews at 2/3 of its
 * certificate's lifetime (and asks again a minute later when no answer came), so a handful
 * an hour is plenty, and a stream asking in a loop cannot make the CA issue certificates
 * without end.
 */
export class RenewalLimiter {
  readonly #clock: Clock;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #issued = new Map<string, number[]>();

  constructor(clock: Clock, max = MAX_RENEWALS_PER_WINDOW, windowMs = RENEWAL_WINDOW_MS) {
    this.#clock = clock;
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** Counts one renewal of `cluster`; throws RateLimitedError when it is over the limit. */
  take(cluster: string): void {
    const now = this.#clock.now();
    const recent = (this.#issued.get(cluster) ?? []).filter((t) => t > now - this.#windowMs);
    if (recent.length >= this.#max) {
      const retryAfterMs = recent[0]! + this.#windowMs - now;
      this.#issued.set(cluster, recent);
      throw new RateLimitedError(
        `renew certificate of cluster ${cluster}: at most ${this.#max} renewals per ${this.#windowMs / 60_000} minutes; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
        { retryAfterMs },
      );
    }
    recent.push(now);
    this.#issued.set(cluster, recent);
  }
}

/** What a certificate renewal needs, whichever transport the request came over. */
export interface RenewDeps {
  store: Store;
  ca: CertificateAuthority;
  /** Validity of the new client certificate. */
  clientCertValidityMs: number;
  /** Renewals per cluster, limited. */
  renewals: RenewalLimiter;
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
  deps.renewals.take(cluster);
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
