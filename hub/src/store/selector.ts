import { isLabelKey, isLabelValue } from '@driftless/common';
import { InvalidArgumentError } from '../errors.ts';
import type { SelectorTerm } from './types.ts';

/**
 * Parses a Kubernetes-style equality selector: `env=prod,region=eu`,
 * `tier!=db`, `gpu` (label present), `!legacy` (label absent). Empty text
 * selects everything. Keys and values follow the label rules of `@driftless/common` names, so a
 * selector names only labels a cluster can carry. Throws InvalidArgumentError naming the bad term.
 */
export function parseSelector(text: string | undefined | null): SelectorTerm[] {
  if (!text || !text.trim()) return [];
  return text.split(',').map((raw) => {
    const term = raw.trim();
    let m: RegExpExecArray | null;
    let result: SelectorTerm;
    if ((m = /^([^=!]+)!=(.*)$/.exec(term))) result = { key: m[1]!, op: '!=', value: m[2]! };
    else if ((m = /^([^=!]+)==?(.*)$/.exec(term))) result = { key: m[1]!, op: '=', value: m[2]! };
    else if ((m = /^!([^=!]+)$/.exec(term))) result = { key: m[1]!, op: '!exists', value: '' };
    else result = { key: term, op: 'exists', value: '' };
    result.key = result.key.trim();
    result.value = result.value.trim();
    if (!isLabelKey(result.key) || !isLabelValue(result.value))
      throw new InvalidArgumentError(
        `label selector "${text}": term "${term}" is not key=value, key!=value, key or !key with a valid label key and value`,
      );
    return result;
  });
}

/** A SQL condition on `column` (a cluster name) that holds for clusters matching `terms`. */
export function selectorSql(
  column: string,
  terms: readonly SelectorTerm[],
): { sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  for (const t of terms) {
    switch (t.op) {
      case '=':
      case '!=':
        parts.push(
          `${column} ${t.op === '=' ? 'IN' : 'NOT IN'} (SELECT cluster FROM cluster_labels WHERE key = ? AND value = ?)`,
        );
        params.push(t.key, t.value);
        break;
      case 'exists':
      case '!exists':
        parts.push(
          `${column} ${t.op === 'exists' ? 'IN' : 'NOT IN'} (SELECT cluster FROM cluster_labels WHERE key = ?)`,
        );
        params.push(t.key);
        break;
    }
  }
  return { sql: parts.length ? parts.join(' AND ') : '1=1', params };
}
