import { groupOf, Marks, refKey, refOf, type AppSpec, type KubeObject } from '../model.ts';
import {
  comparable,
  digestOf,
  isHook,
  isRunOnce,
  manifestDigest,
  type HookEvent,
  type Plan,
} from '../plan/index.ts';
import type { InventoryRecord } from '../inventory/index.ts';

/**
 * What a sync carries from one sync of an app to the next, besides the
 * objects it owns: when Helm hooks last ran, and which run-once objects ran.
 */

/** Digest of an app's rendered output, the same for the same objects in any order. */
export function renderDigest(desired: KubeObject[]): string {
  return digestOf(
    desired
      .map((o) => [refKey(refOf(o)), comparable(o)] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * Which hooks this sync runs: install hooks when the app owns nothing yet
 * (or its first sync never finished), upgrade hooks when its render changed
 * since hooks last ran to the end, none otherwise (a resync, a heal, a retry
 * after success).
 */
export function hookEventOf(previous: InventoryRecord | undefined, digest: string): HookEvent {
  if (!previous || previous.objects.length === 0) return 'install';
  if (previous.renderDigest === INSTALL_PENDING) return 'install';
  return previous.renderDigest === digest ? 'none' : 'upgrade';
}

/**
 * The render digest recorded while an app's first sync is under way: until it
 * succeeds, a retry is still an install (as `helm upgrade --install` installs
 * again over a release that never deployed).
 */
export const INSTALL_PENDING = 'install-pending';

/** The render digest to record before applying: the last one, or {@link INSTALL_PENDING} on a first sync. */
export function digestBeforeApply(previous: InventoryRecord | undefined): string {
  if (!previous || previous.objects.length === 0) return INSTALL_PENDING;
  return previous.renderDigest ?? '';
}

/** The run-once objects of a finished sync: those applied now and those that ran before. */
export function ranOnceAfter(plan: Plan, desired: KubeObject[]): Record<string, string> {
  const planned = new Map(plan.objects.map((o) => [refKey(o.ref), o]));
  const out: Record<string, string> = {};
  for (const o of desired) {
    if (!isRunOnce(o) || isHook(o)) continue;
    const key = refKey(refOf(o));
    if (planned.has(key)) out[key] = manifestDigest(o);
  }
  return out;
}

/**
 * The app's Namespace, with the ownership marks, when the app asks for it
 * (`createNamespace`) and the render has none; otherwise undefined.
 */
export function namespaceToCreate(app: AppSpec, desired: KubeObject[]): KubeObject | undefined {
  if (!app.createNamespace || !app.namespace) return undefined;
  const present = desired.some(
    (o) =>
      o.kind === 'Namespace' && groupOf(o.apiVersion) === '' && o.metadata.name === app.namespace,
  );
  if (present) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: app.namespace,
      labels: { [Marks.managedBy]: Marks.managedByValue, [Marks.app]: app.name },
    },
  };
}

/** Whether a record differs from the previous one in anything but order. */
export function inventoryChanged(previous: InventoryRecord, next: InventoryRecord): boolean {
  const keys = (r: InventoryRecord) => r.objects.map(refKey).sort().join('|');
  return (
    previous.revision !== next.revision ||
    previous.prune !== next.prune ||
    previous.renderDigest !== next.renderDigest ||
    keys(previous) !== keys(next) ||
    digestOf(previous.ranOnce ?? {}) !== digestOf(next.ranOnce ?? {}) ||
    (previous.approvalId ?? '') !== (next.approvalId ?? '')
  );
}
