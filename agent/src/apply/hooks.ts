import { TerminalError, WaitingError } from '@driftless/common';
import { groupOf, Marks, refString, uidOf, type KubeObject } from '../model.ts';
import type { PlannedObject } from '../plan/index.ts';
import type { ResolvedApplyOptions } from './options.ts';
import { waitGone, withSyncMarks } from './write.ts';

/** A hook's run as Helm judges it: Jobs and Pods run to an end; anything else is done once created. */
type HookEnd =
  { done: false } | { done: true; failed: false } | { done: true; failed: true; why: string };

function hookEnd(live: KubeObject): HookEnd {
  const status = (live['status'] ?? {}) as {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
  const group = groupOf(live.apiVersion);
  if (group === 'batch' && live.kind === 'Job') {
    const cond = (type: string) =>
      status.conditions?.find((c) => c.type === type && c.status === 'True');
    if (cond('Complete')) return { done: true, failed: false };
    const failed = cond('Failed');
    if (failed) {
      return {
        done: true,
        failed: true,
        why: [failed.reason, failed.message].filter(Boolean).join(': '),
      };
    }
    return { done: false };
  }
  if (group === '' && live.kind === 'Pod') {
    if (status.phase === 'Succeeded') return { done: true, failed: false };
    if (status.phase === 'Failed') {
      return {
        done: true,
        failed: true,
        why: [status.reason, status.message].filter(Boolean).join(': ') || 'failed',
      };
    }
    return { done: false };
  }
  return { done: true, failed: false };
}

/**
 * Runs one Helm hook: the object of a previous run is deleted first (a hook
 * is replaced, never patched, so a Job's immutable template never blocks
 * it), then it is created and, for a Job or Pod, waited for until it ends.
 * `hook-succeeded` / `hook-failed` delete it after. A failed or timed-out
 * hook fails the sync with a message naming it.
 */
export async function runHook(
  p: PlannedObject,
  o: ResolvedApplyOptions,
): Promise<KubeObject | undefined> {
  const { client, signal, clock } = o;
  const hook = p.hook;
  if (!hook) throw new TerminalError(`${refString(p.ref)} is not a hook`);
  const previous = await client.get(p.ref, signal);
  if (previous) {
    const uid = uidOf(previous);
    await client.delete(p.ref, { uid, signal });
    await waitGone(client, p.ref, uid, o);
  }
  const created = await client.apply(
    withSyncMarks(p.desired as KubeObject, o.revision, o.traceId, o.traceparent),
    {
      fieldManager: Marks.fieldManager,
      force: true,
      signal,
    },
  );
  const uid = uidOf(created);
  const deadline = clock.now() + o.hookTimeoutMs;
  let end = hookEnd(created);
  while (!end.done) {
    if (clock.now() > deadline) {
      throw new WaitingError(
        `hook ${refString(p.ref)} did not finish within ${Math.round(o.hookTimeoutMs / 1000)}s`,
      );
    }
    await clock.sleep(250, signal);
    const live = await client.get(p.ref, signal);
    if (!live || uidOf(live) !== uid) {
      throw new TerminalError(`hook ${refString(p.ref)} was deleted before it finished`);
    }
    end = hookEnd(live);
  }
  if (end.failed) {
    if (hook.deletePolicies.has('hook-failed')) await client.delete(p.ref, { uid, signal });
    throw new TerminalError(`hook ${refString(p.ref)} failed${end.why ? `: ${end.why}` : ''}`);
  }
  if (hook.deletePolicies.has('hook-succeeded')) await client.delete(p.ref, { uid, signal });
  return created;
}
