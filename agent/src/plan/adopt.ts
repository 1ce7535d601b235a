import { Marks, type KubeObject } from '../model.ts';
// Files, not the folder's index: export/ uses plan/, and this must not make a cycle.
import { asFieldSet, unionFieldSets, type FieldSet } from '../export/fields-v1.ts';

/**
 * Adoption: objects made before Driftless managed them — with client-side
 * `kubectl apply`, `kubectl create` / `edit`, or by Helm — carry managed
 * fields of those managers. Server-side apply leaves fields it does not own
 * alone, so a key Git later drops would stay for ever. As kubectl's
 * `csaupgrade` and Flux do, the sync first hands those managers' fields to
 * the `driftless` manager (one Apply entry), so Git becomes their owner: an
 * apply then removes whatever Git does not declare, the
 * `kubectl.kubernetes.io/last-applied-configuration` annotation included.
 */

/** Field managers whose fields an apply takes over: kubectl's (any verb), Helm's, and kubectl's pre-SSA placeholder. */
export const ADOPTED_MANAGERS: readonly RegExp[] = [
  /^kubectl($|-)/,
  /^helm$/,
  /^before-first-apply$/,
];

/** One entry of `metadata.managedFields`. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: unknown;
  subresource?: string;
}

function entriesOf(obj: KubeObject): ManagedFieldsEntry[] {
  const mf = obj.metadata['managedFields'];
  return Array.isArray(mf) ? (mf as ManagedFieldsEntry[]) : [];
}

function adopted(entry: ManagedFieldsEntry): boolean {
  return (
    !entry.subresource &&
    entry.manager !== Marks.fieldManager &&
    ADOPTED_MANAGERS.some((re) => re.test(entry.manager ?? ''))
  );
}

/** The managers whose fields a sync would take over from `live`, sorted; [] when none. */
export function adoptableManagers(live: KubeObject): string[] {
  return [
    ...new Set(
      entriesOf(live)
        .filter(adopted)
        .map((e) => e.manager ?? ''),
    ),
  ].sort();
}

/**
 * `live`'s managed fields with the adopted managers' entries merged into one
 * `driftless` Apply entry (with our own Apply entry, if any). Other
 * managers' entries are kept as they are.
 */
export function takeOverManagedFields(live: KubeObject, now: Date): ManagedFieldsEntry[] {
  const entries = entriesOf(live);
  const ours = (e: ManagedFieldsEntry) =>
    !e.subresource && e.manager === Marks.fieldManager && e.operation === 'Apply';
  const merged = entries.filter((e) => adopted(e) || ours(e));
  const kept = entries.filter((e) => !adopted(e) && !ours(e));
  const fields = unionFieldSets(merged.map((e) => asFieldSet(e.fieldsV1) ?? {}));
  return [
    ...kept,
    {
      manager: Marks.fieldManager,
      operation: 'Apply',
      apiVersion: merged.find(ours)?.apiVersion ?? live.apiVersion,
      time: now.toISOString().replace(/\.\d+Z$/, 'Z'),
      fieldsType: 'FieldsV1',
      fieldsV1: fields,
    },
  ];
}

/**
 * What an apply after the take-over would leave of `dry` (a dry-run against
 * the object before it): map fields owned only by adopted managers, and not
 * declared by `desired`, are gone. Lists are left as they are, so the plan
 * may show less than the apply removes from inside a list.
 */
export function withoutAdoptedFields(
  dry: KubeObject,
  live: KubeObject,
  desired: KubeObject,
): KubeObject {
  const entries = entriesOf(live).filter((e) => !e.subresource);
  const adoptedSet = unionFieldSets(
    entries.filter(adopted).map((e) => asFieldSet(e.fieldsV1) ?? {}),
  );
  const othersSet = unionFieldSets(
    entries
      .filter((e) => !adopted(e) && e.manager !== Marks.fieldManager)
      .map((e) => asFieldSet(e.fieldsV1) ?? {}),
  );
  const out = structuredClone(dry);
  prune(out, desired, adoptedSet, othersSet);
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function prune(
  value: Record<string, unknown>,
  desired: Record<string, unknown> | undefined,
  adoptedSet: FieldSet,
  others: FieldSet | undefined,
): void {
  for (const [key, child] of Object.entries(adoptedSet)) {
    if (!key.startsWith('f:')) continue;
    const name = key.slice(2);
    if (!(name in value)) continue;
    const other = others?.[key];
    const wanted = desired?.[name];
    if (wanted === undefined) {
      if (other === undefined) delete value[name];
      continue;
    }
    const v = value[name];
    if (isRecord(v) && isRecord(wanted)) prune(v, wanted, child, other);
  }
}
