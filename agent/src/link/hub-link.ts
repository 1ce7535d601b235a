import {
  Backoff,
  classify,
  errorMessage,
  systemClock,
  type BackoffOptions,
  type Clock,
  type Logger,
} from '@driftless/common';
import { AgentMessage, type AgentMessageBody, type HubMessage } from '@driftless/proto';
import type { Approval, AppStatusReport } from '../report/index.ts';
import {
  EnrollError,
  grpcCodeName,
  grpcCodeOf,
  LinkClosedError,
  NotEnrolledError,
} from './errors.ts';
import {
  certificateInfo,
  generateKeyAndCsr,
  keyMatchesCertificate,
  renewAtMs,
  type Identity,
  type IdentityStore,
  type KeyAndCsr,
} from './identity.ts';
import type { Outbox } from './outbox.ts';
import { toAppStatus } from './convert.ts';
import type { LinkStream, LinkTransport, StreamEnd } from './transport.ts';

/**
 * Where the link is:
 * - `idle`: not started;
 * - `enrolling`: trading the enrollment token for a certificate;
 * - `connecting`: a stream is opening, Hello sent, waiting for the hub's Ack;
 * - `connected`: the hub acked the Hello; reports flow;
 * - `backoff`: the last attempt failed, waiting to retry;
 * - `refused`: the hub refused this cluster for good (revoked, unknown
 *   certificate, rejected token): no more attempts until a person acts;
 * - `stopped`: {@link HubLink.stop} was called.
 */
export type LinkState =
  'idle' | 'enrolling' | 'connecting' | 'connected' | 'backoff' | 'refused' | 'stopped';

/** The link's state with what led to it, as listeners receive it. */
export interface LinkStatus {
  state: LinkState;
  /** When the state was entered (ms since the epoch). */
  since: number;
  /** Failed attempts since the last successful connect. */
  attempt: number;
  /** Why the last attempt failed or the link was refused; never a secret. */
  error?: string;
  /** In `backoff`: the wait before the next attempt. */
  retryInMs?: number;
}

/** What the link drives in the agent, and reads from it. */
export interface LinkHooks {
  /** Reconcile now (a RefreshHint or SyncNow from the hub). */
  refresh(): void;
  /** The latest status of every app, re-sent after each Hello so the hub's view is whole. */
  statuses(): AppStatusReport[];
  /** Where approvals go (the agent's ApprovalBook; the engine checks revision and digest). */
  approvals: { add(approval: Approval): void };
}

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
  /** Fraction of the certificate's lifetime after which it is renewed. Default 2/3. */
  renewFraction?: number;
  /** How long to wait for a CertificateIssued before asking again. Default 60 s. */
  renewRetryMs?: number;
  /** Makes key pairs and CSRs; replaceable in tests (key generation is slow-ish). */
  generateKey?: (cluster: string) => Promise<KeyAndCsr>;
}

/** One open stream and what belongs to it. */
interface Conn {
  stream: LinkStream;
  identity: Identity;
  /** The hub answered the Hello: reports may flow. */
  acked: boolean;
  /** The transport's buffer is full: wait for drain. */
  blocked: boolean;
  heartbeat: ReturnType<typeof setInterval> | undefined;
}

/** The longest setTimeout Node accepts; later renewals are re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The agent's side of the Agent ↔ hub link. It owns one reconnect loop:
 * enroll when there is no identity, open Connect over mTLS, say Hello, resend
 * what the hub has not stored (the {@link Outbox} decides what), stream new
 * reports, heartbeat, renew the certificate, and act on what the hub sends
 * down (hints, approvals, certificates), acking it. When the hub is
 * unreachable it retries with capped, jittered backoff; the agent never
 * waits on it: reports pile up (bounded) in the outbox.
 */
export class HubLink {
  readonly #o: HubLinkOptions;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  #status: LinkStatus;
  readonly #listeners = new Set<(s: LinkStatus) => void>();
  #loop: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #identity: Identity | undefined;
  /** When this process got the current identity from the hub (0: loaded from the store). */
  #identityReceivedAt = 0;
  /** The identity was obtained but not yet written to its store (retried before each connect). */
  #unsaved = false;
  #conn: Conn | undefined;
  /** Highest hub seq processed, sent in every Hello (0 after a restart: the hub resends). */
  #hubSeq = 0n;
  /** A renewal in progress: its key stays here until the certificate for it arrives. */
  #renewal: (KeyAndCsr & { sentAt: number }) | undefined;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  /** Hub messages are handled one at a time, in order (some handling is async). */
  #inbox: Promise<void> = Promise.resolve();
  #pumpQueued = false;
  readonly #unsubscribe: () => void;

  constructor(options: HubLinkOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    // Capped at 15 s so a hub back from an outage sees its fleet within seconds; with
    // jitter, 1,000 agents then reconnect at about 70 a second, which a hub handles.
    this.#backoff = new Backoff({ initialMs: 1000, maxMs: 15_000, ...options.backoff });
    this.#log = options.logger;
    this.#status = { state: 'idle', since: this.#clock.now(), attempt: 0 };
    this.#unsubscribe = options.outbox.onPush(() => this.#schedulePump());
  }

  /** The current status. */
  get status(): LinkStatus {
    return this.#status;
  }

  /** Whether the link has had an identity (stored or enrolled) in this process. */
  get enrolled(): boolean {
    return this.#identity !== undefined || this.#everEnrolled;
  }

  /** Calls `listener` on every status change; returns an unsubscribe function. */
  onStatus(listener: (s: LinkStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves when the link reaches `state` (now, if it is there). */
  waitFor(state: LinkState): Promise<LinkStatus> {
    if (this.#status.state === state) return Promise.resolve(this.#status);
    return new Promise((resolve) => {
      const off = this.onStatus((s) => {
        if (s.state !== state) return;
        off();
        resolve(s);
      });
    });
  }

  /** Starts the reconnect loop (once). */
  start(): void {
    if (this.#status.state !== 'idle')
      throw new Error(`hub link cannot start: it is ${this.#status.state}`);
    this.#loop = this.#run();
  }

  /**
   * Waits until the hub has acknowledged every queued report, or `timeoutMs`
   * passed, or the link is not connected (then the reports stay queued and
   * are summarised as lost when the process exits). Called before a graceful
   * stop so a report made just before SIGTERM still reaches the hub.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = this.#clock.now() + timeoutMs;
    while (this.#o.outbox.stats().held > 0) {
      if (this.#status.state !== 'connected' || this.#clock.now() >= deadline) return false;
      // Yield to I/O as well: an injected clock may resolve sleeps at once.
      await Promise.all([this.#clock.sleep(25), new Promise((resolve) => setImmediate(resolve))]);
    }
    return true;
  }

  /** Closes the stream and stops reconnecting; resolves when the loop has ended. */
  async stop(): Promise<void> {
    if (this.#status.state === 'stopped') return;
    this.#abort.abort(new Error('hub link stopping'));
    this.#conn?.stream.close();
    this.#clearRenewTimer();
    this.#unsubscribe();
    await this.#loop;
    this.#set({ state: 'stopped' });
  }

  #set(s: Omit<LinkStatus, 'since' | 'attempt'> & { attempt?: number }): void {
    this.#status = { attempt: this.#status.attempt, ...s, since: this.#clock.now() };
    for (const l of [...this.#listeners]) l(this.#status);
  }

  get #stopping(): boolean {
    return this.#abort.signal.aborted;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let refused: string | undefined;
      try {
        const identity = await this.#ensureIdentity();
        this.#set({ state: 'connecting' });
        const end = await this.#session(identity);
        if (this.#stopping) break;
        const closed = new LinkClosedError(
          `hub stream of cluster ${this.#o.cluster} ended: ${grpcCodeName(end.code)}${end.details ? `: ${end.details}` : ''}`,
          { code: end.code, cause: end.error },
        );
        if (closed.terminal) {
          // The hub refused this identity (revoked, or unknown to it). A token given for
          // re-enrollment gets one chance; a used-up one is refused in turn.
          if (this.#o.enrollment?.token && !this.#reenrolled) {
            this.#reenrolled = true;
            this.#log.warn(
              { err: closed.message },
              `${closed.message}; enrolling again with the configured enrollment token`,
            );
            this.#identity = undefined;
            await this.#enroll();
            continue;
          }
          refused = closed.message;
        } else throw closed;
      } catch (err) {
        if (this.#stopping) break;
        if (isTerminal(err)) refused = errorMessage(err);
        else {
          const delay = this.#backoff.next();
          const attempt = this.#status.attempt + 1;
          this.#log.warn(
            { err: errorMessage(err), attempt, retry_in_ms: delay },
            `hub link: ${errorMessage(err)}; retrying in ${Math.round(delay / 100) / 10}s`,
          );
          this.#set({ state: 'backoff', attempt, error: errorMessage(err), retryInMs: delay });
          await this.#clock.sleep(delay, this.#abort.signal).catch(() => undefined);
          continue;
        }
      }
      if (refused !== undefined) {
        this.#log.error(
          { err: refused },
          `hub link refused: ${refused}. The agent keeps reconciling from Git but reports to no hub; enroll the cluster again (driftless token create) to reconnect`,
        );
        this.#set({ state: 'refused', error: refused });
        return;
      }
    }
  }

  #reenrolled = false;
  #everEnrolled = false;

  /** The identity to connect with: cached, stored, or enrolled now. */
  async #ensureIdentity(): Promise<Identity> {
    if (this.#identity) {
      if (this.#unsaved) await this.#persist(this.#identity);
      return this.#identity;
    }
    const stored = await this.#o.identities.load();
    if (stored) {
      const info = certificateInfo(stored.certPem);
      this.#log.info(
        { serial: info.serial, not_after: new Date(info.notAfterMs).toISOString() },
        `hub link: using the stored identity of cluster ${this.#o.cluster}`,
      );
      this.#identity = stored;
      this.#everEnrolled = true;
      return stored;
    }
    return this.#enroll();
  }

  /** Trades the enrollment token for a certificate and stores the identity. */
  async #enroll(): Promise<Identity> {
    const { cluster } = this.#o;
    const token = this.#o.enrollment?.token;
    const caPem = this.#o.enrollment?.caPem;
    if (!token)
      throw new NotEnrolledError(
        `cluster ${cluster} has no hub identity and no enrollment token: create one with "driftless token create --cluster ${cluster}" and give it to the agent (DRIFTLESS_ENROLLMENT_TOKEN)`,
      );
    if (!caPem)
      throw new NotEnrolledError(
        `cluster ${cluster} must enroll, but the hub CA is not given: set --hub-ca-file (DRIFTLESS_HUB_CA_FILE) to the hub's ca.crt`,
      );
    this.#set({ state: 'enrolling' });
    const key = await (this.#o.generateKey ?? generateKeyAndCsr)(cluster);
    const extension = this.#o.transport.prepareEnroll?.(cluster);
    let res;
    try {
      res = await this.#o.transport.enroll(
        {
          token,
          clusterName: cluster,
          csrPem: key.csrPem,
          agentVersion: this.#o.agentVersion,
          labels: this.#o.labels ?? {},
          ...extension?.request,
        },
        caPem,
        this.#abort.signal,
      );
    } catch (err) {
      const code = grpcCodeOf(err);
      const details = (err as { details?: unknown }).details;
      throw new EnrollError(
        `enroll cluster ${cluster}: the hub answered ${grpcCodeName(code)}${typeof details === 'string' && details ? `: ${details}` : ''}`,
        { code, cause: err },
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
    this.#identityReceivedAt = this.#clock.now();
    this.#everEnrolled = true;
    const info = certificateInfo(identity.certPem);
    this.#log.info(
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
      this.#log.error(
        { err: errorMessage(err) },
        `hub link: cannot store the identity (kept in memory, retried before the next connect): ${errorMessage(err)}`,
      );
    }
  }

  /** One stream, from Hello to its end. Resolves with how it ended. */
  #session(identity: Identity): Promise<StreamEnd> {
    return new Promise<StreamEnd>((resolve) => {
      const conn: Conn = {
        identity,
        acked: false,
        blocked: false,
        heartbeat: undefined,
        stream: this.#o.transport.connect(identity, {
          onMessage: (m) => {
            this.#inbox = this.#inbox.then(() =>
              this.#onHubMessage(conn, m).catch((err: unknown) =>
                this.#log.error(
                  { err: errorMessage(err) },
                  `hub link: handling a ${m.body?.$case ?? 'empty'} message failed: ${errorMessage(err)}`,
                ),
              ),
            );
          },
          onDrain: () => {
            conn.blocked = false;
            this.#pump();
          },
          onEnd: (end) => {
            if (conn.heartbeat) clearInterval(conn.heartbeat);
            if (this.#conn === conn) this.#conn = undefined;
            this.#o.outbox.disconnected();
            resolve(end);
          },
        }),
      };
      this.#conn = conn;
      if (this.#stopping) conn.stream.close();
      this.#write(conn, 0n, {
        $case: 'hello',
        value: {
          clusterName: this.#o.cluster,
          agentVersion: this.#o.agentVersion,
          lastAckedHubSeq: this.#hubSeq,
          labels: this.#o.labels ?? {},
          apps: this.#appNames(),
          repoUrl: this.#o.repoUrl,
          branch: this.#o.branch,
        },
      });
    });
  }

  /** Apps the agent knows now: from its statuses and from statuses still queued. */
  #appNames(): string[] {
    const names = new Set(this.#o.hooks.statuses().map((s) => s.app));
    for (const app of this.#o.outbox.pendingStatusApps()) names.add(app);
    return [...names].sort();
  }

  /** Writes an unsequenced message (Hello, Heartbeat, Ack, RenewCertificate). */
  #write(conn: Conn, seq: bigint, body: AgentMessageBody): void {
    const ok = conn.stream.write(
      AgentMessage.create({ seq, body, sentAtUnixMs: BigInt(this.#clock.now()) }),
    );
    if (!ok) conn.blocked = true;
  }

  async #onHubMessage(conn: Conn, m: HubMessage): Promise<void> {
    const body = m.body;
    if (!body || this.#conn !== conn) return;
    switch (body.$case) {
      case 'ack':
        if (!conn.acked) return this.#onHelloAck(conn, body.value.agentSeq);
        this.#o.outbox.ack(body.value.agentSeq);
        return;
      case 'refreshHint':
        this.#log.debug({ revision: body.value.revision }, 'hub link: refresh hint');
        this.#o.hooks.refresh();
        break;
      case 'syncNow':
        this.#log.info({ app: body.value.app || '(all)' }, 'hub link: sync requested by the hub');
        this.#o.hooks.refresh();
        break;
      case 'approval': {
        const a = body.value;
        this.#log.info(
          {
            app: a.app,
            approval: a.approvalId,
            revision: a.revision,
            digest: a.planDigest,
            approved_by: a.approvedBy,
          },
          `hub link: approval ${a.approvalId} of app ${a.app} at ${a.revision.slice(0, 7)} by ${a.approvedBy}`,
        );
        // The book only records it; the engine applies only if its fresh plan at that
        // revision has exactly this digest.
        this.#o.hooks.approvals.add({
          approvalId: a.approvalId,
          app: a.app,
          revision: a.revision,
          planDigest: a.planDigest,
          approvedBy: a.approvedBy,
        });
        break;
      }
      case 'certificateIssued':
        if (!(await this.#onCertificate(conn, body.value))) return; // not stored: not acked
        break;
    }
    if (m.seq > 0n && this.#conn === conn) {
      if (m.seq > this.#hubSeq) this.#hubSeq = m.seq;
      this.#write(conn, 0n, { $case: 'ack', value: { hubSeq: this.#hubSeq } });
    }
  }

  #onHelloAck(conn: Conn, agentSeq: bigint): void {
    conn.acked = true;
    const { outbox } = this.#o;
    outbox.resume(agentSeq);
    // The hub's view of every app is made whole after each Hello (older reports may have
    // been summarised away); apps whose status is still queued need no second copy.
    const pending = outbox.pendingStatusApps();
    for (const s of this.#o.hooks.statuses())
      if (!pending.has(s.app)) outbox.push({ $case: 'appStatus', value: toAppStatus(s) });
    this.#backoff.reset();
    const stats = outbox.stats();
    this.#log.info(
      { hub_seq: agentSeq, resending: stats.unsent, dropped: stats.dropped },
      `hub link: connected; the hub has reports up to seq ${agentSeq}, sending ${stats.unsent}`,
    );
    this.#set({ state: 'connected', attempt: 0 });
    conn.heartbeat = setInterval(() => {
      if (this.#conn === conn && !conn.blocked)
        this.#write(conn, 0n, { $case: 'heartbeat', value: {} });
    }, this.#o.heartbeatIntervalMs ?? 15_000);
    // Timers of the link never keep a process alive on their own.
    conn.heartbeat.unref();
    this.#pump();
    this.#scheduleRenewal();
  }

  #schedulePump(): void {
    if (this.#pumpQueued) return;
    this.#pumpQueued = true;
    // Reporters call in from the engine: write on the next tick, never inside its call.
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  /** Writes queued reports while the stream takes them. */
  #pump(): void {
    const conn = this.#conn;
    if (!conn?.acked) return;
    while (!conn.blocked) {
      const m = this.#o.outbox.takeUnsent();
      if (!m) return;
      if (!conn.stream.write(m)) conn.blocked = true;
    }
  }

  // ---- certificate renewal -------------------------------------------------------------------

  #clearRenewTimer(): void {
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
  }

  /** Arms the timer for the next renewal step of the current certificate. */
  #scheduleRenewal(): void {
    this.#clearRenewTimer();
    if (!this.#identity || this.#stopping) return;
    const info = certificateInfo(this.#identity.certPem);
    const now = this.#clock.now();
    let at = renewAtMs(info, this.#o.renewFraction, this.#identityReceivedAt);
    if (this.#renewal) at = Math.max(at, this.#renewal.sentAt + (this.#o.renewRetryMs ?? 60_000));
    if (at <= now) {
      void this.#requestRenewal();
      at = now + (this.#o.renewRetryMs ?? 60_000);
    }
    this.#renewTimer = setTimeout(
      () => this.#scheduleRenewal(),
      Math.min(MAX_TIMER_MS, Math.max(0, at - now)),
    );
    this.#renewTimer.unref();
  }

  /** Sends RenewCertificate with a CSR for a new key (kept until its certificate arrives). */
  async #requestRenewal(): Promise<void> {
    const conn = this.#conn;
    if (!conn?.acked) return;
    try {
      if (!this.#renewal) {
        const key = await (this.#o.generateKey ?? generateKeyAndCsr)(this.#o.cluster);
        this.#renewal = { ...key, sentAt: 0 };
      }
      if (this.#conn !== conn) return;
      this.#renewal.sentAt = this.#clock.now();
      this.#log.info('hub link: renewing the client certificate');
      this.#write(conn, 0n, {
        $case: 'renewCertificate',
        value: { csrPem: this.#renewal.csrPem },
      });
    } catch (err) {
      this.#log.error(
        { err: errorMessage(err) },
        `hub link: cannot request a new certificate: ${errorMessage(err)}`,
      );
    }
  }

  /** Stores a renewed certificate; false when it could not be stored (then it is not acked). */
  async #onCertificate(
    conn: Conn,
    issued: { certificatePem: string; caBundlePem: string },
  ): Promise<boolean> {
    const renewal = this.#renewal;
    if (!renewal || !keyMatchesCertificate(renewal.keyPem, issued.certificatePem)) {
      // E.g. the answer to a renewal asked before a restart: its key is gone.
      this.#log.warn(
        'hub link: received a certificate for a key this agent does not hold; ignored',
      );
      return true;
    }
    const identity: Identity = {
      // Other credentials (the NATS link's) are not renewed with the certificate: kept.
      ...conn.identity,
      keyPem: renewal.keyPem,
      certPem: issued.certificatePem,
      caPem: issued.caBundlePem || conn.identity.caPem,
    };
    try {
      await this.#o.identities.save(identity);
    } catch (err) {
      // Kept pending: the timer asks again, and the answer is stored then.
      this.#log.error(
        { err: errorMessage(err) },
        `hub link: cannot store the renewed certificate: ${errorMessage(err)}`,
      );
      return false;
    }
    this.#identity = identity;
    this.#identityReceivedAt = this.#clock.now();
    this.#renewal = undefined;
    const info = certificateInfo(identity.certPem);
    this.#log.info(
      { serial: info.serial, not_after: new Date(info.notAfterMs).toISOString() },
      'hub link: certificate renewed; the next connection uses it',
    );
    this.#scheduleRenewal();
    return true;
  }
}

/** Errors after which retrying cannot help until a person acts (the one classifier decides). */
function isTerminal(err: unknown): boolean {
  return classify(err) === 'terminal';
}
