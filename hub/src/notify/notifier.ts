import type { Clock, Logger } from '@driftless/common';
import type { EventBus } from '../events.ts';
import { OutboundGuard } from '../outbound/index.ts';
import type { SecretBox } from '../secrets/index.ts';
import type { DestinationKind, Store } from '../store/index.ts';
import { EventDeriver } from './derive.ts';
import { Dispatcher, DISPATCHER_DEFAULTS, type DispatcherSettings } from './dispatcher.ts';
import type { LinkSettings, NotificationEvent } from './model.ts';
import { providers as defaultProviders, type Provider } from './providers/index.ts';

/** Options of {@link Notifier}; unset ones come from {@link NOTIFIER_DEFAULTS}. */
export interface NotifierOptions {
  store: Store;
  events: EventBus;
  box: SecretBox;
  /** Dashboard, commit and trace links in notifications. */
  links?: Partial<LinkSettings>;
  /** A cluster is announced disconnected after this long without an agent stream, ms. */
  disconnectGraceMs?: number;
  /** Retry and polling settings. */
  delivery?: Partial<DispatcherSettings>;
  /**
   * Which addresses the real providers may send to; default only public ones
   * ({@link OutboundGuard}).
   */
  guard?: OutboundGuard;
  /** Providers per kind (tests replace them); default the real ones, through `guard`. */
  providers?: Record<DestinationKind, Provider>;
  log: Logger;
  clock: Clock;
  random?: () => number;
}

/** Defaults of {@link NotifierOptions}. */
export const NOTIFIER_DEFAULTS = {
  disconnectGraceMs: 5 * 60_000,
  delivery: DISPATCHER_DEFAULTS,
};

/**
 * Notifications: derives them from the hub's events ({@link EventDeriver}),
 * routes them through the rules and delivers them ({@link Dispatcher}).
 */
export class Notifier {
  readonly #deriver: EventDeriver;
  readonly #dispatcher: Dispatcher;
  readonly #clock: Clock;

  constructor(o: NotifierOptions) {
    this.#clock = o.clock;
    this.#dispatcher = new Dispatcher({
      store: o.store,
      box: o.box,
      providers:
        o.providers ?? defaultProviders(o.guard ?? new OutboundGuard(), () => o.clock.now()),
      settings: { ...NOTIFIER_DEFAULTS.delivery, ...o.delivery },
      log: o.log,
      clock: o.clock,
      random: o.random,
    });
    this.#deriver = new EventDeriver({
      store: o.store,
      events: o.events,
      links: {
        publicUrl: o.links?.publicUrl ?? '',
        commitUrlTemplate: o.links?.commitUrlTemplate ?? '',
        traceUrlTemplate: o.links?.traceUrlTemplate ?? '',
      },
      disconnectGraceMs: o.disconnectGraceMs ?? NOTIFIER_DEFAULTS.disconnectGraceMs,
      emit: async (e) => {
        await this.#dispatcher.route(e);
      },
      log: o.log,
      clock: o.clock,
    });
  }

  /** Starts deriving and delivering. */
  start(): void {
    this.#dispatcher.start();
    this.#deriver.start();
  }

  /** Stops both; resolves when work in progress ended. */
  async stop(): Promise<void> {
    await this.#deriver.stop();
    await this.#dispatcher.stop();
  }

  /**
   * Sends a test notification to `destination` now, bypassing rules and the
   * delivery log; throws the destination's error (no secret in it; what the
   * destination answered is its `answer`, see answerOf).
   */
  async test(destination: string, actor: string): Promise<void> {
    const now = this.#clock.now();
    const event: NotificationEvent = {
      version: 1,
      key: `test:${destination}:${now}`,
      kind: 'notify.test',
      severity: 'info',
      outcome: 'neutral',
      atMs: now,
      title: `Test notification from Driftless to ${destination}`,
      message: `sent by ${actor}`,
      cluster: '',
      labels: {},
      app: '',
      revision: '',
      links: { commit: '', trace: '', dashboard: '' },
    };
    await this.#dispatcher.sendTo(destination, event);
  }
}
