import {
  Backoff,
  classify,
  clockTimeout,
  errorMessage,
  systemClock,
  type BackoffOptions,
  type Clock,
  type Logger,
} from '@driftless/common';
import { toAppStatus } from './convert.ts';
import { Enrollment } from './enrollment.ts';
import { EnrollError, GrpcCode, grpcCodeName, LinkClosedError } from './errors.ts';
import { generateKeyAndCsr, type IdentityStore, type KeyAndCsr } from './identity.ts';
import { LinkStateMachine, type LinkState, type LinkStatus } from './link-state.ts';
import type { Outbox } from './outbox.ts';
import { CertificateRenewal } from './renewal.ts';
import { StreamSession, type LinkHooks } from './session.ts';
import type { LinkTransport } from './transport.ts';

export type { LinkState, LinkStatus } from './link-state.ts';
export type { LinkHooks } from './session.ts';

/** Options of {@link HubLink}. */
export interface HubLinkOptions {
  /** This cluster's name; must match the certificate's CN. */
  cluster: string;
  /** The agent's version, sent in Enroll and Hello. */
  agentVersion: string;
  /** Repository and branch the agent follows (no credentials), sent in Hello. */
  repoUrl: string;
  branch: string;
  /** Cluster labels, sent in Enroll and Hello. Default none. */
  labels?: Record<string, string>;
  transport: LinkTransport;
  identities: IdentityStore;
  outbox: Outbox;
  hooks: LinkHooks;
  /** Enrollment, for an agent without an identity (or whose identity the hub refused). */
  enrollment?: {
    /** The single-use token; never logged. */
    token: string | undefined;
    /** PEM of the hub CA, given out of band, to trust the hub during Enroll. */
    caPem: string | undefined;
  };
  logger: Logger;
  clock?: Clock;
  /** Spacing of reconnect attempts. Default 1 s growing to 15 s, ±20 % jitter. */
  backoff?: BackoffOptions;
  /** Heartbeat interval on an idle stream. Default 15 s. */
  heartbeatIntervalMs?: number;
  /** Most reports written and not yet acked by the hub. Default 1,000. */
  maxInFlight?: number;
  /**
   * Reports in flight without an ack this long make the link reconnect and resend. Default
   * 15 s: a hub acks within milliseconds of its commit, so a longer silence means a report (or
   * its ack) was lost on the way, and the hub would show stale state until the resend. Over
   * NATS the clock starts again when JetStream takes a report (it then waits for the
   * stream's backlog, which a fleet flushing at once makes longer than this).
   */
  ackTimeoutMs?: number;
  /** Fraction of the certificate's lifetime after which it is renewed. Default 2/3. */
  renewFraction?: number;
  /** How long to wait for a CertificateIssued before asking again. Default 60 s. */
  renewRetryMs?: number;
  /** Makes key pairs and CSRs; replaceable in tests (key generation is slow-ish). */
  generateKey?: (cluster: string) => Promise<KeyAndCsr>;
}

/** Defaults of {@link HubLinkOptions}. */
export const HUB_LINK_DEFAULTS = {
  // Capped at 15 s so a hub back from an outage sees its fleet within seconds; with
  // jitter, 1,000 agents then reconnect at about 70 a second, which a hub handles.
  backoff: { initialMs: 1000, maxMs: 15_000 },
  heartbeatIntervalMs: 15_000,
  maxInFlight: 1000,
  ackTimeoutMs: 15_000,
  renewFraction: 2 / 3,
  renewRetryMs: 60_000,
} as const;

/** {@link HubLinkOptions} with every default applied. */
type ResolvedHubLinkOptions = Required<
  Omit<HubLinkOptions, 'enrollment' | 'labels' | 'backoff'>
> & {
  labels: Record<string, string>;
  backoff: BackoffOptions;
  enrollment: { token: string | undefined; caPem: string | undefined };
};

function resolveHubLinkOptions(o: HubLinkOptions): ResolvedHubLinkOptions {
  return {
    ...o,
    labels: o.labels ?? {},
    enrollment: o.enrollment ?? { token: undefined, caPem: undefined },
    clock: o.clock ?? systemClock,
    backoff: { ...HUB_LINK_DEFAULTS.backoff, ...o.backoff },
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? HUB_LINK_DEFAULTS.heartbeatIntervalMs,
    maxInFlight: o.maxInFlight ?? HUB_LINK_DEFAULTS.maxInFlight,
    ackTimeoutMs: o.ackTimeoutMs ?? HUB_LINK_DEFAULTS.ackTimeoutMs,
    renewFraction: o.renewFraction ?? HUB_LINK_DEFAULTS.renewFraction,
    renewRetryMs: o.renewRetryMs ?? HUB_LINK_DEFAULTS.renewRetryMs,
    generateKey: o.generateKey ?? generateKeyAndCsr,
  };
}

/**
 * The agent's side of the Agent ↔ hub link. It owns one reconnect loop:
 * enroll when there is no identity ({@link Enrollment}), open a stream and say
 * Hello ({@link StreamSession}), resend what the hub has not stored (the
 * {@link Outbox} decides what), renew the certificate ({@link CertificateRenewal}).
 * When the hub is unreachable it retries with capped, jittered backoff; the
 * agent never waits on it: reports pile up (bounded) in the outbox.
 */
export class HubLink {
  readonly #o: ResolvedHubLinkOptions;
  readonly #backoff: Backoff;
  readonly #state: LinkStateMachine;
  readonly #enrollment: Enrollment;
  readonly #renewal: CertificateRenewal;
  readonly #abort = new AbortController();
  readonly #unsubscribe: () => void;
  /** Listeners of every acknowledgement the hub sends (for {@link flush}). */
  readonly #ackListeners = new Set<() => void>();
  #loop: Promise<void> | undefined;
  #session: StreamSession | undefined;
  /** Highest hub seq processed, sent in every Hello (0 after a restart: the hub resends). */
  readonly #hubSeq = { value: 0n };
  #reenrolled = false;
  #pumpQueued = false;

  constructor(options: HubLinkOptions) {
    const o = resolveHubLinkOptions(options);
    this.#o = o;
    this.#backoff = new Backoff(o.backoff);
    this.#state = new LinkStateMachine(o.clock);
    this.#enrollment = new Enrollment({
      cluster: o.cluster,
      agentVersion: o.agentVersion,
      labels: o.labels,
      transport: o.transport,
      identities: o.identities,
      token: o.enrollment.token,
      caPem: o.enrollment.caPem,
      generateKey: o.generateKey,
      onEnrolling: () => this.#state.move({ state: 'enrolling' }),
      signal: this.#abort.signal,
      log: o.logger,
      clock: o.clock,
    });
    this.#renewal = new CertificateRenewal({
      cluster: o.cluster,
      identities: o.identities,
      renewFraction: o.renewFraction,
      renewRetryMs: o.renewRetryMs,
      generateKey: o.generateKey,
      send: (csrPem) =>
        Boolean(this.#session?.connected) &&
        this.#session!.write({ $case: 'renewCertificate', value: { csrPem } }),
      log: o.logger,
      clock: o.clock,
    });
    this.#unsubscribe = o.outbox.onPush(() => this.#schedulePump());
  }

  /** The current status. */
  get status(): LinkStatus {
    return this.#state.status;
  }

  /** Whether the link has had an identity (stored or enrolled) in this process. */
  get enrolled(): boolean {
    return this.#enrollment.everHad;
  }

  /** Calls `listener` on every status change; returns an unsubscribe function. */
  onStatus(listener: (s: LinkStatus) => void): () => void {
    return this.#state.onChange(listener);
  }

  /** Resolves when the link reaches `state` (now, if it is there). */
  waitFor(state: LinkState): Promise<LinkStatus> {
    if (this.status.state === state) return Promise.resolve(this.status);
    return new Promise((resolve) => {
      const off = this.onStatus((s) => {
        if (s.state !== state) return;
        off();
        resolve(s);
      });
    });
  }

  /**
   * Resolves with the first status past enrollment: `connecting` or `connected` (the link has
   * an identity), `backoff` (e.g. the hub is unreachable), `refused` or `stopped`.
   */
  settled(): Promise<LinkStatus> {
    const past = (s: LinkStatus) => s.state !== 'idle' && s.state !== 'enrolling';
    if (past(this.status)) return Promise.resolve(this.status);
    return new Promise((resolve) => {
      const off = this.onStatus((s) => {
        if (!past(s)) return;
        off();
        resolve(s);
      });
    });
  }

  /** Starts the reconnect loop (once). */
  start(): void {
    if (this.status.state !== 'idle')
      throw new Error(`hub link cannot start: it is ${this.status.state}`);
    this.#loop = this.#run();
  }

  /**
   * Waits until the hub has acknowledged every queued report, or `timeoutMs`
   * passed, or the link is not connected (then the reports stay queued and
   * are summarised as lost when the process exits). Called before a graceful
   * stop so a report made just before SIGTERM still reaches the hub.
   */
  flush(timeoutMs: number): Promise<boolean> {
    const { outbox, clock } = this.#o;
    if (outbox.stats().held === 0) return Promise.resolve(true);
    if (this.status.state !== 'connected') return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (flushed: boolean) => {
        cancelTimer();
        offStatus();
        this.#ackListeners.delete(onAck);
        resolve(flushed);
      };
      const onAck = () => {
        if (outbox.stats().held === 0) finish(true);
      };
      const cancelTimer = clockTimeout(clock, timeoutMs, () => finish(false));
      const offStatus = this.onStatus((s) => {
        if (s.state !== 'connected') finish(false);
      });
      this.#ackListeners.add(onAck);
    });
  }

  /** Closes the stream and stops reconnecting; resolves when the loop has ended. */
  async stop(): Promise<void> {
    if (this.status.state === 'stopped') return;
    this.#abort.abort(new Error('hub link stopping'));
    this.#session?.close();
    this.#renewal.stop();
    this.#unsubscribe();
    await this.#loop;
    this.#state.move({ state: 'stopped' });
  }

  get #stopping(): boolean {
    return this.#abort.signal.aborted;
  }

  async #run(): Promise<void> {
    const log = this.#o.logger;
    while (!this.#stopping) {
      let refused: { message: string; revoked: boolean } | undefined;
      try {
        const identity = await this.#enrollment.ensure();
        this.#state.move({ state: 'connecting' });
        const session = new StreamSession(this.#sessionOptions(), identity);
        this.#session = session;
        if (this.#stopping) session.close();
        const end = await session.run();
        if (this.#session === session) this.#session = undefined;
        if (this.#stopping) break;
        const closed = new LinkClosedError(
          `hub stream of cluster ${this.#o.cluster} ended: ${grpcCodeName(end.code)}${end.details ? `: ${end.details}` : ''}`,
          { code: end.code, cause: { code: end.code, details: end.details } },
        );
        if (!closed.terminal) throw closed;
        // The hub does not know this identity (e.g. its state was reset): a token given for
        // re-enrollment gets one chance. A revoked cluster is not re-enrolled: revocation
        // sticks until an administrator allows the cluster again.
        if (
          closed.code === GrpcCode.UNAUTHENTICATED &&
          this.#enrollment.hasToken &&
          !this.#reenrolled
        ) {
          this.#reenrolled = true;
          log.warn(
            { err: closed.message },
            `${closed.message}; enrolling again with the configured enrollment token`,
          );
          await this.#enrollment.enroll();
          continue;
        }
        refused = { message: closed.message, revoked: closed.code === GrpcCode.PERMISSION_DENIED };
      } catch (err) {
        if (this.#stopping) break;
        if (isTerminal(err))
          refused = {
            message: errorMessage(err),
            revoked: err instanceof EnrollError && err.code === GrpcCode.PERMISSION_DENIED,
          };
        else {
          await this.#waitToRetry(err);
          continue;
        }
      }
      // Never enrolled: the hub refused the token. The agent stops on that and says why itself.
      if (this.#enrollment.everHad)
        log.error(
          { err: refused.message, revoked: refused.revoked },
          `hub link refused: ${refused.message}. ${refused.revoked ? this.#revokedAdvice() : `The agent keeps reconciling from Git but reports to no hub; enroll the cluster again (driftless token create --cluster ${this.#o.cluster}) to reconnect`}`,
        );
      this.#state.move({ state: 'refused', error: refused.message });
      return;
    }
  }

  /** What a revoked cluster's operator must do to bring it back. */
  #revokedAdvice(): string {
    const { cluster, identities } = this.#o;
    const secret = identities.where ?? 'driftless-agent-identity';
    return `The hub revoked this cluster: the agent stops connecting and enrolling, keeps reconciling from Git and reports to no hub. To bring it back: "driftless cluster allow-enroll ${cluster}", then "driftless token create --cluster ${cluster}", delete the Secret ${secret} and restart the agent with the new token`;
  }

  async #waitToRetry(err: unknown): Promise<void> {
    const delay = this.#backoff.next();
    const attempt = this.status.attempt + 1;
    this.#o.logger.warn(
      { err: errorMessage(err), attempt, retry_in_ms: delay },
      `hub link: ${errorMessage(err)}; retrying in ${Math.round(delay / 100) / 10}s`,
    );
    this.#state.move({ state: 'backoff', attempt, error: errorMessage(err), retryInMs: delay });
    await this.#o.clock.sleep(delay, this.#abort.signal).catch(() => undefined);
  }

  #sessionOptions(): ConstructorParameters<typeof StreamSession>[0] {
    const o = this.#o;
    return {
      cluster: o.cluster,
      agentVersion: o.agentVersion,
      repoUrl: o.repoUrl,
      branch: o.branch,
      labels: o.labels,
      transport: o.transport,
      outbox: o.outbox,
      hooks: o.hooks,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      maxInFlight: o.maxInFlight,
      ackTimeoutMs: o.ackTimeoutMs,
      hubSeq: this.#hubSeq,
      onHelloAck: (agentSeq) => this.#onHelloAck(agentSeq),
      onAck: () => {
        for (const l of [...this.#ackListeners]) l();
      },
      onCertificate: (issued) => this.#onCertificate(issued),
      log: o.logger,
      clock: o.clock,
    };
  }

  #onHelloAck(agentSeq: bigint): void {
    const { outbox, hooks, logger } = this.#o;
    outbox.resume(agentSeq);
    // The hub's view of every app is made whole after each Hello (older reports may have
    // been summarised away); apps whose status is still queued need no second copy.
    const pending = outbox.pendingStatusApps();
    for (const s of hooks.statuses())
      if (!pending.has(s.app)) outbox.push({ $case: 'appStatus', value: toAppStatus(s) });
    this.#backoff.reset();
    const stats = outbox.stats();
    logger.info(
      { hub_seq: agentSeq, resending: stats.unsent, dropped: stats.dropped },
      `hub link: connected; the hub has reports up to seq ${agentSeq}, sending ${stats.unsent}`,
    );
    this.#state.move({ state: 'connected', attempt: 0 });
    const identity = this.#enrollment.identity;
    if (identity && !this.#stopping) this.#renewal.schedule(identity, this.#enrollment.receivedAt);
  }

  async #onCertificate(issued: { certificatePem: string; caBundlePem: string }): Promise<boolean> {
    const current = this.#enrollment.identity;
    if (!current) return true;
    const { stored, identity } = await this.#renewal.accept(current, issued);
    if (identity) {
      this.#enrollment.renewed(identity);
      this.#renewal.schedule(identity, this.#enrollment.receivedAt);
    }
    return stored;
  }

  #schedulePump(): void {
    if (this.#pumpQueued) return;
    this.#pumpQueued = true;
    // Reporters call in from the engine: write on the next tick, never inside its call.
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#session?.pump();
    });
  }
}

/** Errors after which retrying cannot help until a person acts. */
function isTerminal(err: unknown): boolean {
  return classify(err) === 'terminal';
}
