import { TerminalError } from '@driftless/common';
import { Marks, refOf, refString, type KubeObject } from '../model.ts';

/**
 * Helm hooks in a GitOps sync. `helm template` renders hook objects with the
 * rest; Helm itself would run them around an install or upgrade, so the sync
 * does the same:
 * - `pre-install` / `pre-upgrade` hooks are applied, and waited for, after
 *   CRDs and Namespaces and before everything else; `post-install` /
 *   `post-upgrade` after every wave. Within a phase, lower
 *   `helm.sh/hook-weight` first.
 * - They run once per change of the app's rendered output: `*-install` when
 *   the app has no inventory yet, `*-upgrade` when the render changed since
 *   hooks last ran; never on a resync or a heal.
 * - `test`, `*-delete` and `*-rollback` hooks are never applied: a GitOps
 *   sync has no `helm test`, uninstall or rollback to attach them to.
 */

/** When hooks run in this sync: on first install, on a changed render, or not at all. */
export type HookEvent = 'install' | 'upgrade' | 'none';

/** What a hook's annotations ask for. */
export interface HookSpec {
  /** Before the app's objects, or after them. */
  phase: 'pre' | 'post';
  /** `helm.sh/hook-weight`; lower runs first. */
  weight: number;
  /**
   * `helm.sh/hook-delete-policy`; Helm's default when none is set is
   * `before-hook-creation`.
   */
  deletePolicies: ReadonlySet<DeletePolicy>;
}

/** A value of `helm.sh/hook-delete-policy`. */
export type DeletePolicy = 'before-hook-creation' | 'hook-succeeded' | 'hook-failed';

const EVENTS = new Set([
  'pre-install',
  'post-install',
  'pre-upgrade',
  'post-upgrade',
  'pre-delete',
  'post-delete',
  'pre-rollback',
  'post-rollback',
  'test',
  'test-success',
  'test-failure',
  // Helm 2's; Helm 3 ignores it (CRDs go in the chart's crds/ folder), so do we.
  'crd-install',
]);
const POLICIES = new Set(['before-hook-creation', 'hook-succeeded', 'hook-failed']);

/** Whether Helm would treat the object as a hook (it has a `helm.sh/hook` annotation). */
export function isHook(obj: KubeObject): boolean {
  return obj.metadata.annotations?.[Marks.helmHook] !== undefined;
}

/**
 * The hook an object is for `event`: its phase, weight and delete policies,
 * or undefined when it is not a hook or does not run on `event` (test,
 * delete, rollback and Helm 2 `crd-install` hooks never do). Malformed
 * annotations are a terminal error naming the object.
 */
export function hookFor(obj: KubeObject, event: HookEvent): HookSpec | undefined {
  const a = obj.metadata.annotations ?? {};
  const raw = a[Marks.helmHook];
  if (raw === undefined) return undefined;
  const who = refString(refOf(obj));
  // Helm reads hook events case-insensitively.
  const events = list(raw.toLowerCase());
  for (const e of events) {
    if (!EVENTS.has(e)) throw new TerminalError(`${who}: unknown ${Marks.helmHook} event "${e}"`);
  }
  const weightText = (a[Marks.helmHookWeight] ?? '0').trim();
  if (!/^-?\d+$/.test(weightText)) {
    throw new TerminalError(
      `${who}: ${Marks.helmHookWeight} must be an integer, got "${weightText}"`,
    );
  }
  const policies = list(a[Marks.helmHookDeletePolicy] ?? '');
  for (const p of policies) {
    if (!POLICIES.has(p))
      throw new TerminalError(`${who}: unknown ${Marks.helmHookDeletePolicy} "${p}"`);
  }
  if (event === 'none') return undefined;
  const phase = events.includes(`pre-${event}`)
    ? 'pre'
    : events.includes(`post-${event}`)
      ? 'post'
      : undefined;
  if (!phase) return undefined;
  return {
    phase,
    weight: Number(weightText),
    // Checked against POLICIES above.
    deletePolicies: new Set(
      (policies.length > 0 ? policies : ['before-hook-creation']) as DeletePolicy[],
    ),
  };
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
