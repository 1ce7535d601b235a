import { status } from '@grpc/grpc-js';
import type { NatsConnection, Subscription } from 'nats';
import { errorMessage, type Clock, type Logger } from '@driftless/common';
import type { EventBus, HubEvent } from '../events.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import { deliverApprovals } from './approvals.ts';
import type { SessionRegistry } from './sessions.ts';

/** Hub-to-hub subjects (replicas on one PostgreSQL). */
export const HUB_FANOUT_SUBJECTS = {
  /** Dashboard events (SSE) of every replica. */
  events: 'driftless.hubs.events',
  /** A replica answered a cluster's Hello: every replica can now send to it. */
  sessions: 'driftless.hubs.sessions',
  /** An approval was stored: the replica holding the cluster's gRPC stream delivers it. */
  approvals: 'driftless.hubs.approvals',
  /** A Git push reached one replica's webhook: every replica hints its gRPC-linked agents. */
  hints: 'driftless.hubs.hints',
  /** A cluster was revoked: every replica closes the cluster's stream. */
  revocations: 'driftless.hubs.revocations',
  /** An object tree asked on one replica: the replica holding the agent's gRPC stream asks it. */
  trees: 'driftless.hubs.trees',
};

/**
 * A Git push as replicas relay it (the webhook's PushEvent, with its set of repository keys
 * as an array so that it travels as JSON).
 */
export interface RelayedPush {
  /** Every URL the payload gives for the repository, as repository keys. */
  repoKeys: string[];
  /** A URL of the repository for logs (credentials stripped). */
  repoUrl: string;
  /** The pushed branch, without `refs/heads/`. */
  branch: string;
  /** The repository's default branch if the payload names it, else ''. */
  defaultBranch: string;
  /** The new head commit, or ''. */
  revision: string;
}

/** What {@link HubFanout} needs. */
export interface HubFanoutOptions {
  nc: NatsConnection;
  /** This replica's id: what it publishes itself is ignored when it comes back. */
  replica: string;
  store: Store;
  sessions: SessionRegistry;
  events: EventBus;
  metrics: HubMetrics;
  log: Logger;
  clock: Clock;
  /** Whether a session is a NATS link's (every replica sends to those directly). */
  isNatsSession(cluster: string): boolean;
  /** A cluster's Hello was answered by some replica: adopt its NATS session. */
  adopt(cluster: string, follows?: { repoUrl: string; branch: string }): void;
  /** A cluster was revoked on this replica: tell its NATS-linked agent. */
  revoked(cluster: string, details: string): void;
  /** Hints this replica's gRPC-linked agents about a push another replica received. */
  hintRelayedPush?(push: RelayedPush): void;
}

/**
 * The fan-out between hub replicas over NATS: dashboard events are relayed so every
 * replica's SSE clients see all; approvals, pushes and revocations made on one replica reach
 * the replica that holds the cluster's gRPC stream; Hellos answered by one replica let every
 * replica adopt the cluster's NATS session.
 */
export class HubFanout {
  readonly #o: HubFanoutOptions;
  #relaying = false;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #subscriptions: Subscription[] = [];

  constructor(options: HubFanoutOptions) {
    this.#o = options;
  }

  /** Starts relaying and listening. */
  start(): void {
    const { nc } = this.#o;
    this.#subscriptions.push(
      nc.subscribe(HUB_FANOUT_SUBJECTS.sessions, {
        callback: (_e, m) =>
          this.#guard(HUB_FANOUT_SUBJECTS.sessions, () => {
            const { cluster, follows } = m.json<{
              cluster: string;
              follows?: { repoUrl: string; branch: string };
            }>();
            this.#o.adopt(cluster, follows);
          }),
      }),
    );
    this.#relayEvents();
    this.#serveWrites();
  }

  /** Tells every replica a cluster's Hello was answered here. */
  announceSession(cluster: string, follows: { repoUrl: string; branch: string }): void {
    if (this.#o.nc.isClosed()) return;
    this.#o.nc.publish(HUB_FANOUT_SUBJECTS.sessions, JSON.stringify({ cluster, follows }));
  }

  /**
   * Announces a Git push this replica's webhook received, so that every other replica hints
   * the gRPC-linked agents whose streams it holds. A hint only (not stored): an agent that
   * misses it finds the commit at its next poll.
   */
  relayPush(push: RelayedPush): void {
    if (this.#o.nc.isClosed()) return;
    this.#o.nc.publish(HUB_FANOUT_SUBJECTS.hints, JSON.stringify({ from: this.#o.replica, push }));
  }

  /** Stops relaying this replica's events. */
  stop(): void {
    for (const off of this.#unsubscribe) off();
    for (const s of this.#subscriptions) s.unsubscribe();
  }

  /** Runs a handler of a fan-out message; a failure is logged, never thrown. */
  #guard(subject: string, fn: () => Promise<void> | void): void {
    void (async () => fn())().catch((err: unknown) =>
      this.#o.log.warn(
        { err: errorMessage(err), subject },
        `hub fan-out: ${subject} failed: ${errorMessage(err)}`,
      ),
    );
  }

  /** Relays dashboard events between replicas, so SSE clients of every replica see all. */
  #relayEvents(): void {
    const { events, nc, replica } = this.#o;
    this.#unsubscribe.push(
      events.subscribe((e) => {
        if (this.#relaying || nc.isClosed()) return;
        const { id: _id, atMs: _at, ...rest } = e;
        nc.publish(HUB_FANOUT_SUBJECTS.events, JSON.stringify({ from: replica, event: rest }));
      }),
    );
    this.#subscriptions.push(
      nc.subscribe(HUB_FANOUT_SUBJECTS.events, {
        callback: (_e, m) =>
          this.#guard(HUB_FANOUT_SUBJECTS.events, () => {
            const { from, event } = m.json<{
              from: string;
              event: Omit<HubEvent, 'id' | 'atMs'>;
            }>();
            if (from === replica) return;
            // publish() calls subscribers synchronously: the flag keeps it from echoing back.
            this.#relaying = true;
            try {
              events.publish(event);
            } finally {
              this.#relaying = false;
            }
          }),
      }),
    );
  }

  /**
   * The fan-out a gRPC stream needs: it lives on one replica, while approvals, pushes and
   * revocations reach any replica. Approvals and revocations are taken from this replica's
   * own events (every API write announces one), pushes from {@link relayPush}.
   */
  #serveWrites(): void {
    const { events, nc, replica, log } = this.#o;
    this.#unsubscribe.push(
      events.subscribe((e) => {
        // Relayed events were announced by the replica that made them.
        if (this.#relaying || nc.isClosed() || !e.cluster) return;
        if (e.type === 'approval.created' && typeof e.data?.['id'] === 'string')
          nc.publish(
            HUB_FANOUT_SUBJECTS.approvals,
            JSON.stringify({ from: replica, cluster: e.cluster, approvalId: e.data['id'] }),
          );
        else if (e.type === 'cluster.revoked') {
          // Whether or not a replica has adopted the cluster's NATS session, the agent hears it.
          this.#o.revoked(e.cluster, `cluster ${e.cluster} was revoked by an administrator`);
          nc.publish(
            HUB_FANOUT_SUBJECTS.revocations,
            JSON.stringify({ from: replica, cluster: e.cluster }),
          );
        }
      }),
    );
    const remote = <T>(subject: string, fn: (body: T) => Promise<void> | void) =>
      this.#subscriptions.push(
        nc.subscribe(subject, {
          callback: (_e, m) =>
            this.#guard(subject, async () => {
              const body = m.json<T & { from: string }>();
              if (body.from === replica) return;
              await fn(body);
            }),
        }),
      );
    remote<{ cluster: string; approvalId: string }>(HUB_FANOUT_SUBJECTS.approvals, (a) =>
      this.#deliverRelayedApproval(a.cluster, a.approvalId),
    );
    remote<{ push: RelayedPush }>(HUB_FANOUT_SUBJECTS.hints, ({ push }) =>
      this.#o.hintRelayedPush?.(push),
    );
    remote<{ cluster: string }>(HUB_FANOUT_SUBJECTS.revocations, ({ cluster }) => {
      const session = this.#o.sessions.get(cluster);
      if (!session) return;
      const nats = this.#o.isNatsSession(cluster);
      this.#o.sessions.close(
        cluster,
        status.PERMISSION_DENIED,
        `cluster ${cluster} was revoked by an administrator`,
      );
      if (!nats) this.#o.metrics.connectedAgents.set(this.#o.sessions.size);
      log.info({ cluster }, 'hub fan-out: stream of a cluster revoked on another replica closed');
    });
  }

  /**
   * Sends an approval another replica stored down this replica's gRPC stream of the cluster,
   * if it holds one. The store is the source of truth: only an approval the agent has not
   * acked is sent, under its stored hub seq, so a second delivery (a reconnect's Hello
   * resends it too) carries the same approval under the same seq.
   */
  async #deliverRelayedApproval(cluster: string, approvalId: string): Promise<void> {
    const { store, log } = this.#o;
    const session = this.#o.sessions.get(cluster);
    if (!session || this.#o.isNatsSession(cluster)) return;
    const c = await store.getCluster(cluster);
    if (!c || c.revokedMs !== 0) return;
    const pending = (await store.unackedApprovals(cluster, c.ackedHubSeq)).filter(
      (a) => a.id === approvalId,
    );
    if ((await deliverApprovals(this.#o, session, pending)).length === 0) return;
    log.info(
      { cluster, approval: approvalId },
      'hub fan-out: approval delivered from another replica',
    );
  }
}
