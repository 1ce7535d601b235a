import { errorMessage, type Clock, type Logger } from '@driftless/common';
import {
  EnrollError,
  GrpcCode,
  grpcCodeName,
  grpcCodeOf,
  hubDetails,
  NotEnrolledError,
  statusCause,
} from './errors.ts';
import {
  certificateInfo,
  keyMatchesCertificate,
  type Identity,
  type IdentityStore,
  type KeyAndCsr,
} from './identity.ts';
import type { LinkTransport } from './transport.ts';

/** What {@link Enrollment} needs. */
export interface EnrollmentOptions {
  cluster: string;
  agentVersion: string;
  labels: Record<string, string>;
  transport: LinkTransport;
  identities: IdentityStore;
  /** The single-use token; never logged. */
  token: string | undefined;
  /** PEM of the hub CA, given out of band, to trust the hub during Enroll. */
  caPem: string | undefined;
  generateKey: (cluster: string) => Promise<KeyAndCsr>;
  /** Called when an Enroll call starts (the link shows `enrolling`). */
  onEnrolling(): void;
  signal: AbortSignal;
  log: Logger;
  clock: Clock;
}

/**
 * The agent's identity: loaded from its store, or obtained by enrolling with the token, and
 * kept in memory (re-stored before each connect when a write failed: the token is used up).
 */
export class Enrollment {
  readonly #o: EnrollmentOptions;
  #identity: Identity | undefined;
  /** When this process got the current identity from the hub (0: loaded from the store). */
  #receivedAt = 0;
  /** The identity was obtained but not yet written to its store. */
  #unsaved = false;
  #everHad = false;

  constructor(options: EnrollmentOptions) {
    this.#o = options;
  }

  /** The identity in use, if any. */
  get identity(): Identity | undefined {
    return this.#identity;
  }

  /** When this process received the current identity from the hub (0: it was loaded). */
  get receivedAt(): number {
    return this.#receivedAt;
  }

  /** Whether this process has had an identity (stored or enrolled). */
  get everHad(): boolean {
    return this.#everHad;
  }

  /** Whether an enrollment token is configured. */
  get hasToken(): boolean {
    return Boolean(this.#o.token);
  }

  /** The identity to connect with: cached, stored, or enrolled now. */
  async ensure(): Promise<Identity> {
    if (this.#identity) {
      if (this.#unsaved) await this.#persist(this.#identity);
      return this.#identity;
    }
    const stored = await this.#o.identities.load();
    if (stored) {
      const info = certificateInfo(stored.certPem);
      this.#o.log.info(
        { serial: info.serial, not_after: new Date(info.notAfterMs).toISOString() },
        `hub link: using the stored identity of cluster ${this.#o.cluster}`,
      );
      this.#identity = stored;
      this.#everHad = true;
      return stored;
    }
    return this.enroll();
  }

  /** Adopts a renewed identity (already stored by the caller). */
  renewed(identity: Identity): void {
    this.#identity = identity;
    this.#receivedAt = this.#o.clock.now();
  }

  /** Trades the enrollment token for a certificate and stores the identity. */
  async enroll(): Promise<Identity> {
    const { cluster, token, caPem, transport } = this.#o;
    if (!token)
      throw new NotEnrolledError(
        `cluster ${cluster} has no hub identity and no enrollment token: create one with "driftless token create --cluster ${cluster}" and give it to the agent (DRIFTLESS_ENROLLMENT_TOKEN)`,
      );
    if (!caPem)
      throw new NotEnrolledError(
        `cluster ${cluster} must enroll, but the hub CA is not given: set --hub-ca-file (DRIFTLESS_HUB_CA_FILE) to the hub's ca.crt`,
      );
    this.#identity = undefined;
    this.#o.onEnrolling();
    const key = await this.#o.generateKey(cluster);
    const extension = transport.prepareEnroll?.(cluster);
    let res;
    try {
      res = await transport.enroll(
        {
          token,
          clusterName: cluster,
          csrPem: key.csrPem,
          agentVersion: this.#o.agentVersion,
          labels: this.#o.labels,
          ...extension?.request,
        },
        caPem,
        this.#o.signal,
      );
    } catch (err) {
      const code = grpcCodeOf(err);
      const what = `enroll cluster ${cluster}`;
      const details = hubDetails(err, what);
      // UNAVAILABLE and DEADLINE_EXCEEDED come from the channel (no hub answered, or TLS failed).
      const answered = code !== GrpcCode.UNAVAILABLE && code !== GrpcCode.DEADLINE_EXCEEDED;
      throw new EnrollError(
        answered
          ? `${what}: the hub answered ${grpcCodeName(code)}: ${details}`
          : `${what}: ${details}`,
        { code, cause: statusCause(err) },
      );
    }
    if (!keyMatchesCertificate(key.keyPem, res.certificatePem))
      throw new EnrollError(
        `enroll cluster ${cluster}: the certificate the hub returned is not for the key this agent sent`,
        { code: undefined },
      );
    const base: Identity = {
      keyPem: key.keyPem,
      certPem: res.certificatePem,
      caPem: res.caBundlePem || caPem,
    };
    const identity = extension ? extension.complete(base, res) : base;
    this.#identity = identity;
    this.#receivedAt = this.#o.clock.now();
    this.#everHad = true;
    const info = certificateInfo(identity.certPem);
    this.#o.log.info(
      { serial: info.serial, not_after: new Date(info.notAfterMs).toISOString() },
      `hub link: cluster ${cluster} enrolled`,
    );
    // The token is used up now: losing this identity would need a new one, so a failed
    // write is retried before every connect rather than failing the enrollment.
    this.#unsaved = true;
    await this.#persist(identity);
    return identity;
  }

  async #persist(identity: Identity): Promise<void> {
    try {
      await this.#o.identities.save(identity);
      this.#unsaved = false;
    } catch (err) {
      this.#o.log.error(
        { err: errorMessage(err) },
        `hub link: cannot store the identity (kept in memory, retried before the next connect): ${errorMessage(err)}`,
      );
    }
  }
}
