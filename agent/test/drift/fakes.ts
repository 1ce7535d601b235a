/**
 * Fakes for the drift unit tests: a clock that moves only when told, and an
 * in-memory cluster behind {@link DriftClient} with just enough server-side
 * apply (merge, field ownership, force take-over) to act like the real one.
 */
import { createLogger, type Logger } from '@driftless/common';
import { Marks, refKey, refOf, type KubeObject, type ObjectRef } from '../../src/model.ts';
import { KubeApiError, type WatchEvent } from '../../src/kube/index.ts';
import type { DriftReport, Reporter } from '../../src/report/index.ts';
import type { DriftClient } from '../../src/drift/index.ts';

/** Lets every pending promise chain run (several hops deep). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The drift tests' manual clock: the one the engine tests use. */
export { ManualClock as FakeClock } from '../engine/clock.ts';

/** A logger that writes nothing. */
export function silentLogger(): Logger {
  return createLogger({ name: 'drift-test', level: 'silent' });
}

/** A reporter that keeps every drift report. */
export class MemoryReporter implements Reporter {
  readonly drifts: DriftReport[] = [];
  appStatus(): void {}
  syncResult(): void {}
  drift(report: DriftReport): void {
    this.drifts.push(structuredClone(report));
  }
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** SSA's merge, simplified: maps merge key by key, lists and scalars are replaced. */
function merge(live: unknown, applied: unknown): unknown {
  if (!isRecord(live) || !isRecord(applied)) return structuredClone(applied);
  const out: Json = { ...structuredClone(live) };
  for (const [k, v] of Object.entries(applied)) out[k] = merge(live[k], v);
  return out;
}

/** The fieldsV1 set of an applied object: maps by key, anything else a leaf. */
function fieldsOf(value: unknown): Json {
  if (!isRecord(value)) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [`f:${k}`, fieldsOf(v)]));
}

/** Removes from `set` every field `taken` holds (a forced apply takes them over). */
function without(set: Json, taken: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(set)) {
    const t = taken[k];
    if (!isRecord(t) || !isRecord(v)) {
      if (t === undefined) out[k] = v;
      continue;
    }
    if (Object.keys(t).length === 0 || Object.keys(v).length === 0) continue;
    const rest = without(v, t);
    if (Object.keys(rest).length > 0) out[k] = rest;
  }
  return out;
}

const BOOKKEEPING = new Set(['apiVersion', 'kind', 'name', 'namespace']);

interface FakeWatch {
  apiVersion: string;
  kind: string;
  labelSelector?: string;
  onEvent: (e: WatchEvent) => void;
  end: () => void;
}

/** An in-memory API server for one test. */
export class FakeCluster implements DriftClient {
  readonly objects = new Map<string, KubeObject>();
  readonly watches = new Set<FakeWatch>();
  #rv = 100;
  #time = 0;
  /** Counts of calls, for assertions. */
  readonly calls = { list: 0, watch: 0, get: 0, dryRun: 0, apply: 0 };
  /** When set, the next real (not dry-run) apply by Driftless throws it. */
  failNextHeal: Error | undefined;

  async list(
    apiVersion: string,
    kind: string,
    options: { labelSelector?: string } = {},
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    this.calls.list++;
    const items = [...this.objects.values()]
      .filter((o) => o.kind === kind && matches(o, options.labelSelector))
      .map((o) => ({ ...structuredClone(o), apiVersion }));
    return { items, resourceVersion: String(this.#rv) };
  }

  watch(
    apiVersion: string,
    kind: string,
    options: { labelSelector?: string; resourceVersion: string; signal: AbortSignal },
    onEvent: (event: WatchEvent) => void,
  ): Promise<void> {
    this.calls.watch++;
    return new Promise<void>((resolve) => {
      const w: FakeWatch = {
        apiVersion,
        kind,
        onEvent,
        end: () => {
          this.watches.delete(w);
          resolve();
        },
        ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
      };
      this.watches.add(w);
      options.signal.addEventListener('abort', () => w.end(), { once: true });
    });
  }

  /** Ends every open watch as a server timeout does. */
  closeWatches(): void {
    for (const w of [...this.watches]) w.end();
  }

  /** Sends an event to every open watch of `kind` (e.g. an ERROR 410). */
  emitRaw(kind: string, event: WatchEvent): void {
    for (const w of [...this.watches]) if (w.kind === kind) w.onEvent(event);
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    this.calls.get++;
    const o = this.objects.get(refKey(ref));
    return o && structuredClone(o);
  }

  async apply(
    obj: KubeObject,
    options: { fieldManager: string; dryRun?: boolean; force?: boolean },
  ): Promise<KubeObject> {
    if (options.fieldManager === Marks.fieldManager) {
      if (options.dryRun) this.calls.dryRun++;
      else this.calls.apply++;
      const fail = options.dryRun ? undefined : this.failNextHeal;
      if (fail) {
        this.failNextHeal = undefined;
        throw fail;
      }
    }
    const key = refKey(refOf(obj));
    const live = this.objects.get(key);
    const next = merge(live ?? {}, obj) as KubeObject;
    const applied: Json = fieldsOf(obj);
    for (const k of BOOKKEEPING) delete applied[`f:${k}`];
    const meta = applied['f:metadata'];
    if (isRecord(meta)) for (const k of BOOKKEEPING) delete meta[`f:${k}`];
    const entries = (
      (live?.metadata['managedFields'] as
        { manager: string; fieldsV1: Json; time: string; operation: string }[] | undefined) ?? []
    )
      .filter((e) => e.manager !== options.fieldManager)
      .map((e) => ({ ...e, fieldsV1: without(e.fieldsV1, applied) }))
      .filter((e) => Object.keys(e.fieldsV1).length > 0);
    this.#time += 1000;
    entries.push({
      manager: options.fieldManager,
      operation: 'Apply',
      fieldsV1: applied,
      time: new Date(1_700_000_000_000 + this.#time).toISOString(),
    });
    next.metadata['managedFields'] = entries;
    if (options.dryRun) {
      next.metadata['resourceVersion'] = live?.metadata['resourceVersion'];
      return next;
    }
    next.metadata['resourceVersion'] = String(++this.#rv);
    this.#store(next, live);
    return structuredClone(next);
  }

  /** Another manager rewrites the object (a label edit, a revert); sends the events. */
  update(ref: ObjectRef, change: (o: KubeObject) => void, manager = 'kubectl-edit'): void {
    const live = this.objects.get(refKey(ref));
    if (!live) throw new Error(`no ${refKey(ref)}`);
    const next = structuredClone(live);
    change(next);
    this.#time += 1000;
    const entries = next.metadata['managedFields'] as Json[] | undefined;
    entries?.push({
      manager,
      operation: 'Update',
      fieldsV1: {},
      time: new Date(1_700_000_000_000 + this.#time).toISOString(),
    });
    next.metadata['resourceVersion'] = String(++this.#rv);
    this.#store(next, live);
  }

  /** Deletes an object and sends DELETED. */
  remove(ref: ObjectRef): void {
    const key = refKey(ref);
    const live = this.objects.get(key);
    if (!live) throw new KubeApiError('not found', 404, 'NotFound');
    this.objects.delete(key);
    const gone = { ...structuredClone(live) };
    gone.metadata['resourceVersion'] = String(++this.#rv);
    for (const w of [...this.watches])
      if (w.kind === live.kind && matches(live, w.labelSelector))
        w.onEvent({ type: 'DELETED', object: gone });
  }

  #store(next: KubeObject, prev: KubeObject | undefined): void {
    this.objects.set(refKey(refOf(next)), next);
    for (const w of [...this.watches]) {
      if (w.kind !== next.kind) continue;
      const now = matches(next, w.labelSelector);
      const before = prev !== undefined && matches(prev, w.labelSelector);
      // Like the API server's watch cache: leaving the selector is a DELETED event.
      const type = now ? (before ? 'MODIFIED' : 'ADDED') : before ? 'DELETED' : undefined;
      if (type) w.onEvent({ type, object: { ...structuredClone(next), apiVersion: w.apiVersion } });
    }
  }
}

function matches(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  const [k, v] = selector.split('=');
  return obj.metadata.labels?.[k ?? ''] === v;
}
