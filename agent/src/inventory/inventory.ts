import { Marks, refKey, type KubeObject, type ObjectRef } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';

/** What an app owns in the cluster, as last recorded. */
export interface InventoryRecord {
  app: string;
  /** Revision of the last successful sync ('' when none completed). */
  revision: string;
  /** Whether the app had prune on; decides what happens when the app leaves Git. */
  prune: boolean;
  objects: ObjectRef[];
  /**
   * Digest of the app's rendered output when its Helm hooks last ran to the
   * end ('' when never): hooks run again only when the render changes.
   */
  renderDigest?: string;
  /**
   * Run-once objects (Jobs with a TTL) that were applied: refKey → digest of
   * the manifest. Kubernetes deletes them by design; they are created again
   * only when their manifest changes.
   */
  ranOnce?: Record<string, string>;
  /**
   * The approval whose plan the last completed sync applied ('' when none): an approval is used
   * once, so a later plan with the same digest (drift that undid the change, say) needs a new one.
   */
  approvalId?: string;
}

const PREFIX = 'driftless-app-';
/** Loads in one turn from which one LIST answers them all instead of a GET each. */
export const LIST_FROM = 4;

interface Waiter {
  resolve: (record: InventoryRecord | undefined) => void;
  reject: (err: unknown) => void;
}

/** Settles every waiter with what `read` gives (or throws). */
function settle(
  waiters: Waiter[],
  read: () => InventoryRecord | undefined | Promise<InventoryRecord | undefined>,
): void {
  const result = (async () => read())();
  for (const w of waiters) result.then(w.resolve, w.reject);
}

/** The record an inventory ConfigMap holds. */
function recordOf(app: string, cm: KubeObject): InventoryRecord {
  const data = (cm['data'] ?? {}) as Record<string, string>;
  return {
    app,
    revision: data['revision'] ?? '',
    prune: data['prune'] === 'true',
    objects: JSON.parse(data['objects'] ?? '[]') as ObjectRef[],
    renderDigest: data['renderDigest'] ?? '',
    ranOnce: JSON.parse(data['ranOnce'] ?? '{}') as Record<string, string>,
    approvalId: data['approvalId'] ?? '',
  };
}

/**
 * Stores each app's inventory in a ConfigMap `driftless-app-<app>` of the
 * state namespace, so a restarted agent knows what it owns. Writes are
 * server-side applies by the `driftless` manager.
 */
export class InventoryStore {
  readonly #client: KubeClient;
  readonly #namespace: string;
  /** Loads asked for in this turn of the event loop, by app. */
  #batch: Map<string, Waiter[]> | undefined;

  constructor(client: KubeClient, namespace: string) {
    this.#client = client;
    this.#namespace = namespace;
  }

  /** The state namespace. */
  get namespace(): string {
    return this.#namespace;
  }

  #ref(app: string): ObjectRef {
    return { apiVersion: 'v1', kind: 'ConfigMap', namespace: this.#namespace, name: PREFIX + app };
  }

  /** Creates the state namespace when it is missing. */
  async ensureNamespace(): Promise<void> {
    await this.#client.apply(
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: this.#namespace, labels: { [Marks.managedBy]: Marks.managedByValue } },
      },
      { fieldManager: Marks.fieldManager },
    );
  }

  /**
   * The recorded inventory, or undefined when the app never synced. Loads
   * asked for in the same turn of the event loop (a pass reading every app's
   * inventory) are answered by one LIST of the state namespace when there are
   * {@link LIST_FROM} or more, each by a GET otherwise; either read is as
   * fresh as the moment it is sent.
   */
  load(app: string): Promise<InventoryRecord | undefined> {
    return new Promise((resolve, reject) => {
      if (!this.#batch) {
        const batch = new Map<string, Waiter[]>();
        this.#batch = batch;
        queueMicrotask(() => {
          this.#batch = undefined;
          this.#answer(batch);
        });
      }
      const waiters = this.#batch.get(app) ?? [];
      waiters.push({ resolve, reject });
      this.#batch.set(app, waiters);
    });
  }

  #answer(batch: Map<string, Waiter[]>): void {
    if (batch.size < LIST_FROM) {
      for (const [app, waiters] of batch)
        settle(waiters, async () => {
          const cm = await this.#client.get(this.#ref(app));
          return cm && recordOf(app, cm);
        });
      return;
    }
    // Every ConfigMap of the state namespace, by name: not by label, which an
    // inventory written by hand might lack.
    const listed = this.#client.list('v1', 'ConfigMap', { namespace: this.#namespace });
    const byName = listed.then(({ items }) => new Map(items.map((cm) => [cm.metadata.name, cm])));
    for (const [app, waiters] of batch)
      settle(waiters, async () => {
        const cm = (await byName).get(PREFIX + app);
        return cm && recordOf(app, cm);
      });
  }

  /** Every app that has an inventory (including apps no longer in Git). */
  async apps(): Promise<string[]> {
    const { items } = await this.#client.list('v1', 'ConfigMap', {
      namespace: this.#namespace,
      labelSelector: `${Marks.managedBy}=${Marks.managedByValue},driftless.dev/inventory=true`,
    });
    return items.map((cm) => cm.metadata.name.slice(PREFIX.length)).sort();
  }

  /** Records the inventory; objects are sorted and de-duplicated. */
  async save(record: InventoryRecord): Promise<void> {
    const unique = new Map(record.objects.map((r) => [refKey(r), r]));
    const objects = [...unique.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r);
    const cm: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: PREFIX + record.app,
        namespace: this.#namespace,
        labels: {
          [Marks.managedBy]: Marks.managedByValue,
          'driftless.dev/inventory': 'true',
          [Marks.app]: record.app,
        },
      },
      data: {
        revision: record.revision,
        prune: String(record.prune),
        objects: JSON.stringify(objects),
        renderDigest: record.renderDigest ?? '',
        ranOnce: JSON.stringify(sortedRecord(record.ranOnce ?? {})),
        approvalId: record.approvalId ?? '',
      },
    };
    await this.#client.apply(cm, { fieldManager: Marks.fieldManager });
  }

  /** Forgets an app (after its objects were pruned or released). */
  async remove(app: string): Promise<void> {
    await this.#client.delete(this.#ref(app));
  }
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
}

/** The union of two inventories, by object identity. */
export function unionRefs(a: ObjectRef[], b: ObjectRef[]): ObjectRef[] {
  const m = new Map(a.map((r) => [refKey(r), r]));
  for (const r of b) m.set(refKey(r), r);
  return [...m.values()];
}
