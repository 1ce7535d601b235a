import { randomUUID } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from 'nats';
import {
  clockTimeout,
  errorMessage,
  systemClock,
  type Clock,
  type Logger,
} from '@driftless/common';
import {
  AgentMessage,
  HubMessage,
  TreeErrorCode,
  TreeResponse,
  UNSEQUENCED,
  type TreeLimits,
} from '@driftless/proto';
import { DeadlineExceededError, RateLimitedError, UnavailableError } from '../errors.ts';
import { HUB_FANOUT_SUBJECTS } from './hub-fanout.ts';
import { clusterOfSubject } from './jetstream.ts';
import { isNatsSession } from './nats-agent-link.ts';
import type { Session, SessionRegistry } from './sessions.ts';

/** One request for an app's live object tree. */
export interface TreeAsk {
  cluster: string;
  app: string;
  /** Bounds passed to the agent (0 fields: the agent's defaults). */
  limits: TreeLimits;
  /** How long the hub waits for the answer, ms. */
  deadlineMs: number;
}

/** What {@link TreeRequests} needs. */
export interface TreeRequestsOptions {
  sessions: SessionRegistry;
  /** Whether a cluster's agent is connected to some replica (the store's `connected`). */
  connectedAnywhere(cluster: string): Promise<boolean>;
  log: Logger;
  clock?: Clock;
  /**
   * Tree reads of one cluster this replica has in flight at most; more answer 429, so no role
   * can multiply the load a tree puts on a cluster's API server. Default 4.
   */
  maxInFlightPerCluster?: number;
}

/** Subject of the agents' tree answers over NATS (`driftless.agent.<cluster>.tree`). */
const AGENT_TREE_SUBJECT = 'driftless.agent.*.tree';

/** A relayed request as replicas send it to each other. */
interface RelayedTreeAsk extends TreeAsk {
  from: string;
}

interface Pending {
  cluster: string;
  resolve(response: TreeResponse): void;
}

/**
 * Asks agents for live object trees over their own outbound streams and awaits the answers
 * (docs/link.md, "Object tree"). A request goes down this replica's session of the cluster;
 * a replica without one relays it over NATS to the replica holding the agent's gRPC stream
 * (NATS-linked agents can be reached from every replica, and answer on a subject every replica
 * hears). Without NATS, a stream held by another replica cannot be reached: 503, saying so.
 */
export class TreeRequests {
  readonly #o: TreeRequestsOptions;
  readonly #clock: Clock;
  readonly #pending = new Map<string, Pending>();
  readonly #inFlight = new Map<string, number>();
  #nats: { nc: NatsConnection; replica: string; subscriptions: Subscription[] } | undefined;

  constructor(options: TreeRequestsOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Uses this replica's NATS connection: hears agents' answers on `driftless.agent.*.tree`, and
   * serves relayed requests for the gRPC streams this replica holds.
   */
  attachNats(nc: NatsConnection, replica: string): void {
    const subscriptions = [
      nc.subscribe(AGENT_TREE_SUBJECT, {
        callback: (_e, m) => this.#fromAgentOverNats(m),
      }),
      nc.subscribe(HUB_FANOUT_SUBJECTS.trees, {
        callback: (_e, m) => void this.#serveRelayed(m),
      }),
    ];
    this.#nats = { nc, replica, subscriptions };
  }

  /** Stops listening on NATS. */
  detachNats(): void {
    for (const s of this.#nats?.subscriptions ?? []) s.unsubscribe();
    this.#nats = undefined;
  }

  /**
   * An agent's TreeResponse (from its gRPC stream or its NATS subject); false when no request
   * of this replica waits for it (another replica's, or one that timed out).
   */
  answer(cluster: string, response: TreeResponse): boolean {
    const p = this.#pending.get(response.requestId);
    if (!p || p.cluster !== cluster) return false;
    this.#pending.delete(response.requestId);
    p.resolve(response);
    return true;
  }

  /**
   * The agent's answer to `ask`. Throws UnavailableError (503) when no stream of the cluster can
   * be reached, DeadlineExceededError (504) when no answer came within the deadline,
   * RateLimitedError (429) when this cluster has `maxInFlightPerCluster` reads in flight.
   */
  async ask(ask: TreeAsk): Promise<TreeResponse> {
    const max = this.#o.maxInFlightPerCluster ?? 4;
    const n = this.#inFlight.get(ask.cluster) ?? 0;
    if (n >= max) {
      throw new RateLimitedError(
        `cluster ${ask.cluster}: ${n} tree reads are in flight already; try again when one ends`,
        { retryAfterMs: 1000 },
      );
    }
    this.#inFlight.set(ask.cluster, n + 1);
    try {
      return await this.#ask(ask);
    } finally {
      const left = (this.#inFlight.get(ask.cluster) ?? 1) - 1;
      if (left > 0) this.#inFlight.set(ask.cluster, left);
      else this.#inFlight.delete(ask.cluster);
    }
  }

  async #ask(ask: TreeAsk): Promise<TreeResponse> {
    const session = this.#o.sessions.get(ask.cluster);
    if (session) return this.#askDown(session, ask);
    if (this.#nats) return this.#askRelayed(this.#nats, ask);
    if (await this.#o.connectedAnywhere(ask.cluster))
      throw new UnavailableError(
        `cluster ${ask.cluster}: its agent's stream is held by another hub replica, and this hub has no channel to it (start every replica with --nats-url)`,
      );
    throw notConnected(ask.cluster);
  }

  /** Sends the request down `session` and waits for the answer. */
  #askDown(session: Session, ask: TreeAsk): Promise<TreeResponse> {
    const requestId = randomUUID();
    return new Promise<TreeResponse>((resolve, reject) => {
      const cancel = clockTimeout(this.#clock, ask.deadlineMs, () => {
        if (!this.#pending.delete(requestId)) return;
        reject(
          new DeadlineExceededError(
            `tree of app ${ask.app} in cluster ${ask.cluster}: the agent did not answer within ${ask.deadlineMs} ms`,
          ),
        );
      });
      this.#pending.set(requestId, {
        cluster: ask.cluster,
        resolve: (r) => {
          cancel();
          resolve(r);
        },
      });
      const sent = session.send(
        HubMessage.create({
          seq: UNSEQUENCED,
          body: {
            $case: 'treeRequest',
            value: { requestId, app: ask.app, limits: ask.limits },
          },
        }),
      );
      if (!sent) {
        cancel();
        this.#pending.delete(requestId);
        reject(notConnected(ask.cluster));
      }
    });
  }

  /** Asks the replica holding the cluster's gRPC stream, over NATS. */
  async #askRelayed(
    nats: { nc: NatsConnection; replica: string },
    ask: TreeAsk,
  ): Promise<TreeResponse> {
    if (!(await this.#o.connectedAnywhere(ask.cluster))) throw notConnected(ask.cluster);
    const body: RelayedTreeAsk = { ...ask, from: nats.replica };
    try {
      const reply = await nats.nc.request(HUB_FANOUT_SUBJECTS.trees, JSON.stringify(body), {
        timeout: ask.deadlineMs,
      });
      return TreeResponse.decode(reply.data);
    } catch (err) {
      if ((err as { code?: string }).code === 'TIMEOUT')
        throw new DeadlineExceededError(
          `tree of app ${ask.app} in cluster ${ask.cluster}: no answer within ${ask.deadlineMs} ms from the hub replica holding the agent's stream`,
          { cause: err },
        );
      throw new UnavailableError(
        `tree of app ${ask.app} in cluster ${ask.cluster}: cannot reach the other hub replicas over NATS: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }

  /** Serves another replica's request when this replica holds the cluster's gRPC stream. */
  async #serveRelayed(m: Msg): Promise<void> {
    let ask: RelayedTreeAsk;
    try {
      ask = m.json<RelayedTreeAsk>();
    } catch {
      return;
    }
    if (ask.from === this.#nats?.replica) return;
    const session = this.#o.sessions.get(ask.cluster);
    // NATS sessions are every replica's: the asking replica reaches those itself.
    if (!session || isNatsSession(session)) return;
    let response: TreeResponse;
    try {
      response = await this.#askDown(session, ask);
    } catch (err) {
      response = TreeResponse.create({
        app: ask.app,
        errorCode:
          err instanceof DeadlineExceededError
            ? TreeErrorCode.TREE_ERROR_CODE_TIMEOUT
            : TreeErrorCode.TREE_ERROR_CODE_FAILED,
        error: errorMessage(err),
      });
    }
    m.respond(TreeResponse.encode(response).finish());
    this.#o.log.info(
      { cluster: ask.cluster, app: ask.app },
      'hub fan-out: object tree asked on another replica answered',
    );
  }

  #fromAgentOverNats(m: Msg): void {
    const cluster = clusterOfSubject(m.subject);
    try {
      // The agent publishes the whole AgentMessage, as on every other subject.
      const body = AgentMessage.decode(m.data).body;
      if (body?.$case === 'treeResponse') this.answer(cluster, body.value);
    } catch (err) {
      this.#o.log.warn(
        { cluster, err: errorMessage(err) },
        `NATS link: undecodable tree answer from cluster ${cluster}: ${errorMessage(err)}`,
      );
    }
  }
}

function notConnected(cluster: string): UnavailableError {
  return new UnavailableError(`cluster ${cluster}: agent not connected`);
}
