import { TerminalError } from '@driftless/common';
import { groupOf, Marks, refOf, refString, type KubeObject } from '../model.ts';

/**
 * What one object asks of a sync, from its annotations:
 * `driftless.dev/sync-options: Replace=true,Prune=false,CreateOnly=true`
 * (comma-separated, case-insensitive names) and Helm's
 * `helm.sh/resource-policy: keep` (same as `Prune=false`).
 */
export interface SyncOptions {
  /** Delete and re-create the object when a change touches an immutable field. */
  replace: boolean;
  /** Never delete it: not when it leaves Git, nor when its app leaves Git. */
  keep: boolean;
  /** Create it when missing, never update it. */
  createOnly: boolean;
}

const NAMES = { replace: 'Replace', prune: 'Prune', createonly: 'CreateOnly' } as const;

/** The sync options of an object; a terminal error naming it when the annotation is malformed. */
export function syncOptionsOf(obj: KubeObject): SyncOptions {
  const annotations = obj.metadata.annotations ?? {};
  const out: SyncOptions = {
    replace: false,
    keep: annotations[Marks.helmResourcePolicy]?.trim() === 'keep',
    createOnly: false,
  };
  const raw = annotations[Marks.syncOptions];
  if (raw === undefined) return out;
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name = '', value = ''] = item.split('=').map((s) => s.trim());
    const key = name.toLowerCase() as keyof typeof NAMES;
    const bool = value.toLowerCase();
    if (!(key in NAMES) || (bool !== 'true' && bool !== 'false')) {
      throw new TerminalError(
        `${refString(refOf(obj))}: annotation ${Marks.syncOptions} has "${item}"; allowed: Replace=true, Prune=false, CreateOnly=true`,
      );
    }
    if (key === 'replace') out.replace = bool === 'true';
    else if (key === 'prune') out.keep = out.keep || bool === 'false';
    else out.createOnly = bool === 'true';
  }
  return out;
}

/**
 * Kinds never replaced, whatever the options say: deleting a CRD deletes
 * every object of its kind, a Namespace everything in it, a claim its data.
 */
export function replaceRefusal(obj: Pick<KubeObject, 'apiVersion' | 'kind'>): string | undefined {
  const group = groupOf(obj.apiVersion);
  if (group === 'apiextensions.k8s.io' && obj.kind === 'CustomResourceDefinition')
    return 'deleting a CRD deletes every object of its kind';
  if (group === '' && obj.kind === 'Namespace')
    return 'deleting a Namespace deletes everything in it';
  if (group === '' && obj.kind === 'PersistentVolumeClaim')
    return 'deleting a PersistentVolumeClaim can lose its data';
  return undefined;
}
