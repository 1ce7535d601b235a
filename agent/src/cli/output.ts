import { stringify } from 'yaml';
import type { KubeObject } from '../model.ts';
import { oneOf } from './io.ts';

/** Formats of manifest output. */
export type OutputFormat = 'yaml' | 'json';

/** The `-o` flag of commands that print manifests. */
export const outputFlag = {
  type: 'string',
  default: 'yaml',
  short: 'o',
  help: 'The output format: yaml (multi-document) or json (a v1 List); both can be piped to kubectl apply -f -.',
} as const;

/** Checks the value of `-o`. */
export function outputFormat(value: string): OutputFormat {
  return oneOf('output', value, ['yaml', 'json'] as const);
}

/**
 * Objects as text: YAML documents separated by `---`, or one JSON `List`
 * (kubectl's shape, so either output applies as it is).
 */
export function formatObjects(objects: readonly KubeObject[], format: OutputFormat): string {
  if (format === 'json') {
    return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
  }
  // No line folding: a folded long string is correct YAML but hard to diff in Git.
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}
