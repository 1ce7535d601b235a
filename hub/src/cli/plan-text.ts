/**
 * An app's pending plan as text, object by object, in the shape of a unified diff of Git
 * against the live cluster (what `argocd app diff` shows): each changed field is a hunk with
 * the live value as `-` lines and Git's as `+` lines, in YAML; an object to create is shown
 * whole as its manifest; an object to delete is named with why.
 */
import { stringify as yamlText } from 'yaml';
import type { Row } from './table.ts';

/** A plan entry's object as `Kind namespace/name (group/version)`. */
export function objectText(ref: unknown): string {
  const o = (ref ?? {}) as Row;
  const name = o['namespace'] ? `${o['namespace']}/${o['name']}` : `${o['name']}`;
  const gv = o['group'] ? `${o['group']}/${o['version']}` : `${o['version']}`;
  return `${o['kind']} ${name} (${gv})`;
}

/** The value of a field's JSON text; undefined for '' (the field is absent). */
function valueOf(json: unknown): unknown {
  if (typeof json !== 'string') return json;
  if (json === '') return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return json;
  }
}

/** `value` as YAML lines, each prefixed with `mark`; none for an absent value. */
function marked(mark: '-' | '+', value: unknown): string[] {
  if (value === undefined) return [];
  return yamlText(value, { lineWidth: 0 })
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `${mark}${l}`);
}

/** The text of one plan entry: a header and its hunks. */
function entryText(e: Row): string[] {
  const action = e['action'] as string;
  const wave = typeof e['wave'] === 'number' && e['wave'] !== 0 ? `, wave ${e['wave']}` : '';
  const head = `=== ${objectText(e['object'])}: ${action}${wave}`;
  const diff = ((e['diff'] ?? []) as Row[]).map((d) => ({
    path: d['path'] as string,
    live: valueOf(d['before']),
    git: valueOf(d['after']),
  }));
  switch (action) {
    case 'create': {
      // The agent sends the whole object as one change of the root.
      const whole = diff.find((d) => d.path === '.' || d.path === '');
      const lines = whole
        ? marked('+', whole.git)
        : diff.flatMap((d) => [`@@ ${d.path} @@`, ...marked('+', d.git)]);
      return [head, '--- live (absent)', '+++ git', ...lines];
    }
    case 'delete':
      return [head, '    in the inventory and no longer in Git: pruned (when the app prunes)'];
    case 'update':
      return [
        head,
        '--- live',
        '+++ git',
        ...diff.flatMap((d) => [`@@ ${d.path} @@`, ...marked('-', d.live), ...marked('+', d.git)]),
      ];
    default:
      return [head];
  }
}

/** The whole plan as text: every object that changes; unchanged ones only counted. */
export function planText(plan: unknown): string {
  const entries = (Array.isArray(plan) ? plan : []) as Row[];
  const changing = entries.filter((e) => e['action'] !== 'unchanged');
  const unchanged = entries.length - changing.length;
  const out = changing.map((e) => entryText(e).join('\n'));
  if (unchanged > 0) out.push(`(${unchanged} object${unchanged === 1 ? '' : 's'} unchanged)`);
  return out.length ? `${out.join('\n\n')}\n` : '';
}
