import { WaitingError } from '@driftless/common';
import { Marks, refString, uidOf, type KubeObject, type ObjectRef } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
import { takeOverManagedFields, type PlannedObject } from '../plan/index.ts';
import type { ResolvedApplyOptions } from './options.ts';

/**
 * The object as sent: Git's fields plus our revision and trace annotations
 * (trace id, and the sync span's W3C traceparent when known).
 */
export function withSyncMarks(
  obj: KubeObject,
  revision: string,
  traceId: string,
  traceparent = '',
): KubeObject {
  const annotations: Record<string, string> = {
    ...(obj.metadata.annotations ?? {}),
    [Marks.revision]: revision,
  };
  if (traceId) annotations[Marks.traceId] = traceId;
  if (traceparent) annotations[Marks.traceparent] = traceparent;
  return { ...obj, metadata: { ...obj.metadata, annotations } };
}

/** Writes one object: replaced, adopted, or plainly applied. */
export async function writeObject(p: PlannedObject, o: ResolvedApplyOptions): Promise<KubeObject> {
  const { client, signal } = o;
  const desired = withSyncMarks(p.desired as KubeObject, o.revision, o.traceId, o.traceparent);
  if (p.replace && p.live) {
    await client.delete(p.ref, { uid: uidOf(p.live), signal });
    await waitGone(client, p.ref, uidOf(p.live), o);
  } else if (p.adopt && p.adopt.length > 0) {
    const live = await client.get(p.ref, signal);
    if (live) {
      await client.patchJson(
        p.ref,
        [
          {
            op: 'replace',
            path: '/metadata/managedFields',
            value: takeOverManagedFields(live, new Date(o.clock.now())),
          },
        ],
        { fieldManager: Marks.fieldManager, signal },
      );
    }
  }
  return client.apply(desired, { fieldManager: Marks.fieldManager, force: true, signal });
}

/** Resolves once the object is gone (or another incarnation replaced it). */
export async function waitGone(
  client: KubeClient,
  ref: ObjectRef,
  uid: string,
  o: Pick<ResolvedApplyOptions, 'clock' | 'crdTimeoutMs' | 'signal'>,
): Promise<void> {
  const deadline = o.clock.now() + o.crdTimeoutMs;
  for (;;) {
    const live = await client.get(ref, o.signal);
    if (!live || (uid && uidOf(live) !== uid)) return;
    if (o.clock.now() > deadline)
      throw new WaitingError(
        `${refString(ref)} is still being deleted (finalizers: ${JSON.stringify(live.metadata['finalizers'] ?? [])})`,
      );
    await o.clock.sleep(200, o.signal);
  }
}
