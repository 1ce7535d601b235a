import { LineCounter, parseAllDocuments, type DocumentOptions, type SchemaOptions } from 'yaml';
import type { KubeObject } from '../model.ts';
import { RenderError } from './errors.ts';

const TIMESTAMP = 'tag:yaml.org,2002:timestamp';

/** Where a parsed manifest text came from, for error messages. */
export interface TextOrigin {
  /** File relative to the repository root, or a renderer step, named in errors. */
  file: string;
  /** Added to reported line numbers when the text is a slice of a larger output. Default 0. */
  lineOffset?: number;
  /**
   * Set when the text is a tool's output (e.g. `helm template`): line numbers
   * then count in that output, not in `file`, and messages say so.
   */
  renderedBy?: string;
}

/**
 * Parses multi-document YAML into Kubernetes objects: empty documents are
 * skipped, `List` kinds are flattened, and every document must be a mapping.
 * Whether an object has a valid apiVersion, kind and name is the guard's
 * business; this only turns text into JSON. Throws {@link RenderError}
 * naming `file:line:col`.
 */
export function parseYaml(text: string, origin: TextOrigin): KubeObject[] {
  return parse(text, origin, {
    // Kubernetes reads manifests as YAML 1.1 (sigs.k8s.io/yaml): `0644` is
    // octal 420 (defaultMode) and `yes` is true. YAML 1.2 would silently
    // change both, so read what kubectl reads.
    version: '1.1',
    // ...except base-60 numbers (`12:30` would become 750) and timestamps
    // (Date objects): Kubernetes' YAML library keeps both as strings.
    customTags: (tags) =>
      tags.filter((t) => typeof t === 'string' || (t.format !== 'TIME' && t.tag !== TIMESTAMP)),
  });
}

function parse(text: string, origin: TextOrigin, options: DocumentOptions & SchemaOptions) {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, {
    ...options,
    lineCounter: lines,
    // Pretty errors quote the offending line, which may hold a secret value.
    prettyErrors: false,
  });
  const objects: KubeObject[] = [];
  for (const doc of docs) {
    const at = (offset: number) => position(origin, lines.linePos(offset));
    const problem = doc.errors[0];
    if (problem) {
      throw new RenderError(`render ${at(problem.pos[0])}: ${problem.message}`, {
        file: origin.file,
        cause: problem,
      });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // Alias bombs and unresolvable aliases surface here, not as parse errors.
      const start = doc.contents?.range?.[0] ?? 0;
      throw new RenderError(`render ${at(start)}: ${(err as Error).message}`, {
        file: origin.file,
        cause: err,
      });
    }
    if (value === null || value === undefined) continue;
    const where = at(doc.contents?.range?.[0] ?? 0);
    objects.push(...flattenList(value, where, origin.file));
  }
  return objects;
}

/**
 * Parses a `.json` manifest: one object, or a `List` of them. JSON is read
 * with the YAML parser's JSON schema because V8's own errors carry neither
 * line nor column, and quote the text around the error (maybe a secret).
 */
export function parseJson(text: string, origin: TextOrigin): KubeObject[] {
  return parse(text, origin, { version: '1.2', schema: 'json' });
}

/**
 * Expands `v1 List` (and any `*List` kind with an `items` array, as
 * `kubectl get -o yaml` writes) into its items, recursively.
 */
function flattenList(value: unknown, where: string, file: string): KubeObject[] {
  if (!isMapping(value)) {
    const got = Array.isArray(value) ? 'a sequence' : `a ${typeof value}`;
    throw new RenderError(`render ${where}: expected a Kubernetes object (a mapping), got ${got}`, {
      file,
    });
  }
  const kind = value['kind'];
  const items = value['items'];
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(items)) {
    return items.flatMap((item, i) => flattenList(item, `${where} (${kind} item ${i})`, file));
  }
  return [value as KubeObject];
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function position(origin: TextOrigin, pos: { line: number; col: number }): string {
  const line = pos.line + (origin.lineOffset ?? 0);
  if (origin.renderedBy)
    return `${origin.file} (line ${line}:${pos.col} of the ${origin.renderedBy} output)`;
  return `${origin.file}:${line}:${pos.col}`;
}
