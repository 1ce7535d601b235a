import { isLabelKey, isLabelValue, systemClock, type Clock, type Logger } from '@driftless/common';
import {
  ConflictError,
  InvalidArgumentError,
  PermissionDeniedError,
  UnauthenticatedError,
} from '../errors.ts';
import type { Labels, Store } from '../store/index.ts';
import { checkClusterName, checkCsr, type CertificateAuthority } from './ca.ts';
import type { NatsAuthority } from './nats-auth.ts';
import type { FailureLimiter } from './ratelimit.ts';
import { parseToken, secretMatches } from './tokens.ts';

/** An enrollment as the agent asks for it (the EnrollRequest fields). */
export interface EnrollInput {
  token: string;
  clusterName: string;
  csrPem: string;
  agentVersion: string;
  labels: Labels;
  /** The agent's NATS user public key, when it wants credentials for the NATS link. */
  natsUserPublicKey?: string;
}

/** What the agent gets back. */
export interface EnrollOutput {
  certificatePem: string;
  caBundlePem: string;
  notAfterMs: number;
  /** A user JWT for `natsUserPublicKey`, allowed only this cluster's subjects; '' if none asked. */
  natsUserJwt: string;
}

/** Options of {@link Enroller}. */
export interface EnrollerOptions {
  store: Store;
  ca: CertificateAuthority;
  limiter: FailureLimiter;
  /** Validity of client certificates; agents renew before it ends. */
  clientCertValidityMs: number;
  /** Issues NATS user JWTs; without it a request for NATS credentials is refused. */
  nats?: NatsAuthority;
  log: Logger;
  clock?: Clock;
}

/** Most labels a cluster may have (from its token and its agent together). */
export const MAX_LABELS = 64;

/**
 * Refuses labels that are too many or not valid Kubernetes-style key=value pairs, with an
 * InvalidArgumentError naming the first bad one.
 */
export function checkLabels(labels: Labels, what: string): void {
  const count = Object.keys(labels).length;
  if (count > MAX_LABELS)
    throw new InvalidArgumentError(
      `${what}: ${count} labels, more than the ${MAX_LABELS} a cluster may have`,
    );
  for (const [k, v] of Object.entries(labels)) {
    if (!isLabelKey(k) || !isLabelValue(v))
      throw new InvalidArgumentError(
        `${what}: label "${k.slice(0, 60)}=${v.slice(0, 60)}" is not a valid key=value label`,
      );
  }
}

/**
 * Trades an enrollment token and a CSR for a client certificate. Every failed
 * token check counts against the peer's rate limit; a CSR problem does not use
 * up the token, so the agent can fix its CSR and retry.
 */
export class Enroller {
  readonly #o: EnrollerOptions;
  readonly #clock: Clock;

  constructor(options: EnrollerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Enrolls; throws a hub error class (Unauthenticated, PermissionDenied, InvalidArgument, RateLimited). */
  async enroll(input: EnrollInput, peer: string): Promise<EnrollOutput> {
    const { store, ca, limiter, log } = this.#o;
    limiter.check(peer, 'enroll');
    const what = `enroll cluster ${input.clusterName.slice(0, 63) || '(empty name)'}`;
    checkClusterName(input.clusterName);
    if (!input.token) throw new InvalidArgumentError(`${what}: token is empty`);
    if (!input.csrPem) throw new InvalidArgumentError(`${what}: csr_pem is empty`);
    checkLabels(input.labels, what);

    // Step 1: authenticate the token; every way it can be wrong is a counted failure.
    const now = this.#clock.now();
    const refuse = (err: UnauthenticatedError | PermissionDeniedError, reason: string) => {
      limiter.fail(peer);
      log.warn({ cluster: input.clusterName, peer, reason }, 'enrollment refused');
      return err;
    };
    const parsed = parseToken('enrollment', input.token);
    const token = parsed ? await store.getEnrollmentToken(parsed.id) : undefined;
    if (!parsed || !secretMatches(parsed.secret, token?.secretHash) || !token)
      throw refuse(
        new UnauthenticatedError(`${what}: enrollment token is not valid`),
        'unknown token',
      );
    // A revoked name stays revoked until an administrator allows it (its tokens were revoked
    // with it; a token made since is refused here too).
    const existing = await store.getCluster(token.cluster);
    if (existing?.enrollmentBlocked)
      throw refuse(
        new PermissionDeniedError(
          `${what}: cluster ${token.cluster} was revoked; an administrator must allow its enrollment again (driftless cluster allow-enroll ${token.cluster}) before it can enroll`,
        ),
        'revoked cluster',
      );
    if (token.revokedMs !== 0)
      throw refuse(
        new UnauthenticatedError(`${what}: enrollment token ${token.id} was revoked`),
        'revoked',
      );
    if (token.expiresMs <= now)
      throw refuse(
        new UnauthenticatedError(
          `${what}: enrollment token ${token.id} expired at ${new Date(token.expiresMs).toISOString()}`,
        ),
        'expired',
      );
    if (token.uses >= token.maxUses)
      throw refuse(
        new UnauthenticatedError(
          `${what}: enrollment token ${token.id} was already used (${token.uses} of ${token.maxUses} uses)`,
        ),
        'used',
      );
    if (token.cluster !== input.clusterName)
      throw refuse(
        new PermissionDeniedError(
          `${what}: enrollment token ${token.id} is bound to another cluster name`,
        ),
        'wrong cluster',
      );

    // Step 2: check the CSR before using the token, so a bad CSR costs no use.
    await checkCsr(input.csrPem, what);
    // Likewise the NATS key: signing the user JWT first means a bad key costs no use.
    let natsUserJwt = '';
    if (input.natsUserPublicKey) {
      if (!this.#o.nats)
        throw new InvalidArgumentError(`${what}: this hub issues no NATS credentials`);
      natsUserJwt = await this.#o.nats.issueAgentUser(token.cluster, input.natsUserPublicKey, what);
    }

    // Step 3: sign, then use the token, record the cluster and the certificate in one transaction.
    const issued = await ca.issueClientCertificate({
      csrPem: input.csrPem,
      cluster: token.cluster,
      validityMs: this.#o.clientCertValidityMs,
    });
    let ok: boolean;
    try {
      // The NATS user key is recorded in the same transaction: a revocation that comes after
      // the enrollment always names it.
      ok = await store.completeEnrollment({
        tokenId: token.id,
        cluster: token.cluster,
        // Labels the person put on the token win over what the agent claims.
        labels: { ...input.labels, ...token.labels },
        adminLabels: token.labels,
        agentVersion: input.agentVersion,
        certificate: {
          serial: issued.serial,
          issuedMs: issued.issuedMs,
          notAfterMs: issued.notAfterMs,
        },
        ...(input.natsUserPublicKey ? { natsUserPublicKey: input.natsUserPublicKey } : {}),
        // A cluster joining is a use of a credential: audited, with where it came from.
        audit: {
          actor: `enrollment token ${token.id} (from ${peer.slice(0, 100)})`,
          action: 'cluster.enroll',
          target: `cluster/${token.cluster}`,
          details: {
            tokenId: token.id,
            certificateSerial: issued.serial,
            natsCredentials: Boolean(input.natsUserPublicKey),
            agentVersion: input.agentVersion.slice(0, 100),
            reenrolled: existing !== undefined,
          },
        },
        nowMs: now,
      });
    } catch (err) {
      if (err instanceof ConflictError) throw new InvalidArgumentError(`${what}: ${err.message}`);
      throw err;
    }
    if (!ok)
      throw refuse(
        new UnauthenticatedError(`${what}: enrollment token ${token.id} was used up concurrently`),
        'raced',
      );
    log.info(
      { cluster: token.cluster, tokenId: token.id, serial: issued.serial },
      'cluster enrolled',
    );
    return {
      certificatePem: issued.certificatePem,
      caBundlePem: ca.bundlePem,
      notAfterMs: issued.notAfterMs,
      natsUserJwt,
    };
  }
}
