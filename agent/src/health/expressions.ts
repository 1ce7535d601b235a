import { isCelError, parse, run } from '@bufbuild/cel';
import { groupOf, type HealthRule, type KubeObject } from '../model.ts';
import type { Health } from './types.ts';

/** Why a CEL expression does not parse, or undefined when it does. */
export function celProblem(expression: string): string | undefined {
  try {
    parse(expression);
    return undefined;
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).replace(/^<input>:/, 'at ');
  }
}

/**
 * The health an app's own rule gives `obj`, or undefined when no rule names
 * its kind. Rules are CEL over `object` (the live object, as JSON):
 * `degraded` true → Degraded, else `healthy` true → Healthy, else
 * Progressing. An expression that fails (a field missing, a result that is
 * not a bool) makes the object Unknown, with the reason.
 */
export function healthByRule(obj: KubeObject, rules: readonly HealthRule[]): Health | undefined {
  const group = groupOf(obj.apiVersion);
  const rule = rules.find((r) => r.kind === obj.kind && r.group === group);
  if (!rule) return undefined;
  const test = (what: 'healthy' | 'degraded', expression: string): boolean | string => {
    const out = run(expression, { object: obj as unknown as Record<string, never> });
    if (isCelError(out)) return `${what} rule failed: ${out.message}`;
    if (typeof out !== 'boolean') return `${what} rule gave ${typeof out}, not a bool`;
    return out;
  };
  if (rule.degraded !== undefined) {
    const degraded = test('degraded', rule.degraded);
    if (typeof degraded === 'string') return { status: 'Unknown', message: degraded };
    if (degraded)
      return { status: 'Degraded', message: `degraded by the app's rule: ${rule.degraded}` };
  }
  const healthy = test('healthy', rule.healthy);
  if (typeof healthy === 'string') return { status: 'Unknown', message: healthy };
  return healthy
    ? { status: 'Healthy', message: `healthy by the app's rule` }
    : { status: 'Progressing', message: `not yet healthy by the app's rule: ${rule.healthy}` };
}
