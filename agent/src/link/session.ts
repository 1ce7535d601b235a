import { clockTimeout, errorMessage, type Clock, type Logger } from '@driftless/common';
import {
  AgentMessage,
  isSequenced,
  TreeErrorCode,
  UNSEQUENCED,
  type AgentMessageBody,
  type HubMessage,
  type TreeRequest,
  type TreeResponse,
} from '@driftless/proto';
import type { Identity } from './identity.ts';
import type { Outbox } from './outbox.ts';
import type { Approval, AppStatusReport } from '../report/index.ts';
import type { Suspension } from '../suspend/index.ts';
import { fromHubSuspensions } from './convert.ts';
import type { LinkStream, LinkTransport, StreamEnd } from './transport.ts';

/** What the link drives in the agent, and reads from it. */
export interface LinkHooks {
  /**
   * Reconcile now (a RefreshHint or SyncNow from the hub). `revision` is the commit a hint
   * names, a hint only: the agent checks it against Git before using it.
   */
  refresh(revision?: string): void;
  /** The latest status of every app, re-sent after each Hello so the hub's view is whole. */
  statuses(): AppStatusReport[];
  /** Where approvals go (the agent's ApprovalBook; the engine checks revision and digest). */
  approvals: { add(approval: Approval): void };
  /** Where the hub's pauses go (the agent's SuspensionBook); none: they are acked and ignored. */
  suspensions?: { setHub(items: Suspension[]): void };
  /**
   * Answers a TreeRequest (the live object tree of one app); never rejects: failures are
   * error responses. Optional: without it the agent answers TREE_ERROR_CODE_UNSUPPORTED.
   */
  tree?(request: TreeRequest): Promise<TreeResponse>;
}

/** What one {@link StreamSession} needs from the link. */
export interface SessionOptions {
  cluster: string;
  agentVersion: string;
  repoUrl: string;
  branch: string;
  labels: Record<string, string>;
  transport: LinkTransport;
  outbox: Outbox;
  hooks: LinkHooks;
  /** Heartbeat interval on an idle stream. */
  heartbeatIntervalMs: number;
  /** Most reports written and not yet acked by the hub; more wait (and stay droppable). */
  maxInFlight: number;
  /**
   * With reports in flight and no ack for this long the stream is closed and a new one resends
   * from the hub's Ack (an ack lost on NATS, or a hub that refused a report out of order). The
   * clock starts at a write with nothing in flight, and again at each ack and at each report a
   * durable store on the way took (`StreamHandlers.onStored`: JetStream over NATS).
   */
  ackTimeoutMs: number;
  /** The highest hub seq processed, kept across streams (sent in each Hello). */
  hubSeq: { value: bigint };
  /** The hub answered the Hello with the highest agent seq it stored. */
  onHelloAck(agentSeq: bigint): void;
  /** The hub acknowledged reports (after the outbox released them). */
  onAck(): void;
  /**
   * A CertificateIssued arrived; resolves false when it could not be stored (then it is not
   * acked, so the hub's seq is not passed).
   */
  onCertificate(issued: { certificatePem: string; caBundlePem: string }): Promise<boolean>;
  log: Logger;
  clock: Clock;
}

/**
 * One stream to the hub, from Hello to its end: writes the Hello, streams the outbox's reports
 * once the hub acked it, heartbeats on the injected clock, and handles what the hub sends down
 * one message at a time, in order, acking sequenced ones.
 */
export class StreamSession {
  readonly #o: SessionOptions;
  readonly #stream: LinkStream;
  readonly #ended: Promise<StreamEnd>;
  /** The hub answered the Hello: reports may flow. */
  #acked = false;
  /** The transport's buffer is full: wait for drain. */
  #blocked = false;
  #open = true;
  #cancelHeartbeat: (() => void) | undefined;
  #cancelAckWatch: (() => void) | undefined;
  /** Hub messages are handled one at a time, in order (some handling is async). */
  #inbox: Promise<void> = Promise.resolve();

  constructor(options: SessionOptions, identity: Identity) {
    this.#o = options;
    let resolveEnd!: (end: StreamEnd) => void;
    this.#ended = new Promise((resolve) => (resolveEnd = resolve));
    this.#stream = options.transport.connect(identity, {
      onMessage: (m) => {
        this.#inbox = this.#inbox.then(() =>
          this.#onHubMessage(m).catch((err: unknown) =>
            this.#o.log.error(
              { err: errorMessage(err) },
              `hub link: handling a ${m.body?.$case ?? 'empty'} message failed: ${errorMessage(err)}`,
            ),
          ),
        );
      },
      onDrain: () => {
        this.#blocked = false;
        this.pump();
      },
      onStored: () => {
        // In the stream, a report waits for the hub behind the whole fleet's backlog: the
        // clock measures how long the hub takes once the report is there.
        if (this.#cancelAckWatch) this.#watchAcks();
      },
      onEnd: (end) => {
        this.#open = false;
        this.#cancelHeartbeat?.();
        this.#cancelAckWatch?.();
        this.#o.outbox.disconnected();
        resolveEnd(end);
      },
    });
  }

  /** Whether the hub acked this stream's Hello and it is still open. */
  get connected(): boolean {
    return this.#acked && this.#open;
  }

  /** Says Hello; resolves with how the stream ended. */
  run(): Promise<StreamEnd> {
    const o = this.#o;
    this.write({
      $case: 'hello',
      value: {
        clusterName: o.cluster,
        agentVersion: o.agentVersion,
        lastAckedHubSeq: o.hubSeq.value,
        labels: o.labels,
        apps: this.#appNames(),
        repoUrl: o.repoUrl,
        branch: o.branch,
      },
    });
    return this.#ended;
  }

  /** Closes the stream (its end is reported through {@link run}). */
  close(): void {
    this.#stream.close();
  }

  /** Writes an unsequenced message (Hello, Heartbeat, Ack, RenewCertificate); false if closed. */
  write(body: AgentMessageBody): boolean {
    if (!this.#open) return false;
    const ok = this.#stream.write(
      AgentMessage.create({ seq: UNSEQUENCED, body, sentAtUnixMs: BigInt(this.#o.clock.now()) }),
    );
    if (!ok) this.#blocked = true;
    return true;
  }

  /** Writes queued reports while the stream takes them and the hub keeps up. */
  pump(): void {
    if (!this.#acked || !this.#open) return;
    const { outbox, maxInFlight } = this.#o;
    let wrote = false;
    while (!this.#blocked && outbox.inFlight < maxInFlight) {
      const m = outbox.takeUnsent();
      if (!m) break;
      wrote = true;
      if (!this.#stream.write(m)) this.#blocked = true;
    }
    if (wrote && !this.#cancelAckWatch) this.#watchAcks();
  }

  /**
   * Closes the stream when reports stay in flight without an ack for `ackTimeoutMs` (or the
   * transport's `minAckTimeoutMs`, if longer).
   */
  #watchAcks(): void {
    this.#cancelAckWatch?.();
    this.#cancelAckWatch = undefined;
    if (this.#o.outbox.inFlight === 0 || !this.#open) return;
    const timeoutMs = Math.max(this.#o.ackTimeoutMs, this.#o.transport.minAckTimeoutMs ?? 0);
    this.#cancelAckWatch = clockTimeout(this.#o.clock, timeoutMs, () => {
      this.#cancelAckWatch = undefined;
      if (!this.#open || this.#o.outbox.inFlight === 0) return;
      this.#o.log.warn(
        { in_flight: this.#o.outbox.inFlight },
        `hub link: no acknowledgement for ${timeoutMs} ms with ${this.#o.outbox.inFlight} reports in flight; reconnecting to resend`,
      );
      this.close();
    });
  }

  /** Apps the agent knows now: from its statuses and from statuses still queued. */
  #appNames(): string[] {
    const names = new Set(this.#o.hooks.statuses().map((s) => s.app));
    for (const app of this.#o.outbox.pendingStatusApps()) names.add(app);
    return [...names].sort();
  }

  #heartbeat(): void {
    this.#cancelHeartbeat = clockTimeout(this.#o.clock, this.#o.heartbeatIntervalMs, () => {
      if (!this.#open) return;
      // Also while reports wait for the transport: over NATS a report can wait long for its
      // turn in a busy stream, while the hub hears the agent only by its heartbeats (a core
      // publish, not behind the stream); a gRPC stream just buffers the small message.
      this.write({ $case: 'heartbeat', value: {} });
      this.#heartbeat();
    });
  }

  /** Reads the requested tree and writes the answer (seq 0) on this stream, if still open. */
  async #answerTree(request: TreeRequest): Promise<void> {
    const { hooks, log } = this.#o;
    log.info({ app: request.app, request: request.requestId }, 'hub link: object tree requested');
    const response: TreeResponse = hooks.tree
      ? await hooks.tree(request)
      : {
          requestId: request.requestId,
          app: request.app,
          nodes: [],
          errorCode: TreeErrorCode.TREE_ERROR_CODE_UNSUPPORTED,
          error: 'this agent does not serve object trees',
          partial: false,
          truncated: false,
          note: '',
          collectedUnixMs: 0n,
        };
    this.write({ $case: 'treeResponse', value: response });
  }

  async #onHubMessage(m: HubMessage): Promise<void> {
    const body = m.body;
    if (!body || !this.#open) return;
    const { log, hooks } = this.#o;
    switch (body.$case) {
      case 'ack':
        if (!this.#acked) {
          this.#acked = true;
          this.#o.onHelloAck(body.value.agentSeq);
          this.#heartbeat();
          this.pump();
          return;
        }
        this.#o.outbox.ack(body.value.agentSeq);
        this.#o.onAck();
        this.#watchAcks();
        this.pump();
        return;
      case 'refreshHint':
        log.debug({ revision: body.value.revision }, 'hub link: refresh hint');
        hooks.refresh(body.value.revision || undefined);
        break;
      case 'syncNow':
        log.info({ app: body.value.app || '(all)' }, 'hub link: sync requested by the hub');
        hooks.refresh();
        break;
      case 'approval': {
        const a = body.value;
        log.info(
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
        hooks.approvals.add({
          approvalId: a.approvalId,
          app: a.app,
          revision: a.revision,
          planDigest: a.planDigest,
          approvedBy: a.approvedBy,
        });
        break;
      }
      case 'certificateIssued':
        if (!(await this.#o.onCertificate(body.value))) return; // not stored: not acked
        break;
      case 'suspensions': {
        const items = fromHubSuspensions(body.value.items);
        log.info(
          { suspensions: items.map((s) => ({ app: s.app || '(cluster)', until: s.untilMs })) },
          `hub link: ${items.length} pause(s) from the hub`,
        );
        hooks.suspensions?.setHub(items);
        break;
      }
      case 'treeRequest':
        // Answered on its own, so a slow read never holds up acks and approvals behind it.
        this.#answerTree(body.value).catch((err: unknown) =>
          log.warn(
            { err: errorMessage(err), app: body.value.app },
            `hub link: answering the object tree of app ${body.value.app} failed: ${errorMessage(err)}`,
          ),
        );
        return;
    }
    if (isSequenced(m) && this.#open) {
      const hubSeq = this.#o.hubSeq;
      if (m.seq > hubSeq.value) hubSeq.value = m.seq;
      this.write({ $case: 'ack', value: { hubSeq: hubSeq.value } });
    }
  }
}
