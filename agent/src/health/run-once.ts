import { groupOf, type KubeObject } from '../model.ts';

/**
 * Run-once objects: objects that do their work once and that Kubernetes
 * itself deletes when done (a Job with `ttlSecondsAfterFinished`, the Pods of
 * such a Job). Their disappearance is by design: it is not drift, and
 * neither a heal nor a later sync may create them again while their manifest
 * is unchanged. This is the one place that says which objects those are; the
 * drift watcher and the sync both ask it.
 */

interface Condition {
  type?: string;
  status?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a Job's status says it finished: a `Complete` or `Failed` condition that is True. */
function jobFinished(obj: KubeObject): boolean {
  const status = isRecord(obj['status']) ? obj['status'] : {};
  const conditions = Array.isArray(status['conditions'])
    ? (status['conditions'] as Condition[])
    : [];
  return conditions.some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
}

/**
 * Whether Kubernetes deletes `obj` by itself once it has finished: a Job
 * with `spec.ttlSecondsAfterFinished`, or a Pod that a Job owns. Works on the
 * desired object as well as on the live one.
 */
export function isRunOnce(obj: KubeObject): boolean {
  if (groupOf(obj.apiVersion) === 'batch' && obj.kind === 'Job') {
    const spec = isRecord(obj['spec']) ? obj['spec'] : {};
    return typeof spec['ttlSecondsAfterFinished'] === 'number';
  }
  if (groupOf(obj.apiVersion) === '' && obj.kind === 'Pod') {
    const owners = obj.metadata['ownerReferences'];
    return (
      Array.isArray(owners) &&
      owners.some((o) => isRecord(o) && o['kind'] === 'Job' && o['controller'] === true)
    );
  }
  return false;
}

/**
 * Whether the live object `obj` is a run-once object (see {@link isRunOnce})
 * that has finished its work, so that its deletion by Kubernetes is due:
 * a Job with a `Complete` or `Failed` condition, a Pod in phase `Succeeded`
 * or `Failed`.
 */
export function isFinishedRunOnce(obj: KubeObject | undefined): boolean {
  if (!obj || !isRunOnce(obj)) return false;
  if (obj.kind === 'Job') return jobFinished(obj);
  const status = isRecord(obj['status']) ? obj['status'] : {};
  return status['phase'] === 'Succeeded' || status['phase'] === 'Failed';
}
