import {
  errorMessage,
  WaitingError,
  type Backoff,
  type Clock,
  type Logger,
} from '@driftless/common';
import type { KubeClient } from '../kube/index.ts';
import type { ObjectRef } from '../model.ts';
import type { InventoryStore } from '../inventory/index.ts';
import { planApp } from '../plan/index.ts';
import { pruneObjects } from '../apply/index.ts';

/** Options of {@link GoneApps}. */
export interface GoneAppsOptions {
  inventory: InventoryStore;
  logger: Logger;
  clock: Clock;
  /** A fresh backoff for one app's retries. */
  newBackoff: () => Backoff;
  /** The objects of a gone app's inventory that no other app holds, so only those are pruned. */
  prunable: (app: string, objects: ObjectRef[]) => ObjectRef[];
  /** The other apps that did not render, so what they declare is unknown (see OwnershipView). */
  undeclared: (app: string) => string[];
  /** Forgets an app that left Git (drift watching, status); the client to prune it as. */
  release: (app: string) => KubeClient;
}

/**
 * Apps whose inventory is in the cluster but that `driftless.yaml` no longer
 * lists: each is pruned (when it had `prune: true`) or let go, on its own; one
 * that fails is retried with its own backoff and holds up nothing else.
 */
export class GoneApps {
  readonly #o: GoneAppsOptions;
  readonly #retry = new Map<string, { backoff: Backoff; dueAt: number }>();

  constructor(options: GoneAppsOptions) {
    this.#o = options;
  }

  /** When the earliest failed removal is due again; undefined when none failed. */
  nextDueAt(): number | undefined {
    const times = [...this.#retry.values()].map((r) => r.dueAt);
    return times.length ? Math.min(...times) : undefined;
  }

  /**
   * Removes every inventoried app not in `current` that is due (all when
   * `force`). Resolves false when some removal failed (it is retried later).
   */
  async remove(current: Set<string>, signal: AbortSignal, force: boolean): Promise<boolean> {
    let ok = true;
    const now = this.#o.clock.now();
    for (const name of await this.#o.inventory.apps()) {
      if (current.has(name)) {
        this.#retry.delete(name);
        continue;
      }
      const retry = this.#retry.get(name);
      if (retry && !force && now < retry.dueAt) continue;
      try {
        await this.#removeOne(name, signal);
        this.#retry.delete(name);
      } catch (err) {
        if (signal.aborted) return ok;
        ok = false;
        const r = retry ?? { backoff: this.#o.newBackoff(), dueAt: 0 };
        const delay = r.backoff.next();
        r.dueAt = this.#o.clock.now() + delay;
        this.#retry.set(name, r);
        this.#o.logger.error(
          { app: name, err: errorMessage(err), retryInMs: delay },
          `app ${name} left Git, but removing it failed: ${errorMessage(err)}; retrying in ${Math.round(delay / 1000)}s`,
        );
      }
    }
    return ok;
  }

  async #removeOne(name: string, signal: AbortSignal): Promise<void> {
    const { inventory, logger } = this.#o;
    const record = await inventory.load(name);
    if (!record) return;
    // Renamed, the app may be one that does not render now: its objects wait for it to.
    const undeclared = record.prune ? this.#o.undeclared(name) : [];
    if (undeclared.length > 0)
      throw new WaitingError(
        `app ${name} left Git; its objects are not pruned while app ${undeclared.join(', ')} does not render, as it may declare them`,
      );
    const client = this.#o.release(name);
    if (record.prune) {
      const plan = await planApp({
        client,
        app: name,
        revision: record.revision,
        desired: [],
        inventory: this.#o.prunable(name, record.objects),
        prune: true,
        signal,
      });
      const pruned = await pruneObjects(client, plan, { signal });
      logger.info(
        { app: name, pruned: pruned.length },
        `app ${name} left Git: pruned ${pruned.length} objects`,
      );
    } else {
      logger.info(
        { app: name, objects: record.objects.length },
        `app ${name} left Git: its ${record.objects.length} objects stay (prune is off)`,
      );
    }
    await inventory.remove(name);
  }
}
