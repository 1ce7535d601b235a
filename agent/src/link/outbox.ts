/**
 * Over 400 lines on purpose: the outbox is one pure state machine (sequence, bound, gap,
 * ack of a contiguous prefix, snapshot for the on-disk journal) whose rules read best together.
 */
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
  /** What a previous process of this agent left unacknowledged ({@link Outbox.snapshot}). */
  restore?: OutboxSnapshot;
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
  /** Written to the current stream and not yet acked. */
  inFlight: number;
}

/** What a summary in a snapshot says about one app. */
interface SnapshotGapApp {
  syncs: number;
  drifts: number;
  objects: string[];
  more: boolean;
}

/**
 * The outbox's content as plain JSON, to keep across restarts: every report not acked yet
 * (protobuf, base64), in order, with its seq when it has one.
 */
export interface OutboxSnapshot {
  version: 1;
  entries: {
    /** Decimal seq, or null when numbering had not started. */
    seq: string | null;
    /** The AgentMessage (body and trace, seq 0), protobuf, base64. */
    message: string;
    queuedAt: number;
    /** For a ReportsDropped: what it summarises. */
    gap?: { count: number; byApp: [string, SnapshotGapApp][] };
  }[];
  dropped: number;
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
  /** app → counts and a few object names, for the summary people read. */
  byApp: Map<string, { syncs: number; drifts: number; objects: Set<string>; more: boolean }>;
}

const SUMMARY_OBJECTS = 3;

/**
 * The agent's report buffer: the outbox of the hub link, and the only place
 * that knows sequence numbers. Pure (no I/O), so its rules are unit-tested
 * without sockets:
 *
 * - Every report gets a seq, and the seqs of what it holds are contiguous
 *   (the hub stores only a contiguous prefix, so a hole would never be
 *   acked): a report coalesced or summarised away gives its seq up to the
 *   ones after it, which are renumbered while never sent. A fresh process
 *   does not know where its previous life stopped, so reports queued before
 *   the hub's first Ack are numbered only then, right above it.
 * - Reports stay until the hub acks them (cumulatively, after storing them);
 *   a new stream resends everything after the hub's Ack to the Hello, in order.
 * - An AppStatus replaces an unsent older one of the same app: only the
 *   latest state matters, and an outage then costs one message per app.
 * - Beyond `maxMessages` the oldest unsent sync results and drift reports are
 *   dropped into one ReportsDropped (count, summary) at the place of the
 *   first one dropped, so the hub sees an explained gap, never a silent one.
 *   AppStatus reports are never dropped.
 * - {@link snapshot} and the `restore` option carry what is unacknowledged
 *   across a restart (see {@link OutboxJournal}).
 */
export class Outbox {
  readonly #max: number;
  readonly #clock: Clock;
  #entries: Entry[] = [];
  /** Next seq to hand out; undefined until the hub's first Ack. */
  #next: bigint | undefined;
  /** The seq the first entry has: one above what the hub last said it stored. */
  #base = 1n;
  #lastSeq = 0n;
  #ackedSeq = 0n;
  #inFlight = 0;
  #dropped = 0;
  #coalesced = 0;
  /** Reports (not summaries) held, compared with the bound. */
  #reports = 0;
  /** The ReportsDropped still collecting drops (never written to any stream). */
  #openGap: Entry | undefined;
  readonly #listeners = new Set<() => void>();
  readonly #changeListeners = new Set<() => void>();

  constructor(options: OutboxOptions = {}) {
    const max = options.maxMessages ?? DEFAULT_OUTBOX_MAX_MESSAGES;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`Outbox: maxMessages must be a whole number ≥ 1, got ${max}`);
    this.#max = max;
    this.#clock = options.clock ?? systemClock;
    if (options.restore) this.#restore(options.restore);
  }

  /** Calls `listener` after every change of what the outbox holds (for its journal). */
  onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** What the outbox holds, as JSON to keep across a restart. */
  snapshot(): OutboxSnapshot {
    return {
      version: 1,
      dropped: this.#dropped,
      entries: this.#entries.map((e) => ({
        seq: e.seq === undefined ? null : e.seq.toString(),
        message: Buffer.from(
          AgentMessage.encode(AgentMessage.create({ trace: e.trace, body: e.body })).finish(),
        ).toString('base64'),
        queuedAt: e.queuedAt,
        ...(e.gap
          ? {
              gap: {
                count: e.gap.count,
                byApp: [...e.gap.byApp].map(([app, a]): [string, SnapshotGapApp] => [
                  app,
                  { ...a, objects: [...a.objects] },
                ]),
              },
            }
          : {}),
      })),
    };
  }

  #restore(snapshot: OutboxSnapshot): void {
    if ((snapshot.version as number) !== 1)
      throw new RangeError(`outbox snapshot version ${String(snapshot.version)}`);
    this.#dropped = snapshot.dropped;
    for (const x of snapshot.entries) {
      const m = AgentMessage.decode(Buffer.from(x.message, 'base64'));
      if (!m.body || !REPORT_CASES.has(m.body.$case)) continue;
      const entry: Entry = {
        seq: x.seq === null ? undefined : BigInt(x.seq),
        body: m.body as ReportBody,
        trace: m.trace ?? { traceparent: '', tracestate: '' },
        queuedAt: x.queuedAt,
        sent: false,
        // The previous process may have written it: its seq is frozen, as after any write.
        everSent: x.seq !== null,
        ...(x.gap
          ? {
              gap: {
                count: x.gap.count,
                byApp: new Map(
                  x.gap.byApp.map(([app, a]) => [app, { ...a, objects: new Set(a.objects) }]),
                ),
              },
            }
          : {}),
      };
      this.#entries.push(entry);
      if (!entry.gap) this.#reports++;
    }
  }

  #changed(): void {
    for (const l of [...this.#changeListeners]) l();
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
      inFlight: this.#inFlight,
    };
  }

  /** Reports written to the current stream and not yet acked (cheap, for flow control). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Apps that have an AppStatus waiting for the hub's ack. */
  pendingStatusApps(): Set<string> {
    const apps = new Set<string>();
    for (const e of this.#entries) if (e.body.$case === 'appStatus') apps.add(e.body.value.app);
    return apps;
  }

  /** Queues a report. Never blocks, never throws for a full buffer (it summarises instead). */
  push(body: ReportBody, trace: TraceContext = { traceparent: '', tracestate: '' }): void {
    let removed = body.$case === 'appStatus' && this.#coalesce(body.value.app);
    if (body.$case === 'configStatus') removed = this.#coalesceConfig() || removed;
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
    while (this.#reports > this.#max && this.#dropOldest()) removed = true;
    if (removed) this.#renumber();
    this.#changed();
    for (const l of [...this.#listeners]) l();
  }

  /**
   * A new stream's Hello was answered: the hub stored every seq up to
   * `hubSeq`, and nothing above it. Releases what it has, numbers everything
   * else contiguously above it (unchanged in the usual case: what is held
   * starts right there), and marks it all to be (re)sent in order.
   */
  resume(hubSeq: bigint): void {
    this.#release(hubSeq);
    this.#base = hubSeq + 1n;
    this.#next = this.#base;
    this.#renumber();
    for (const e of this.#entries) e.sent = false;
    this.#inFlight = 0;
    this.#changed();
  }

  /** The hub stored every seq up to `hubSeq`: release those reports. */
  ack(hubSeq: bigint): void {
    this.#release(hubSeq);
    if (hubSeq + 1n > this.#base) this.#base = hubSeq + 1n;
    this.#changed();
  }

  /** The stream ended: nothing is in flight any more; all is resent after the next Hello. */
  disconnected(): void {
    for (const e of this.#entries) e.sent = false;
    this.#inFlight = 0;
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
    this.#inFlight++;
    if (!e.everSent) {
      e.everSent = true;
      this.#changed();
    }
    // A summary written once is frozen: the hub may store it under its seq.
    if (e === this.#openGap) this.#openGap = undefined;
    if (e.gap) e.body = gapBody(e.gap, e.seq);
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
        if (e.sent) this.#inFlight--;
        if (e === this.#openGap) this.#openGap = undefined;
      } else keep.push(e);
    }
    this.#entries = keep;
  }

  /** Numbers what is held contiguously from {@link #base}, in order (once numbering runs). */
  #renumber(): void {
    if (this.#next === undefined) return;
    let seq = this.#base;
    for (const e of this.#entries) e.seq = seq++;
    this.#next = seq;
    this.#lastSeq = seq - 1n;
  }

  /** Only the newest unsent ConfigStatus matters, like an app's AppStatus; true when one went. */
  #coalesceConfig(): boolean {
    const i = this.#entries.findIndex((e) => !e.everSent && e.body.$case === 'configStatus');
    if (i < 0) return false;
    this.#entries.splice(i, 1);
    this.#reports--;
    this.#coalesced++;
    return true;
  }

  /** Removes an unsent AppStatus of `app`; true when there was one. */
  #coalesce(app: string): boolean {
    const i = this.#entries.findIndex(
      (e) => !e.everSent && e.body.$case === 'appStatus' && e.body.value.app === app,
    );
    if (i < 0) return false;
    this.#entries.splice(i, 1);
    this.#reports--;
    this.#coalesced++;
    return true;
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
        body: { $case: 'reportsDropped', value: gapBody(newGap(), undefined).value },
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
    gap.body = gapBody(g, gap.seq);
    return true;
  }
}

const REPORT_CASES = new Set([
  'appStatus',
  'syncResult',
  'driftReport',
  'reportsDropped',
  'configStatus',
]);

function newGap(): GapDetail {
  return { count: 0, byApp: new Map() };
}

/**
 * The ReportsDropped of a summary under `seq`. The dropped reports have no seqs of their own
 * (seqs stay contiguous), so first and last seq are the summary's own.
 */
function gapBody(
  g: GapDetail,
  seq: bigint | undefined,
): Extract<ReportBody, { $case: 'reportsDropped' }> {
  return {
    $case: 'reportsDropped',
    value: {
      count: BigInt(g.count),
      firstSeq: seq ?? 0n,
      lastSeq: seq ?? 0n,
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
