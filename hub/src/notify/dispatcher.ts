import { randomUUID } from 'node:crypto';
import {
  classify,
  clockTimeout,
  errorMessage,
  jittered,
  TerminalError,
  type Clock,
  type Logger,
} from '@driftless/common';
import { answerOf } from '../outbound/index.ts';
import type { SecretBox } from '../secrets/index.ts';
import type { DeliveryRecord, DestinationKind, RuleRecord, Store } from '../store/index.ts';
import { openDestination } from './destinations.ts';
import type { NotificationEvent } from './model.ts';
import type { Provider } from './providers/index.ts';
import { ruleMatches } from './rules.ts';

/** Retry and polling settings of the {@link Dispatcher}; see {@link DISPATCHER_DEFAULTS}. */
export interface DispatcherSettings {
  /** How often due deliveries are looked for (they are also sent at once when queued), ms. */
  pollMs: number;
  /** Attempts before a delivery is given up as failed. */
  maxAttempts: number;
  /** Delay before the first retry, doubled per attempt up to `retryMaxMs`, ms. */
  retryInitialMs: number;
  /** Longest delay between attempts, ms. */
  retryMaxMs: number;
  /** How long a replica holds a claimed delivery before another may take it over, ms. */
  leaseMs: number;
  /** Deliveries claimed per round. */
  batch: number;
  /** Finished deliveries are kept in the log this long, ms. */
  logRetentionMs: number;
}

/** Defaults of {@link DispatcherSettings}. */
export const DISPATCHER_DEFAULTS: DispatcherSettings = {
  pollMs: 2_000,
  maxAttempts: 6,
  retryInitialMs: 2_000,
  retryMaxMs: 5 * 60_000,
  leaseMs: 60_000,
  batch: 20,
  logRetentionMs: 30 * 86_400_000,
};

/** How long `stop()` waits for a send in progress (a hung store or destination) before it returns, ms. */
const STOP_WAIT_MS = 5_000;
/** How often finished deliveries older than the retention are deleted, ms. */
const PRUNE_EVERY_MS = 3_600_000;

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  store: Store;
  box: SecretBox;
  providers: Record<DestinationKind, Provider>;
  settings: DispatcherSettings;
  log: Logger;
  clock: Clock;
  /** Random source for retry jitter; injectable for tests. */
  random?: () => number;
}

/**
 * Routes notifications through the rules into the delivery log, and sends
 * what is due. Every step goes through the store, so with several replicas:
 * a (notification, rule) pair is queued once (unique key), a delivery is sent
 * by the replica that claimed it (a lease; an expired lease is taken over),
 * and a rule's held-back deliveries get one summary.
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  /** Names this replica in claims. */
  readonly owner = `hub-${randomUUID().slice(0, 8)}`;
  #stopped = true;
  #cancelTimer: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #lastPruneMs = 0;

  constructor(options: DispatcherOptions) {
    this.#o = options;
  }

  /** Starts the send loop. */
  start(): void {
    this.#stopped = false;
    this.kick();
  }

  /** Stops the loop; resolves when the round in progress ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer?.();
    const gaveUp = new AbortController();
    await Promise.race([
      this.#running,
      this.#o.clock.sleep(STOP_WAIT_MS, gaveUp.signal).catch(() => undefined),
    ]);
    gaveUp.abort();
  }

  /** Queues `event` for every rule that routes it; returns how many it was queued (or held) for. */
  async route(event: NotificationEvent): Promise<number> {
    const { store, clock } = this.#o;
    let n = 0;
    for (const rule of await store.listRules()) {
      if (!ruleMatches(rule, event)) continue;
      const result = await store.enqueueDelivery(
        {
          eventKey: event.key,
          ruleId: rule.id,
          destination: rule.destination,
          event: event as unknown as Record<string, unknown>,
        },
        { max: rule.rateLimitMax, windowMs: rule.rateLimitWindowMs },
        clock.now(),
      );
      if (result !== 'duplicate') n++;
    }
    if (n) this.kick();
    return n;
  }

  /** Runs a round now (or right after the current one). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#cancelTimer?.();
    this.#running = this.#round()
      .catch((err: unknown) =>
        this.#o.log.warn({ err: errorMessage(err) }, 'notification round failed'),
      )
      .finally(() => {
        this.#running = undefined;
        if (this.#stopped) return;
        if (this.#again) {
          this.#again = false;
          this.kick();
          return;
        }
        this.#cancelTimer = clockTimeout(this.#o.clock, this.#o.settings.pollMs, () => this.kick());
      });
  }

  /** One round: summaries of held deliveries whose window passed, then every due delivery. */
  async #round(): Promise<void> {
    const now = this.#o.clock.now();
    if (now - this.#lastPruneMs >= PRUNE_EVERY_MS) {
      this.#lastPruneMs = now;
      await this.#o.store.pruneDeliveries(now - this.#o.settings.logRetentionMs);
    }
    await this.#summarize();
    for (;;) {
      const claimed = await this.#o.store.claimDeliveries({
        owner: this.owner,
        nowMs: this.#o.clock.now(),
        leaseMs: this.#o.settings.leaseMs,
        limit: this.#o.settings.batch,
      });
      if (claimed.length === 0) return;
      for (const d of claimed) await this.#deliver(d);
      if (this.#stopped) return;
    }
  }

  async #summarize(): Promise<void> {
    const { store, clock } = this.#o;
    const now = clock.now();
    const held = await store.heldForSummary(now);
    if (held.size === 0) return;
    const rules = new Map((await store.listRules()).map((r) => [r.id, r]));
    for (const [ruleId, list] of held) {
      const rule = rules.get(ruleId);
      if (!rule) continue;
      const event = summaryEvent(rule, list, now) as unknown as Record<string, unknown>;
      await store.enqueueSummary(rule, list, event, now);
    }
  }

  /** Sends one claimed delivery and records the attempt: sent, retry later, or failed for good. */
  async #deliver(d: DeliveryRecord): Promise<void> {
    const { store, clock, settings, log } = this.#o;
    const attempt = d.attempts.length + 1;
    try {
      await this.sendTo(d.destination, d.event as unknown as NotificationEvent);
      await store.recordAttempt(
        d.id,
        this.owner,
        { atMs: clock.now(), outcome: 'sent', error: '', answer: '' },
        { status: 'sent', nextAttemptMs: 0 },
      );
    } catch (err) {
      const error = errorMessage(err).slice(0, 500);
      // What the destination answered goes apart: admins see it, viewers see the error.
      const answer = answerOf(err);
      const retry = classify(err) === 'transient' && attempt < settings.maxAttempts;
      const delay = jittered(
        Math.min(settings.retryMaxMs, settings.retryInitialMs * 2 ** (attempt - 1)),
        0.2,
        this.#o.random,
      );
      const now = clock.now();
      await store.recordAttempt(
        d.id,
        this.owner,
        { atMs: now, outcome: 'failed', error, answer },
        retry
          ? { status: 'pending', nextAttemptMs: now + delay }
          : { status: 'failed', nextAttemptMs: 0 },
      );
      log.warn(
        { delivery: d.id, destination: d.destination, attempt, retry, err: error, answer },
        retry ? 'notification not delivered; will retry' : 'notification not delivered; gave up',
      );
      if (retry) clockTimeout(clock, delay, () => this.kick());
    }
  }

  /**
   * Sends `event` to the destination named `name` now, without queueing
   * (`driftless notify test`). Throws the destination's error.
   */
  async sendTo(name: string, event: NotificationEvent): Promise<void> {
    const dest = await this.#o.store.getDestination(name);
    if (!dest) throw new DestinationGoneError(`destination ${name}: not found (deleted?)`);
    const open = openDestination(dest, this.#o.box);
    await this.#o.providers[dest.kind].send(event, open);
  }
}

/** The destination of a queued delivery was deleted; the delivery fails, not retried. */
export class DestinationGoneError extends TerminalError {
  override name = 'DestinationGoneError';
}

/** The summary notification of deliveries a rule's rate limit held back. */
export function summaryEvent(
  rule: RuleRecord,
  held: readonly DeliveryRecord[],
  nowMs: number,
): NotificationEvent {
  const counts = new Map<string, number>();
  for (const h of held) {
    const e = h.event as Partial<NotificationEvent>;
    const what = `${e.kind ?? 'event'} ${[e.cluster, e.app].filter(Boolean).join('/')}`.trim();
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  const lines = [...counts].map(([what, n]) => `${n}× ${what}`);
  const ids = held.map((h) => h.id);
  return {
    version: 1,
    key: `summary:${rule.id}:${ids[0]}-${ids[ids.length - 1]}`,
    kind: 'notify.summary',
    severity: 'info',
    outcome: 'neutral',
    atMs: nowMs,
    title: `${held.length} notification${held.length === 1 ? '' : 's'} held back by rule ${rule.id} (at most ${rule.rateLimitMax} per ${Math.round(rule.rateLimitWindowMs / 1000)} s)`,
    message: lines.join('\n'),
    cluster: '',
    labels: {},
    app: '',
    revision: '',
    links: { commit: '', trace: '', dashboard: '' },
  };
}
