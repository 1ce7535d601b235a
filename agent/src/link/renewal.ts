import { clockTimeout, errorMessage, type Clock, type Logger } from '@driftless/common';
import {
  certificateInfo,
  keyMatchesCertificate,
  renewAtMs,
  type Identity,
  type IdentityStore,
  type KeyAndCsr,
} from './identity.ts';

/** What {@link CertificateRenewal} needs. */
export interface RenewalOptions {
  cluster: string;
  identities: IdentityStore;
  /** Fraction of the certificate's lifetime after which it is renewed. */
  renewFraction: number;
  /** How long to wait for a CertificateIssued before asking again. */
  renewRetryMs: number;
  generateKey: (cluster: string) => Promise<KeyAndCsr>;
  /** Sends RenewCertificate on the current stream; false when there is no connected stream. */
  send(csrPem: string): boolean;
  log: Logger;
  clock: Clock;
}

/**
 * Renewal of the client certificate over the open stream: at a fraction of its lifetime a new
 * key and CSR are made and sent, the key kept until the certificate for it arrives (asked
 * again every `renewRetryMs` meanwhile); a certificate for a key this agent does not hold is
 * ignored. The timer runs on the injected clock.
 */
export class CertificateRenewal {
  readonly #o: RenewalOptions;
  /** A renewal in progress: its key stays here until the certificate for it arrives. */
  #pending: (KeyAndCsr & { sentAt: number }) | undefined;
  #cancelTimer: (() => void) | undefined;
  #stopped = false;

  constructor(options: RenewalOptions) {
    this.#o = options;
  }

  /**
   * Arms the timer for the next renewal step of `identity` (received by this process at
   * `receivedAt`, 0 when loaded from the store); sends the request now when it is due.
   */
  schedule(identity: Identity, receivedAt: number): void {
    this.#cancel();
    if (this.#stopped) return;
    const { clock, renewRetryMs } = this.#o;
    const info = certificateInfo(identity.certPem);
    const now = clock.now();
    let at = renewAtMs(info, this.#o.renewFraction, receivedAt);
    if (this.#pending) at = Math.max(at, this.#pending.sentAt + renewRetryMs);
    if (at <= now) {
      void this.#request();
      at = now + renewRetryMs;
    }
    // The timer is capped (MAX_TIMER_MS): a renewal further off is re-armed when it fires.
    this.#cancelTimer = clockTimeout(clock, at - now, () => this.schedule(identity, receivedAt));
  }

  /** Stops the timer for good. */
  stop(): void {
    this.#stopped = true;
    this.#cancel();
  }

  /**
   * Stores a certificate the hub issued and returns the identity to use from now on;
   * undefined when it is not for the pending key (ignored) — `stored` false when it could not
   * be written (then it is not acked: the timer asks again).
   */
  async accept(
    current: Identity,
    issued: { certificatePem: string; caBundlePem: string },
  ): Promise<{ stored: boolean; identity?: Identity }> {
    const pending = this.#pending;
    if (!pending || !keyMatchesCertificate(pending.keyPem, issued.certificatePem)) {
      // E.g. the answer to a renewal asked before a restart: its key is gone.
      this.#o.log.warn(
        'hub link: received a certificate for a key this agent does not hold; ignored',
      );
      return { stored: true };
    }
    const identity: Identity = {
      // Other credentials (the NATS link's) are not renewed with the certificate: kept.
      ...current,
      keyPem: pending.keyPem,
      certPem: issued.certificatePem,
      caPem: issued.caBundlePem || current.caPem,
    };
    try {
      await this.#o.identities.save(identity);
    } catch (err) {
      this.#o.log.error(
        { err: errorMessage(err) },
        `hub link: cannot store the renewed certificate: ${errorMessage(err)}`,
      );
      return { stored: false };
    }
    this.#pending = undefined;
    const info = certificateInfo(identity.certPem);
    this.#o.log.info(
      { serial: info.serial, not_after: new Date(info.notAfterMs).toISOString() },
      'hub link: certificate renewed; the next connection uses it',
    );
    return { stored: true, identity };
  }

  #cancel(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /** Sends RenewCertificate with a CSR for a new key (kept until its certificate arrives). */
  async #request(): Promise<void> {
    try {
      if (!this.#pending) {
        const key = await this.#o.generateKey(this.#o.cluster);
        this.#pending = { ...key, sentAt: 0 };
      }
      const sentAt = this.#o.clock.now();
      if (!this.#o.send(this.#pending.csrPem)) return;
      this.#pending.sentAt = sentAt;
      this.#o.log.info('hub link: renewing the client certificate');
    } catch (err) {
      this.#o.log.error(
        { err: errorMessage(err) },
        `hub link: cannot request a new certificate: ${errorMessage(err)}`,
      );
    }
  }
}
