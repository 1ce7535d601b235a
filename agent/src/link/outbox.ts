import { systemClock, type Clock } from '@driftless/common';
import {
  AgentMessage,
  objectRefString,
  toUnixMs,
  type AgentMessageBody,
  type TraceContext,
} from '@driftless/proto';

/** The bodies that are reports: sequenced, buffered until the hub acks them. */
export type ReportBody = Extract<
  AgentMessageBody,
  { $case: 'appStatus' | 'syncResult' | 'driftReport' | 'reportsDropped' | 'configStatus' }
>;

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  /**
   * How many reports the outbox holds before it summarises the oldest sync
   * results and drift reports into a ReportsDropped. The latest AppStatus of
   * every app is kept beyond it. Default 10,000.
   */
  maxMessages?: number;
  /** Clock for `sent_at_unix_ms` (the time a report was queued). Default the system clock. */
  clock?: Clock;
}

/** Default of {@link OutboxOptions.maxMessages}. */
export const DEFAULT_OUTBOX_MAX_MESSAGES = 10_000;

/** Counters of an outbox, for logs, metrics and tests. */
export interface OutboxStats {
  /** Reports held (sent or not) and not yet acked, summaries included. */
  held: number;
  /** Of those, how many are not yet written to the current stream. */
  unsent: number;
  /** Reports summarised away since start. */
  dropped: number;
  /** Superseded AppStatus reports replaced before they were sent (not a loss). */
  coalesced: number;
  /** The highest seq handed out; 0 before the hub told us where to start. */
  lastSeq: bigint;
  /** The highest seq the hub acked. */
  ackedSeq: bigint;
}

interface Entry {
  /** Undefined until the hub's first Ack of this process says where numbering starts. */
  seq: bigint | undefined;
  body: ReportBody;
  trace: TraceContext;
  queuedAt: number;
  /** Written to the current stream (cleared when a new stream starts). */
  sent: boolean;
  /** Written to some stream: the hub may have stored it under `seq`, which is then frozen. */
  everSent: boolean;
  /** For a ReportsDropped still collecting: what it summarises. */
  gap?: GapDetail;
}

interface GapDetail {
  count: number;
  firstSeq: bigint | undefined;
  lastSeq: bigint | undefined;
  /** Dropped before numbering started: seqs are reserved for them when it does. */
  unnumbered: number;
  /** app → counts and a few object names, for the summary people read. */
  byApp: Map<string, { syncs: number; drifts: number; objects: Set<string>; more: boolean }>;
}

const SUMMARY_OBJECTS = 3;

/**
 * The agent's report buffer: the outbox of the hub link, and the only place
 * that knows sequence numbers. Pure (no I/O), so its rules are unit-tested
 * without sockets:
 *
 * - Every report gets a seq, strictly increasing. A fresh process does not
 *   know where its previous life stopped, so reports queued before the hub's
 *   first Ack are numbered only then, above the hub's highest stored seq.
 * - Reports stay until the hub acks them (cumulatively); a new stream resends
 *   everything after the hub's Ack to the Hello, in order.
 * - An AppStatus replaces an unsent older one of the same app: only the
 *   latest state matters, and an outage then costs one message per app.
 * - Beyond `maxMessages` the oldest unsent sync results and drift reports are
 *   dropped into one ReportsDropped (count, first/last seq, summary) at the
 *   place of the first one dropped, so the hub sees an explained gap, never a
 *   silent one. AppStatus reports are never dropped.
 */
export class Outbox {
  readonly #max: number;
  readonly #clock: Clock;
  #entries: Entry[] = [];
  /** Next seq to hand out; undefined until the hub's first Ack. */
  #next: bigint | undefined;
  #lastSeq = 0n;
  #ackedSeq = 0n;
  #dropped = 0;
  #coalesced = 0;
  /** Reports (not summaries) held, compared with the bound. */
  #reports = 0;
  /** The ReportsDropped still collecting drops (never written to any stream). */
  #openGap: Entry | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(options: OutboxOptions = {}) {
    const max = options.maxMessages ?? DEFAULT_OUTBOX_MAX_MESSAGES;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`Outbox: maxMessages must be a whole number ≥ 1, got ${max}`);
    this.#max = max;
    this.#clock = options.clock ?? systemClock;
  }

  /** Calls `listener` whenever a report is queued; returns an unsubscribe function. */
  onPush(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Current counters. */
  stats(): OutboxStats {
    return {
      held: this.#entries.length,
      unsent: this.#entries.filter((e) => !e.sent).length,
      dropped: this.#dropped,
      coalesced: this.#coalesced,
      lastSeq: this.#lastSeq,
      ackedSeq: this.#ackedSeq,
    };
  }

  /** Apps that have an AppStatus waiting for the hub's ack. */
  pendingStatusApps(): Set<string> {
    const apps = new Set<string>();
    for (const e of this.#entries) if (e.body.$case === 'appStatus') apps.add(e.body.value.app);
    return apps;
  }

  /** Queues a report. Never blocks, never throws for a full buffer (it summarises instead). */
  push(body: ReportBody, trace: TraceContext = { traceparent: '', tracestate: '' }): void {
    if (body.$case === 'appStatus') this.#coalesce(body.value.app);
    if (body.$case === 'configStatus') this.#coalesceConfig();
    const entry: Entry = {
      seq: this.#take(),
      body,
      trace,
      queuedAt: this.#clock.now(),
      sent: false,
      everSent: false,
    };
    this.#entries.push(entry);
    this.#reports++;
    while (this.#reports > this.#max && this.#dropOldest()) {
      // each pass summarises one report
    }
    for (const l of [...this.#listeners]) l();
  }

  /**
   * A new stream's Hello was answered: the hub stored every seq up to
   * `hubSeq`. Releases what it has, starts (or continues) numbering above it,
   * and marks everything else to be (re)sent in order.
   */
  resume(hubSeq: bigint): void {
    this.#release(hubSeq);
    // Reports never written anywhere cannot be what the hub stored under those numbers
    // (e.g. another process used this identity): renumber them above the hub's seq.
    if (this.#next !== undefined && hubSeq >= this.#next) {
      this.#next = hubSeq + 1n;
      for (const e of this.#entries) if (!e.everSent) e.seq = undefined;
    }
    if (this.#next === undefined || this.#next <= hubSeq) this.#next = hubSeq + 1n;
    this.#numberPending();
    for (const e of this.#entries) e.sent = false;
  }

  /** The hub stored every seq up to `hubSeq`: release those reports. */
  ack(hubSeq: bigint): void {
    this.#release(hubSeq);
  }

  /** The stream ended: nothing is in flight any more; all is resent after the next Hello. */
  disconnected(): void {
    for (const e of this.#entries) e.sent = false;
  }

  /**
   * The next report to write to the current stream, in seq order, marked as
   * sent; undefined when all are sent or numbering has not started.
   */
  takeUnsent(): AgentMessage | undefined {
    if (this.#next === undefined) return undefined;
    const e = this.#entries.find((x) => !x.sent);
    if (!e || e.seq === undefined) return undefined;
    e.sent = true;
    e.everSent = true;
    // A summary written once is frozen: the hub may store it under its seq.
    if (e === this.#openGap) this.#openGap = undefined;
    if (e.gap) e.body = gapBody(e.gap);
    return AgentMessage.create({
      seq: e.seq,
      trace: e.trace,
      sentAtUnixMs: toUnixMs(e.queuedAt),
      body: e.body,
    });
  }

  #take(): bigint | undefined {
    if (this.#next === undefined) return undefined;
    const seq = this.#next;
    this.#next++;
    this.#lastSeq = seq;
    return seq;
  }

  #release(hubSeq: bigint): void {
    if (hubSeq > this.#ackedSeq) this.#ackedSeq = hubSeq;
    const keep: Entry[] = [];
    for (const e of this.#entries) {
      if (e.everSent && e.seq !== undefined && e.seq <= hubSeq) {
        if (!e.gap) this.#reports--;
        if (e === this.#openGap) this.#openGap = undefined;
      } else keep.push(e);
    }
    this.#entries = keep;
  }

  /** Numbers, in order, every report queued before numbering started. */
  #numberPending(): void {
    for (const e of this.#entries) {
      if (e.seq !== undefined) continue;
      e.seq = this.#take();
      const g = e.gap;
      if (g && g.unnumbered > 0) {
        // The dropped reports get seqs of their own (never sent), so the range is real.
        g.firstSeq ??= e.seq;
        for (let i = 1; i < g.unnumbered; i++) this.#take();
        g.lastSeq = this.#lastSeq;
        g.unnumbered = 0;
      }
    }
  }

  /** Only the newest unsent ConfigStatus matters, like an app's AppStatus. */
  #coalesceConfig(): void {
    const i = this.#entries.findIndex((e) => !e.everSent && e.body.$case === 'configStatus');
    if (i < 0) return;
    this.#entries.splice(i, 1);
    this.#reports--;
    this.#coalesced++;
  }

  #coalesce(app: string): void {
    const i = this.#entries.findIndex(
      (e) => !e.everSent && e.body.$case === 'appStatus' && e.body.value.app === app,
    );
    if (i < 0) return;
    this.#entries.splice(i, 1);
    this.#reports--;
    this.#coalesced++;
  }

  /** Summarises the oldest droppable report; false when none is droppable. */
  #dropOldest(): boolean {
    const i = this.#entries.findIndex(
      (e) =>
        !e.everSent && (e.body.$case === 'syncResult' || e.body.$case === 'driftReport') && !e.gap,
    );
    if (i < 0) return false;
    const victim = this.#entries[i]!;
    this.#dropped++;
    this.#reports--;
    let gap = this.#openGap;
    if (!gap) {
      // The summary takes the place (and seq) of the first report it replaces, so
      // the order of what the hub sees stays the order things happened in.
      gap = {
        seq: victim.seq,
        body: { $case: 'reportsDropped', value: gapBody(newGap()).value },
        trace: { traceparent: '', tracestate: '' },
        queuedAt: victim.queuedAt,
        sent: false,
        everSent: false,
        gap: newGap(),
      };
      this.#entries[i] = gap;
      this.#openGap = gap;
    } else {
      this.#entries.splice(i, 1);
    }
    const g = gap.gap!;
    g.count++;
    if (victim.seq === undefined) g.unnumbered++;
    else {
      g.firstSeq ??= victim.seq;
      g.lastSeq = victim.seq;
    }
    const app =
      victim.body.$case === 'reportsDropped' || victim.body.$case === 'configStatus'
        ? ''
        : victim.body.value.app;
    let a = g.byApp.get(app);
    if (!a) g.byApp.set(app, (a = { syncs: 0, drifts: 0, objects: new Set(), more: false }));
    if (victim.body.$case === 'syncResult') a.syncs++;
    else if (victim.body.$case === 'driftReport') {
      a.drifts++;
      const object = objectRefString(victim.body.value.object);
      if (a.objects.size < SUMMARY_OBJECTS) a.objects.add(object);
      else if (!a.objects.has(object)) a.more = true;
    }
    gap.body = gapBody(g);
    return true;
  }
}

function newGap(): GapDetail {
  return { count: 0, firstSeq: undefined, lastSeq: undefined, unnumbered: 0, byApp: new Map() };
}

function gapBody(g: GapDetail): Extract<ReportBody, { $case: 'reportsDropped' }> {
  return {
    $case: 'reportsDropped',
    value: {
      count: BigInt(g.count),
      firstSeq: g.firstSeq ?? 0n,
      lastSeq: g.lastSeq ?? 0n,
      summary: gapSummary(g),
    },
  };
}

/** "412 drift reports on podinfo (apps/v1 Deployment podinfo/web), 3 sync results on infra". */
function gapSummary(g: GapDetail): string {
  const parts: string[] = [];
  for (const [app, a] of g.byApp) {
    if (a.drifts > 0) {
      const objects = [...a.objects].join(', ');
      parts.push(
        `${a.drifts} drift report${a.drifts === 1 ? '' : 's'} on ${app}${objects ? ` (${objects}${a.more ? ', …' : ''})` : ''}`,
      );
    }
    if (a.syncs > 0) parts.push(`${a.syncs} sync result${a.syncs === 1 ? '' : 's'} on ${app}`);
  }
  return parts.join(', ');
}
