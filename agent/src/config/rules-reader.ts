/** The rule lists of an app entry: `ignoreDifferences` and `health`. */
import type { Node } from 'yaml';
import type { HealthRule, IgnoreRule } from '../model.ts';
import { celProblem } from '../health/index.ts';
import type { Reader } from './yaml-reader.ts';

const IGNORE_FIELDS = [
  'group',
  'kind',
  'name',
  'namespace',
  'jsonPointers',
  'managedFieldsManagers',
];

/**
 * `ignoreDifferences`: a list of rules, each naming objects (kind required;
 * group, name and namespace narrow it) and the fields to ignore in them, by
 * JSON pointer and/or by the field managers that own them.
 */
export function readIgnoreDifferences(
  r: Reader,
  node: Node | undefined,
  path: string,
): IgnoreRule[] | undefined {
  return r.list(node, path, (n, p) => {
    const map = r.map(
      n,
      p,
      'must be a mapping with kind and jsonPointers or managedFieldsManagers',
    );
    if (!map) return undefined;
    const f = r.fields(map, p, IGNORE_FIELDS);
    const kind = r.string(r.required(f, map, p, 'kind'), `${p}.kind`);
    const group = r.string(f.get('group'), `${p}.group`);
    const name = r.string(f.get('name'), `${p}.name`);
    const namespace = r.string(f.get('namespace'), `${p}.namespace`);
    const jsonPointers = r.list(f.get('jsonPointers'), `${p}.jsonPointers`, (pn, pp) => {
      const pointer = r.string(pn, pp);
      if (pointer !== undefined && !pointer.startsWith('/'))
        return void r.report(pn, pp, `must be a JSON pointer starting with "/", got "${pointer}"`);
      if (pointer === '/') return void r.report(pn, pp, 'cannot ignore the whole object');
      return pointer;
    });
    const managers = r.list(
      f.get('managedFieldsManagers'),
      `${p}.managedFieldsManagers`,
      (mn, mp) => r.string(mn, mp),
    );
    if (!jsonPointers?.length && !managers?.length)
      r.report(map, p, 'must set jsonPointers or managedFieldsManagers');
    if (kind === undefined) return undefined;
    return {
      kind,
      ...(group === undefined ? {} : { group }),
      ...(name === undefined ? {} : { name }),
      ...(namespace === undefined ? {} : { namespace }),
      ...(jsonPointers?.length ? { jsonPointers } : {}),
      ...(managers?.length ? { managedFieldsManagers: managers } : {}),
    };
  });
}

/** One `health` entry: a kind (and group) with CEL expressions over `object`. */
export function readHealthRule(
  r: Reader,
  node: Node | undefined,
  path: string,
): HealthRule | undefined {
  const map = r.map(
    node,
    path,
    'must be a mapping with kind, healthy and optionally group, degraded',
  );
  if (!map) return undefined;
  const f = r.fields(map, path, ['group', 'kind', 'healthy', 'degraded']);
  const kind = r.string(r.required(f, map, path, 'kind'), `${path}.kind`);
  const group = r.string(f.get('group'), `${path}.group`) ?? '';
  const expression = (field: 'healthy' | 'degraded', required: boolean) => {
    const n = required ? r.required(f, map, path, field) : f.get(field);
    const text = r.string(n, `${path}.${field}`);
    if (text === undefined) return undefined;
    const problem = celProblem(text);
    if (problem) r.report(n, `${path}.${field}`, `not a valid CEL expression: ${problem}`);
    return problem ? undefined : text;
  };
  const healthy = expression('healthy', true);
  const degraded = expression('degraded', false);
  if (kind === undefined || healthy === undefined) return undefined;
  return { group, kind, healthy, ...(degraded === undefined ? {} : { degraded }) };
}
