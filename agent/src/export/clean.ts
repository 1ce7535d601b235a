import { Marks, type KubeObject } from '../model.ts';
import { stripKnownDefaults } from './defaults.ts';
import { asFieldSet, ownsPath, pickFields, unionFieldSets, type FieldSet } from './fields-v1.ts';

/**
 * Field managers that are the control plane acting on its own: what they set
 * (a Deployment's revision annotation, a PVC's bound volume) follows from the
 * declared state and must not be written back into Git.
 */
export const CONTROL_PLANE_MANAGERS: ReadonlySet<string> = new Set([
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'cloud-controller-manager',
]);

/** The annotation `kubectl apply` (client side) stores its last input in. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Annotations the agent writes on every object it applies (see `apply/write.ts`): which sync
 * wrote it last. Bookkeeping of this cluster; in Git they would be stale at the next commit.
 */
const SYNC_ANNOTATIONS: readonly string[] = [Marks.revision, Marks.traceId, Marks.traceparent];

/** Metadata the server sets on every object; never part of a manifest. */
const SERVER_METADATA = [
  'managedFields',
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'generation',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  // Owner uids are only valid in this cluster; in another one the garbage
  // collector would delete an object whose owner uid does not exist.
  'ownerReferences',
] as const;

/** One entry of `metadata.managedFields`, as far as export reads it. */
interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether an entry records what a user or a user-side tool declared. */
function isUserEntry(entry: ManagedFieldsEntry): boolean {
  return entry.subresource !== 'status' && !CONTROL_PLANE_MANAGERS.has(entry.manager ?? '');
}

/**
 * A live object as a manifest that can go into Git: only the fields some
 * user-side field manager set (the union of their managedFields), without
 * server defaults, status, server metadata or the marks Driftless itself
 * writes (ownership labels, sync annotations). `apiVersion`, `kind`, name and
 * namespace are always kept. Objects without managedFields fall back to
 * removing the known defaults of their kind. `live` is not modified.
 */
export function cleanObject(live: KubeObject): KubeObject {
  const entries = Array.isArray(live.metadata['managedFields'])
    ? (live.metadata['managedFields'] as unknown[])
        .filter(isRecord)
        .map((e) => e as ManagedFieldsEntry)
    : [];
  const users = entries.filter(isUserEntry);
  const sets = (list: ManagedFieldsEntry[]) =>
    list.map((e) => asFieldSet(e.fieldsV1)).filter((s): s is FieldSet => s !== undefined);
  const declared = sets(users);

  let out: KubeObject;
  if (declared.length === 0) {
    // Nothing says who set what (managedFields off, or only controllers wrote):
    // keep everything but what we know the server fills in.
    out = structuredClone(live);
    stripKnownDefaults(out);
  } else {
    // Sets never name apiVersion and kind; the default rules are chosen by them.
    out = {
      ...(pickFields(live, unionFieldSets(declared)) as KubeObject),
      apiVersion: live.apiVersion,
      kind: live.kind,
    };
    // Server-side apply records exactly what was sent, so a default-looking
    // value owned by an Apply manager was declared on purpose; Update
    // managers own whatever defaulting added before ownership was computed.
    const applied = unionFieldSets(sets(users.filter((e) => e.operation === 'Apply')));
    const picked = structuredClone(out);
    stripKnownDefaults(out, (path) => ownsPath(applied, picked, path));
  }
  return finish(out, live);
}

/** Drops status and server metadata, and restores the identity fields every manifest needs. */
function finish(out: KubeObject, live: KubeObject): KubeObject {
  const { status: _status, apiVersion: _a, kind: _k, metadata: picked, ...rest } = out;
  const metadata: Record<string, unknown> = { ...(isRecord(picked) ? picked : {}) };
  for (const field of SERVER_METADATA) delete metadata[field];
  delete metadata['name'];
  delete metadata['namespace'];

  const annotations = isRecord(metadata['annotations']) ? { ...metadata['annotations'] } : {};
  delete annotations[LAST_APPLIED];
  for (const key of SYNC_ANNOTATIONS) delete annotations[key];
  if (Object.keys(annotations).length > 0) metadata['annotations'] = annotations;
  else delete metadata['annotations'];

  // The guard sets these ownership labels on every object an app applies, over what Git had;
  // the app that exports them owns them again when it applies them. Another managed-by stays.
  const labels = isRecord(metadata['labels']) ? { ...metadata['labels'] } : {};
  delete labels[Marks.app];
  if (labels[Marks.managedBy] === Marks.managedByValue) delete labels[Marks.managedBy];
  if (Object.keys(labels).length > 0) metadata['labels'] = labels;
  else delete metadata['labels'];
  return {
    apiVersion: live.apiVersion,
    kind: live.kind,
    metadata: {
      name: live.metadata.name,
      ...(live.metadata.namespace ? { namespace: live.metadata.namespace } : {}),
      ...metadata,
    },
    ...rest,
  };
}
