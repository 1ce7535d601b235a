import { isCelError, parse, run } from '@bufbuild/cel';
import { groupOf, type HealthRule, type KubeObject } from '../model.ts';
import type { Health } from './types.ts';

/** Longest health expression: it bounds the lists an expression can write out itself. */
export const MAX_EXPRESSION_CHARS = 4096;

/**
 * Why a CEL expression cannot be a health rule, or undefined when it can: it does not
 * parse, it is longer than {@link MAX_EXPRESSION_CHARS}, or it nests one list macro (`all`,
 * `exists`, `exists_one`, `map`, `filter`) in the body of another. Rules run on the agent's
 * one thread at every change of an object they name, and CEL has no cost limit here: each
 * level of nesting multiplies the work by a list's length, so a few nested macros over a
 * long list (one the expression writes out, or one of the live object) would stop the agent
 * for hours. One level covers what health rules need (`conditions.exists(c, ...)`).
 */
export function celProblem(expression: string): string | undefined {
  if (expression.length > MAX_EXPRESSION_CHARS)
    return `longer than ${MAX_EXPRESSION_CHARS} characters`;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).replace(/^<input>:/, 'at ');
  }
  if (loopDepth(parsed.expr) > 1)
    return 'a list macro (all, exists, exists_one, map, filter) inside another one: at most one level, so that a rule cannot hold up the agent';
  return undefined;
}

/** A node of a parsed expression, as far as {@link loopDepth} reads it. */
interface ExprNode {
  exprKind?: { case?: string; value?: Record<string, unknown> };
}

const isExpr = (v: unknown): v is ExprNode =>
  typeof v === 'object' &&
  v !== null &&
  (v as { $typeName?: unknown }).$typeName === 'cel.expr.Expr';

/**
 * How deep comprehensions (the macros) nest where their work multiplies: in the loop
 * condition and step, run once per element. A range or a result runs once, so a chain such
 * as `a.map(x, f).all(y, g)` is depth 1.
 */
function loopDepth(expr: unknown): number {
  if (!isExpr(expr)) return 0;
  const kind = expr.exprKind;
  const value = kind?.value ?? {};
  if (kind?.case === 'comprehensionExpr') {
    const once = ['iterRange', 'accuInit', 'result'].map((k) => loopDepth(value[k]));
    const each = ['loopCondition', 'loopStep'].map((k) => loopDepth(value[k]));
    return Math.max(...once, 1 + Math.max(...each));
  }
  let depth = 0;
  for (const child of childrenOf(value)) depth = Math.max(depth, loopDepth(child));
  return depth;
}

/** The expressions directly below a node's value (call arguments, list elements, map entries). */
function childrenOf(value: unknown): unknown[] {
  const out: unknown[] = [];
  const visit = (v: unknown): void => {
    if (isExpr(v)) out.push(v);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(visit);
  };
  visit(value);
  return out;
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
