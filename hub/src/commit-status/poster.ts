import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  errorMessage,
  explainClass,
  httpStatusOf,
  jittered,
  systemClock,
  type Clock,
  type Logger,
} from '@driftless/common';
import { answerOf, OutboundGuard } from '../outbound/index.ts';
import type { SecretBox } from '../secrets/index.ts';
import type { CommitStatusRecord, CommitStatusStore } from '../store/commit-statuses.ts';
import { postStatus, StatusPostError } from './hosts.ts';

/** Options of {@link StatusPoster}; see {@link POSTER_DEFAULTS}. */
export interface StatusPosterOptions {
  store: CommitStatusStore;
  secrets: Pick<SecretBox, 'open'>;
  log: Logger;
  clock?: Clock;
  /** Which addresses posts may go to; default only public ones ({@link OutboundGuard}). */
  guard?: OutboundGuard;
  /** Names this replica's claims; default host name, pid and a random suffix. */
  owner?: string;
  /** How often due statuses (retries) are looked for without a kick, ms. */
  intervalMs?: number;
  /** How long a claim holds against other replicas, ms (longer than a post may take). */
  leaseMs?: number;
  /** Statuses claimed per round. */
  batch?: number;
  /** First retry delay after a transient failure, ms; doubles per attempt. */
  retryInitialMs?: number;
  /** Longest retry delay, ms. */
  retryMaxMs?: number;
  /** Retry delay after a terminal failure (bad token, unknown repository), ms. */
  terminalRetryMs?: number;
  /** Random source in [0, 1) for jitter. */
  random?: () => number;
}

/** The poster's defaults, set once. */
export const POSTER_DEFAULTS = {
  intervalMs: 2_000,
  leaseMs: 30_000,
  batch: 20,
  retryInitialMs: 1_000,
  retryMaxMs: 5 * 60_000,
  terminalRetryMs: 60 * 60_000,
};

type Resolved = Required<StatusPosterOptions>;

function resolve(o: StatusPosterOptions): Resolved {
  return {
    ...POSTER_DEFAULTS,
    guard: o.guard ?? new OutboundGuard(),
    clock: systemClock,
    owner: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    random: Math.random,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
  } as Resolved;
}

/** The sealing context of a host's token: a sealed token copied onto another host does not open. */
export function hostTokenContext(host: string): string {
  return `commit-status-host/${host}`;
}

/**
 * Posts the statuses the engine decided, once across hub replicas: each round claims due
 * statuses through the store (a lease), posts them and records the result, retrying
 * transient failures (5xx, 429, network) with capped, jittered backoff and terminal ones
 * (401, 403, 404, 422) after `terminalRetryMs` or when the host's token is replaced. Every
 * attempt goes to the post log (API) and failures to the log, never with the token.
 */
export class StatusPoster {
  readonly #o: Resolved;
  #stopped = false;
  #wake: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: StatusPosterOptions) {
    this.#o = resolve(options);
  }

  /** Starts the loop (one round at once, then every `intervalMs` or {@link kick}). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Runs a round soon: a status was decided. */
  kick(): void {
    this.#wake?.abort();
  }

  /** Stops after the round in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.abort();
    await this.#loop;
  }

  /** One round: claims due statuses and posts them; returns how many were tried. */
  async round(): Promise<number> {
    const { store, clock, owner, leaseMs, batch } = this.#o;
    const now = clock.now();
    const claimed = await store.claimDueStatuses(owner, now, now + leaseMs, batch);
    for (const claim of claimed) await this.#post(claim);
    return claimed.length;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let tried = 0;
      try {
        tried = await this.round();
      } catch (err) {
        this.#o.log.error({ err: errorMessage(err) }, `commit statuses: ${errorMessage(err)}`);
      }
      if (this.#stopped) break;
      if (tried >= this.#o.batch) continue;
      this.#wake = new AbortController();
      await this.#o.clock.sleep(this.#o.intervalMs, this.#wake.signal).catch(() => undefined);
    }
  }

  async #post(claim: CommitStatusRecord): Promise<void> {
    const { store, clock, owner, log } = this.#o;
    const where = { repo: claim.repoUrl, sha: claim.sha, context: claim.context, host: claim.host };
    try {
      const host = await store.getStatusHost(claim.host);
      if (!host)
        throw new StatusPostError(
          `commit-status host ${claim.host} was removed; add it again to post to ${claim.repoPath}`,
          { status: 404 },
        );
      const status = await postStatus(
        {
          kind: host.kind,
          apiUrl: host.apiUrl,
          token: this.#o.secrets.open(host.tokenSealed, hostTokenContext(host.name)),
          repoPath: claim.repoPath,
          sha: claim.sha,
          state: claim.state,
          description: claim.description,
          context: claim.context,
          targetUrl: claim.targetUrl,
        },
        this.#o.guard,
      );
      await store.recordStatusPosted(claim, owner, clock.now(), status);
      log.info(
        { ...where, state: claim.state },
        `commit status ${claim.context} ${claim.state} posted on ${claim.sha.slice(0, 7)}`,
      );
    } catch (err) {
      const message = errorMessage(err);
      const why = explainClass(err);
      const delay =
        why.errorClass === 'terminal'
          ? this.#o.terminalRetryMs
          : jittered(
              Math.min(
                this.#o.retryMaxMs,
                this.#o.retryInitialMs * 2 ** Math.min(claim.attempts, 20),
              ),
              0.2,
              this.#o.random,
            );
      const now = clock.now();
      const answer = answerOf(err);
      await store.recordStatusFailed(claim, owner, now, {
        error: message,
        answer,
        httpStatus: httpStatusOf(err) ?? 0,
        nextAttemptMs: now + delay,
      });
      log.warn(
        {
          ...where,
          state: claim.state,
          attempt: claim.attempts + 1,
          retryInMs: delay,
          reason: why.reason,
          answer,
        },
        `commit status ${claim.context} on ${claim.sha.slice(0, 7)} not posted: ${message}`,
      );
    }
  }
}
