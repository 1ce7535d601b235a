import pLimit from 'p-limit';
import { clockTimeout, errorMessage, type Clock, type Logger } from '@driftless/common';
import type { EventBus, HubEvent } from '../events.ts';
import type { ClusterRecord, NotificationSeverity, Store } from '../store/index.ts';
import {
  commitLink,
  dashboardLink,
  traceLink,
  type LinkSettings,
  type NotificationEvent,
  type NotificationKind,
  type Outcome,
} from './model.ts';

/** Options of {@link EventDeriver}. */
export interface EventDeriverOptions {
  store: Store;
  events: EventBus;
  links: LinkSettings;
  /** A cluster disconnected this long (and not back on any replica) is announced, ms. */
  disconnectGraceMs: number;
  /** Receives each derived notification, once across replicas. */
  emit: (event: NotificationEvent) => Promise<void>;
  log: Logger;
  clock: Clock;
}

/** A string field of an event's data; '' when missing or not a string. */
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** What one transition announces. */
interface Announcement {
  kind: NotificationKind;
  severity: NotificationSeverity;
  outcome: Outcome;
  title: string;
  message?: string;
  app?: string;
  revision?: string;
  traceId?: string;
  alert?: NotificationEvent['alert'];
}

/** Alert names of the states that open and close (Alertmanager). */
const ALERTS = {
  sync: 'DriftlessSyncFailed',
  health: 'DriftlessAppDegraded',
  drift: 'DriftlessDrift',
  approval: 'DriftlessApprovalWaiting',
  cluster: 'DriftlessClusterDisconnected',
  config: 'DriftlessConfigError',
} as const;

/**
 * Turns the hub's change events into notifications: only transitions, each
 * decided by a compare-and-set of the subject's state in the store, so a
 * repeated report, a replayed one, or the same event seen by several replicas
 * announces nothing new. One subject per sync status, app health, app drift
 * episode, approval, cluster connection and cluster config.
 */
/**
 * Most hub events whose notifications are derived at once, across clusters: enough that their
 * store writes share a group commit, few enough that a request's read does not wait behind
 * the reads of every cluster's events (after 10,000 agents each sent a burst of reports, an
 * unbounded deriver queued tens of thousands of them ahead of a dashboard's query).
 */
export const DERIVE_CONCURRENCY = 64;

export class EventDeriver {
  readonly #o: EventDeriverOptions;
  #unsubscribe: (() => void) | undefined;
  /**
   * Per cluster, the chain of its events being handled: a cluster's events one at a time, in
   * order, so transitions of a subject never interleave (every subject belongs to one
   * cluster); different clusters in parallel, so their transitions share the store's group
   * commit instead of one transaction each.
   */
  readonly #chains = new Map<string, Promise<void>>();
  /** At most {@link DERIVE_CONCURRENCY} events handled at once, across clusters. */
  readonly #limit = pLimit(DERIVE_CONCURRENCY);
  readonly #graceTimers = new Map<string, () => void>();

  constructor(options: EventDeriverOptions) {
    this.#o = options;
  }

  /** Starts listening to the event bus. */
  start(): void {
    this.#unsubscribe = this.#o.events.subscribe((e) => {
      if (!e.cluster) return; // handle() derives nothing from an event of no cluster
      this.#enqueue(e.cluster, () =>
        this.handle(e).catch((err: unknown) =>
          this.#o.log.warn(
            { err: errorMessage(err), event: e.type, cluster: e.cluster },
            'cannot derive a notification',
          ),
        ),
      );
    });
  }

  /** Runs `fn` after the cluster's events before it (`fn` must not reject). */
  #enqueue(cluster: string, fn: () => Promise<void>): void {
    const next = (this.#chains.get(cluster) ?? Promise.resolve()).then(() => this.#limit(fn));
    this.#chains.set(cluster, next);
    void next.then(() => {
      if (this.#chains.get(cluster) === next) this.#chains.delete(cluster);
    });
  }

  /**
   * Stops listening and cancels pending disconnection checks; resolves when the
   * queue is idle, or after a few seconds when the store hangs.
   */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    for (const cancel of this.#graceTimers.values()) cancel();
    this.#graceTimers.clear();
    const gaveUp = new AbortController();
    await Promise.race([
      Promise.all(this.#chains.values()),
      this.#o.clock.sleep(5_000, gaveUp.signal).catch(() => undefined),
    ]);
    gaveUp.abort();
  }

  /** Derives the notifications of one hub event (exposed for tests). */
  async handle(e: HubEvent): Promise<void> {
    const cluster = e.cluster ?? '';
    if (!cluster) return;
    switch (e.type) {
      case 'sync.recorded':
        return this.#sync(cluster, e.app ?? '', text(e.data?.['syncId']));
      case 'app.updated':
        return this.#health(cluster, e.app ?? '');
      case 'drift.updated':
        return this.#drift(cluster, e.app ?? '');
      case 'approval.created':
        return this.#approved(cluster, e.app ?? '', text(e.data?.['revision']));
      case 'cluster.disconnected':
        return this.#scheduleDisconnectCheck(cluster);
      case 'cluster.connected':
        return this.#connected(cluster);
      case 'config.updated':
        return this.#config(cluster);
      default:
        return;
    }
  }

  async #sync(cluster: string, app: string, syncId: string): Promise<void> {
    const { store } = this.#o;
    // The reported sync itself, read by its key (cluster, sync id).
    const [s] = await store.listHistory({ cluster, app, syncId, limit: 1 });
    if (!s) return;
    const subject = `sync:${cluster}/${app}`;
    const short = s.revision.slice(0, 7);
    const base = { app, revision: s.revision, traceId: s.traceId };
    if (s.result === 'failed') {
      const t = await store.transition(subject, 'failed', this.#o.clock.now());
      if (!t.changed) return;
      return this.#announce(cluster, subject, t.episode, {
        ...base,
        kind: 'sync.failed',
        severity: 'error',
        outcome: 'bad',
        title: `Sync failed: ${cluster}/${app} at ${short}`,
        message: s.error,
        alert: { name: ALERTS.sync, firing: true, severity: 'error' },
      });
    }
    if (s.result === 'succeeded') {
      const t = await store.transition(subject, `ok:${s.revision}`, this.#o.clock.now());
      if (!t.changed) return;
      const recovered = t.previous === 'failed';
      return this.#announce(cluster, subject, t.episode, {
        ...base,
        kind: 'sync.succeeded',
        // A recovery matters as much as the failure it ends, so rules that sent one send both.
        severity: recovered ? 'error' : 'info',
        outcome: 'good',
        title: recovered
          ? `Sync recovered: ${cluster}/${app} at ${short}`
          : `Synced: ${cluster}/${app} at ${short}`,
        ...(recovered ? { alert: { name: ALERTS.sync, firing: false, severity: 'error' } } : {}),
      });
    }
    if (s.result === 'waiting-approval') {
      const subjectA = `approval:${cluster}/${app}`;
      const t = await store.transition(
        subjectA,
        `waiting:${s.revision}:${s.planDigest}`,
        this.#o.clock.now(),
      );
      if (!t.changed) return;
      return this.#announce(cluster, subjectA, t.episode, {
        ...base,
        kind: 'approval.waiting',
        severity: 'warning',
        outcome: 'neutral',
        title: `Approval needed: ${cluster}/${app} at ${short}`,
        message: s.error,
        alert: { name: ALERTS.approval, firing: true, severity: 'warning' },
      });
    }
  }

  async #approved(cluster: string, app: string, revision: string): Promise<void> {
    const subject = `approval:${cluster}/${app}`;
    const t = await this.#o.store.transition(subject, `approved:${revision}`, this.#o.clock.now());
    if (!t.changed) return;
    return this.#announce(cluster, subject, t.episode, {
      kind: 'approval.approved',
      severity: t.previous.startsWith('waiting:') ? 'warning' : 'info',
      outcome: 'good',
      app,
      revision,
      title: `Approved: ${cluster}/${app} at ${revision.slice(0, 7)}`,
      alert: { name: ALERTS.approval, firing: false, severity: 'warning' },
    });
  }

  async #health(cluster: string, app: string): Promise<void> {
    const { store } = this.#o;
    const a = await store.appHealth(cluster, app);
    if (!a || a.gone) return;
    const state =
      a.health === 'healthy'
        ? 'healthy'
        : a.health === 'degraded' || a.health === 'missing'
          ? 'degraded'
          : undefined;
    if (!state) return;
    const subject = `health:${cluster}/${app}`;
    const t = await store.transition(subject, state, this.#o.clock.now());
    if (!t.changed) return;
    const base = { app, revision: a.revision, message: a.healthMessage };
    if (state === 'degraded')
      return this.#announce(cluster, subject, t.episode, {
        ...base,
        kind: 'health.degraded',
        severity: 'error',
        outcome: 'bad',
        title: `${a.health === 'missing' ? 'Missing' : 'Degraded'}: ${cluster}/${app}`,
        alert: { name: ALERTS.health, firing: true, severity: 'error' },
      });
    // The first healthy report of an app is its normal state, not news.
    if (t.previous !== 'degraded') return;
    return this.#announce(cluster, subject, t.episode, {
      ...base,
      kind: 'health.recovered',
      severity: 'error',
      outcome: 'good',
      title: `Healthy again: ${cluster}/${app}`,
      alert: { name: ALERTS.health, firing: false, severity: 'error' },
    });
  }

  async #drift(cluster: string, app: string): Promise<void> {
    const { store } = this.#o;
    // The state from one count; the records themselves only when there is news to tell.
    const now = await store.driftState(cluster, app);
    const state = now.open === 0 ? 'clean' : now.fighting ? 'fighting' : 'drifted';
    const subject = `drift:${cluster}/${app}`;
    const t = await store.transition(subject, state, this.#o.clock.now());
    if (!t.changed) return;
    if (state === 'clean') {
      if (t.previous === '') return;
      return this.#announce(cluster, subject, t.episode, {
        kind: 'drift.healed',
        severity: 'warning',
        outcome: 'good',
        app,
        title: `Drift closed: ${cluster}/${app}`,
        alert: { name: ALERTS.drift, firing: false, severity: 'warning' },
      });
    }
    // drifted: a new episode from clean (or from nothing); leaving a fight is not news.
    if (state === 'drifted' && t.previous === 'fighting') return;
    const open = await store.listDrift({ cluster, app, open: true, limit: 50 });
    const objects = open.map((d) => {
      const fields = d.fields.map((f) => f.path).join(', ');
      return `${d.objectRef} ${d.type}${fields ? ` (${fields})` : ''}${d.changedBy ? ` by ${d.changedBy}` : ''}`;
    });
    const traceId = open[0]?.lastSyncTraceId ?? '';
    if (state === 'fighting') {
      // Read after the count: a newer report may have ended the fight in between.
      const fight = open.find((d) => d.fight);
      const how = fight?.fight
        ? `${fight.objectRef}: ${fight.fight.manager} keeps re-writing ${fight.fight.paths.join(', ')}\n`
        : '';
      return this.#announce(cluster, subject, t.episode, {
        kind: 'drift.fighting',
        severity: 'error',
        outcome: 'bad',
        app,
        traceId,
        title: `Fighting another controller: ${cluster}/${app}`,
        message: `${how}${objects.join('\n')}`,
        alert: { name: ALERTS.drift, firing: true, severity: 'warning' },
      });
    }
    return this.#announce(cluster, subject, t.episode, {
      kind: 'drift.detected',
      severity: 'warning',
      outcome: 'bad',
      app,
      traceId,
      title: `Drift detected: ${cluster}/${app} (${open.length} object${open.length === 1 ? '' : 's'})`,
      message: objects.join('\n'),
      alert: { name: ALERTS.drift, firing: true, severity: 'warning' },
    });
  }

  #scheduleDisconnectCheck(cluster: string): void {
    this.#graceTimers.get(cluster)?.();
    const cancel = clockTimeout(this.#o.clock, this.#o.disconnectGraceMs, () => {
      this.#graceTimers.delete(cluster);
      this.#enqueue(cluster, () =>
        this.#disconnected(cluster).catch((err: unknown) =>
          this.#o.log.warn({ err: errorMessage(err), cluster }, 'cannot check a disconnection'),
        ),
      );
    });
    this.#graceTimers.set(cluster, cancel);
  }

  async #disconnected(cluster: string): Promise<void> {
    const { store } = this.#o;
    const c = await store.getCluster(cluster);
    // Back on some replica, or revoked on purpose: nothing to announce.
    if (!c || c.connected || c.revokedMs) return;
    const subject = `cluster:${cluster}`;
    const t = await store.transition(subject, 'disconnected', this.#o.clock.now());
    if (!t.changed) return;
    return this.#announce(
      cluster,
      subject,
      t.episode,
      {
        kind: 'cluster.disconnected',
        severity: 'error',
        outcome: 'bad',
        title: `Cluster disconnected: ${cluster}`,
        message: `no agent stream for ${Math.round(this.#o.disconnectGraceMs / 1000)} s; last seen ${c.lastSeenMs ? new Date(c.lastSeenMs).toISOString() : 'never'}`,
        alert: { name: ALERTS.cluster, firing: true, severity: 'error' },
      },
      c,
    );
  }

  async #connected(cluster: string): Promise<void> {
    this.#graceTimers.get(cluster)?.();
    this.#graceTimers.delete(cluster);
    const subject = `cluster:${cluster}`;
    const t = await this.#o.store.transition(subject, 'connected', this.#o.clock.now());
    if (!t.changed || t.previous !== 'disconnected') return;
    return this.#announce(cluster, subject, t.episode, {
      kind: 'cluster.reconnected',
      severity: 'error',
      outcome: 'good',
      title: `Cluster reconnected: ${cluster}`,
      alert: { name: ALERTS.cluster, firing: false, severity: 'error' },
    });
  }

  async #config(cluster: string): Promise<void> {
    const { store } = this.#o;
    const [c] = await store.listConfigStates({ cluster });
    if (!c) return;
    const subject = `config:${cluster}`;
    const t = await store.transition(subject, c.valid ? 'valid' : 'invalid', this.#o.clock.now());
    if (!t.changed) return;
    if (!c.valid)
      return this.#announce(cluster, subject, t.episode, {
        kind: 'config.error',
        severity: 'error',
        outcome: 'bad',
        revision: c.revision,
        title: `Config error: ${cluster} ${c.file} at ${c.revision.slice(0, 7)}`,
        message: c.error,
        alert: { name: ALERTS.config, firing: true, severity: 'error' },
      });
    if (t.previous !== 'invalid') return;
    return this.#announce(cluster, subject, t.episode, {
      kind: 'config.fixed',
      severity: 'error',
      outcome: 'good',
      revision: c.revision,
      title: `Config valid again: ${cluster} at ${c.revision.slice(0, 7)}`,
      alert: { name: ALERTS.config, firing: false, severity: 'error' },
    });
  }

  /** Builds the notification (cluster labels, links) and hands it on. */
  async #announce(
    cluster: string,
    subject: string,
    episode: number,
    a: Announcement,
    known?: ClusterRecord,
  ): Promise<void> {
    const { links } = this.#o;
    const c = known ?? (await this.#o.store.getCluster(cluster));
    const app = a.app ?? '';
    const revision = a.revision ?? '';
    await this.#o.emit({
      version: 1,
      key: `${subject}#${episode}:${a.kind}`,
      kind: a.kind,
      severity: a.severity,
      outcome: a.outcome,
      atMs: this.#o.clock.now(),
      title: a.title,
      message: a.message ?? '',
      cluster,
      labels: c?.labels ?? {},
      app,
      revision,
      links: {
        commit: commitLink(links, { repoUrl: c?.repoUrl ?? '', revision, cluster, app }),
        trace: traceLink(links, a.traceId ?? ''),
        dashboard: dashboardLink(links, cluster, app),
      },
      ...(a.alert ? { alert: a.alert } : {}),
    });
  }
}
