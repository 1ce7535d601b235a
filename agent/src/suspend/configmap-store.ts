import { Marks, type KubeObject } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
import type { SuspensionStore } from './book.ts';
import type { Suspension } from './types.ts';

/** Name of the ConfigMap, in the agent's state namespace, that keeps the hub's pauses. */
export const SUSPENSIONS_CONFIGMAP = 'driftless-suspensions';

/**
 * Keeps the hub's pauses in a ConfigMap of the state namespace (beside the app inventories), so
 * a restarted agent, even on a fresh pod with an empty work dir, keeps pausing until they end.
 */
export class ConfigMapSuspensionStore implements SuspensionStore {
  readonly #client: Pick<KubeClient, 'get' | 'apply'>;
  readonly #namespace: string;

  constructor(client: Pick<KubeClient, 'get' | 'apply'>, namespace: string) {
    this.#client = client;
    this.#namespace = namespace;
  }

  /** Where the pauses are kept, for messages. */
  get where(): string {
    return `ConfigMap ${this.#namespace}/${SUSPENSIONS_CONFIGMAP}`;
  }

  async load(): Promise<Suspension[]> {
    const cm = await this.#client.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: this.#namespace,
      name: SUSPENSIONS_CONFIGMAP,
    });
    const text = (cm?.['data'] as Record<string, string> | undefined)?.['suspensions.json'];
    if (!text) return [];
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? parsed.filter(isSuspension) : [];
  }

  async save(list: Suspension[]): Promise<void> {
    const cm: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: SUSPENSIONS_CONFIGMAP,
        namespace: this.#namespace,
        labels: { [Marks.managedBy]: Marks.managedByValue },
      },
      data: { 'suspensions.json': JSON.stringify(list) },
    };
    await this.#client.apply(cm, { fieldManager: Marks.fieldManager });
  }
}

function isSuspension(v: unknown): v is Suspension {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s['id'] === 'string' &&
    typeof s['app'] === 'string' &&
    typeof s['untilMs'] === 'number' &&
    typeof s['reason'] === 'string' &&
    typeof s['actor'] === 'string' &&
    typeof s['sinceMs'] === 'number' &&
    s['source'] === 'hub'
  );
}
