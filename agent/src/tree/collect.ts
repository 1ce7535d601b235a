import { clockTimeout, errorMessage, isAbort, systemClock, type Clock } from '@driftless/common';
import { healthOf } from '../health/index.ts';
import type { InventoryRecord } from '../inventory/index.ts';
import type { KubeClient } from '../kube/index.ts';
import {
  refOf,
  refString,
  uidOf,
  type HealthRule,
  type KubeObject,
  type ObjectRef,
} from '../model.ts';
import { ownedObjects } from './children.ts';
import { eventsByUid, firstTime } from './events.ts';
import { resolveTreeLimits, type TreeLimits } from './limits.ts';
import {
  TreeTimeoutError,
  UnknownAppError,
  type AppTree,
  type TreeEvent,
  type TreeNode,
} from './types.ts';

/** Objects read at once from the API server. */
const READ_CONCURRENCY = 8;

/** What {@link TreeReader} needs. */
export interface TreeReaderOptions {
  /** The cluster name, for messages. */
  cluster: string;
  /** Read-only use: get and list. */
  client: KubeClient;
  /** The app's inventory, or undefined when it has none. */
  inventory(app: string): Promise<InventoryRecord | undefined>;
  /**
   * The app's health rules when the cluster's driftless.yaml lists it, else undefined (an app
   * with neither an entry nor an inventory is unknown).
   */
  appRules(app: string): readonly HealthRule[] | undefined;
  /** The agent's bounds (a request may ask for less). Default {@link TREE_DEFAULTS}. */
  limits?: Partial<TreeLimits>;
  clock?: Clock;
}

/** What the read found, before the size bounds. */
interface Read {
  nodes: TreeNode[];
  partial: boolean;
  notes: string[];
}

/**
 * Reads an app's live object tree: its managed objects (from its inventory), their children by
 * owner reference, each with its health (the same assessment as syncs use) and recent Events;
 * read-only, bounded in nodes and Events, within a deadline. See docs/link.md, "Object tree".
 */
export class TreeReader {
  readonly #o: TreeReaderOptions;
  readonly #clock: Clock;

  constructor(options: TreeReaderOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * The tree of `app`. Throws {@link UnknownAppError} for an app the cluster does not know,
   * {@link TreeTimeoutError} when the deadline passed before anything was read; an answer past
   * the deadline with some objects read is `partial`.
   */
  /** The limits a request asking for `asked` gets. */
  limits(asked?: Partial<TreeLimits>): TreeLimits {
    return resolveTreeLimits(asked, this.#o.limits);
  }

  async read(app: string, asked?: Partial<TreeLimits>): Promise<AppTree> {
    const limits = this.limits(asked);
    const started = this.#clock.now();
    const deadline = new AbortController();
    const cancel = clockTimeout(this.#clock, limits.deadlineMs, () =>
      deadline.abort(new TreeTimeoutError(`deadline of ${limits.deadlineMs} ms passed`)),
    );
    try {
      const read = await this.#read(app, limits, deadline.signal);
      return {
        app,
        ...bound(read.nodes, limits, read.notes),
        partial: read.partial,
        collectedMs: started,
      };
    } finally {
      cancel();
    }
  }

  async #read(app: string, limits: TreeLimits, signal: AbortSignal): Promise<Read> {
    const { cluster } = this.#o;
    const timeout = () =>
      new TreeTimeoutError(
        `tree of app ${app} in cluster ${cluster}: nothing read within the deadline of ${limits.deadlineMs} ms`,
      );
    // Step 1: which objects the app manages.
    const rules = this.#o.appRules(app);
    let inventory: InventoryRecord | undefined;
    try {
      inventory = await raceAbort(this.#o.inventory(app), signal);
    } catch (err) {
      if (signal.aborted) throw timeout();
      throw err;
    }
    if (!inventory && !rules)
      throw new UnknownAppError(`app ${app}: not an app of cluster ${cluster}`);
    const refs = inventory?.objects ?? [];

    // Step 2: the managed objects as they are now.
    const nodes: TreeNode[] = [];
    const live: (KubeObject | undefined | 'unread')[] = await this.#getAll(refs, signal);
    refs.forEach((ref, i) => nodes.push(managedNode(ref, live[i], rules ?? [])));
    const unread = live.filter((l) => l === 'unread').length;
    if (unread === refs.length && refs.length > 0) throw timeout();
    const notes: string[] = [];
    const partialNote = () =>
      `the deadline of ${limits.deadlineMs} ms passed before the tree was read whole`;
    if (unread > 0) return { nodes, partial: true, notes: [partialNote()] };

    // Step 3: children by owner reference, in the namespaces of the app's objects, and Events.
    const namespaces = [
      ...new Set(nodes.map((n) => n.ref.namespace).filter((ns) => ns !== '')),
    ].sort();
    try {
      const owned = new Map<string, KubeObject[]>();
      const events = new Map<string, TreeEvent[]>();
      for (const ns of namespaces) {
        for (const [uid, list] of await ownedObjects(this.#o.client, ns, signal))
          owned.set(uid, [...(owned.get(uid) ?? []), ...list]);
        for (const [uid, list] of await eventsByUid(this.#o.client, ns, signal))
          events.set(uid, list);
      }
      addChildren(nodes, owned);
      for (const n of nodes) n.events = events.get(n.uid) ?? [];
    } catch (err) {
      if (!signal.aborted && !isAbort(err, signal)) throw err;
      notes.push(partialNote());
      return { nodes, partial: true, notes };
    }
    return { nodes, partial: false, notes };
  }

  /** Gets each object, a few at a time; 'unread' for those the deadline cut off. */
  async #getAll(
    refs: ObjectRef[],
    signal: AbortSignal,
  ): Promise<(KubeObject | undefined | 'unread')[]> {
    const out: (KubeObject | undefined | 'unread')[] = refs.map(() => 'unread');
    for (let i = 0; i < refs.length && !signal.aborted; i += READ_CONCURRENCY) {
      const batch = refs.slice(i, i + READ_CONCURRENCY);
      const got = await Promise.allSettled(batch.map((r) => this.#o.client.get(r, signal)));
      got.forEach((g, j) => {
        if (g.status === 'fulfilled') out[i + j] = g.value;
        else if (!signal.aborted)
          throw new Error(`get ${refString(batch[j]!)}: ${errorMessage(g.reason)}`, {
            cause: g.reason,
          });
      });
    }
    return out;
  }
}

/** A node for a managed object (Missing when it is not in the cluster). */
function managedNode(
  ref: ObjectRef,
  obj: KubeObject | undefined | 'unread',
  rules: readonly HealthRule[],
): TreeNode {
  if (obj === 'unread')
    return {
      ref,
      uid: '',
      parentUid: '',
      managed: true,
      health: { status: 'Unknown', message: `${refString(ref)}: not read before the deadline` },
      events: [],
      createdMs: 0,
    };
  if (!obj)
    return {
      ref,
      uid: '',
      parentUid: '',
      managed: true,
      health: healthOf(undefined),
      events: [],
      createdMs: 0,
    };
  return childNode(obj, '', rules, true);
}

function childNode(
  obj: KubeObject,
  parentUid: string,
  rules: readonly HealthRule[],
  managed: boolean,
): TreeNode {
  return {
    ref: refOf(obj),
    uid: uidOf(obj),
    parentUid,
    managed,
    health: healthOf(obj, rules),
    events: [],
    createdMs: firstTime(obj.metadata['creationTimestamp']),
  };
}

/** Appends the children of every node, breadth first, each object once. */
function addChildren(nodes: TreeNode[], owned: Map<string, KubeObject[]>): void {
  const seen = new Set(nodes.map((n) => n.uid).filter((u) => u !== ''));
  for (let i = 0; i < nodes.length; i++) {
    const parent = nodes[i]!;
    if (!parent.uid) continue;
    for (const child of owned.get(parent.uid) ?? []) {
      const uid = uidOf(child);
      if (seen.has(uid)) continue;
      seen.add(uid);
      nodes.push(childNode(child, parent.uid, [], false));
    }
  }
}

/** The node and Event bounds (bytes are bounded where the answer is encoded). */
function bound(
  all: TreeNode[],
  limits: TreeLimits,
  notes: string[],
): { nodes: TreeNode[]; truncated: boolean; notes: string[] } {
  const out = [...notes];
  let truncated = false;
  const nodes = all.slice(0, limits.maxNodes);
  if (all.length > nodes.length) {
    truncated = true;
    out.push(
      `${all.length - nodes.length} of ${all.length} nodes left out (limit ${limits.maxNodes})`,
    );
  }
  let cut = 0;
  for (const n of nodes) {
    if (n.events.length <= limits.maxEventsPerNode) continue;
    cut += n.events.length - limits.maxEventsPerNode;
    n.events = n.events.slice(0, limits.maxEventsPerNode);
  }
  if (cut > 0) {
    truncated = true;
    out.push(`${cut} older Events left out (limit ${limits.maxEventsPerNode} per node)`);
  }
  return { nodes, truncated, notes: out };
}

/** `promise`, or the signal's reason once it aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
