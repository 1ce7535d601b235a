import type { FieldDiff, Plan, PlannedObject } from '../plan/index.ts';
import { refString } from '../model.ts';

/** Options of {@link formatPlan}. */
export interface PlanPrintOptions {
  /** Also list unchanged objects and the fields of created ones. Default false. */
  verbose?: boolean;
  /** Longest value shown before it is cut with `…`. Default 120 characters. */
  maxValueLength?: number;
}

const MARKS: Record<PlannedObject['action'], string> = {
  create: '+ create',
  update: '~ update',
  delete: '- delete',
  unchanged: '= unchanged',
};

/** A value as JSON on one line; `(absent)` for a field that is not there. */
export function formatValue(value: unknown, maxLength = 120): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}

function formatField(d: FieldDiff, max: number): string {
  return `    ${d.path}: ${formatValue(d.before, max)} → ${formatValue(d.after, max)}`;
}

/** Whether the plan changes anything in the cluster. */
export function hasChanges(plan: Plan): boolean {
  return plan.counts.create + plan.counts.update + plan.counts.delete > 0;
}

/**
 * A plan as people read it: one line per object (`+ create`, `~ update`
 * with a line per changed field `path: before → after`, `- delete`, and
 * `= unchanged` when verbose), then a summary with the counts and the
 * digest an approval would be bound to.
 */
export function formatPlan(plan: Plan, options: PlanPrintOptions = {}): string {
  const max = options.maxValueLength ?? 120;
  const lines: string[] = [];
  for (const o of plan.objects) {
    if (o.action === 'unchanged' && !options.verbose) continue;
    lines.push(`${MARKS[o.action]} ${refString(o.ref)}`);
    if (o.action === 'update' || (o.action === 'create' && options.verbose)) {
      lines.push(...o.diff.map((d) => formatField(d, max)));
    }
  }
  for (const k of plan.kept) lines.push(`  kept ${refString(k.ref)}: ${k.reason}`);
  const { create, update, delete: del, unchanged } = plan.counts;
  const counts = [`${create} to create`, `${update} to update`];
  if (del > 0) counts.push(`${del} to delete`);
  counts.push(`${unchanged} unchanged`);
  const summary = hasChanges(plan)
    ? `Plan: ${counts.join(', ')}.`
    : `No changes: ${unchanged} ${unchanged === 1 ? 'object' : 'objects'} unchanged.`;
  lines.push(`${summary} Digest ${plan.digest}`);
  return `${lines.join('\n')}\n`;
}

/** The plan as JSON for scripts: counts, digest and per object its action and field changes. */
export function planJson(plan: Plan): string {
  return `${JSON.stringify(
    {
      revision: plan.revision,
      digest: plan.digest,
      counts: plan.counts,
      changes: hasChanges(plan),
      objects: plan.objects.map((o) => ({
        ref: o.ref,
        action: o.action,
        phase: o.phase,
        wave: o.wave,
        diff: o.diff,
        ...(o.desired ? { desired: o.desired } : {}),
      })),
      kept: plan.kept,
    },
    null,
    2,
  )}\n`;
}
