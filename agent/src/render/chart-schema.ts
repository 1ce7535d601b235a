import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { RenderError } from './errors.ts';
import { formatBytes, type RenderLimits } from './limits.ts';

/**
 * Helm validates values against every `values.schema.json` of a chart and
 * its subcharts, and its JSON Schema loader follows `$ref` and `$schema` to
 * files (`file://`, or a relative path resolved from `/`) and to `http(s)://`
 * URLs. A schema in Git could so make the agent read any file of its machine
 * or call an internal address. Only references inside the schema itself
 * (`#...`) and the standard meta-schemas are let through.
 */
const REF_KEYS = new Set(['$ref', '$dynamicRef', '$recursiveRef']);

/** The meta-schemas Helm's loader has built in (never fetched). */
const META_SCHEMA =
  /^https?:\/\/json-schema\.org\/(draft-0[3467]\/schema|draft\/20(19-09|20-12)\/schema)#?$/;

/** Nesting of packaged subcharts looked into; deeper packages are refused. */
const MAX_PACKAGE_DEPTH = 8;

/**
 * Bytes all packages of one check may inflate to, together: each package alone is held to
 * the render limit, but packages inside packages multiply (a few kilobytes of nested
 * archives inflate to gigabytes), and inflating is synchronous work the agent's other apps
 * wait for.
 */
interface Budget {
  left: number;
  readonly total: number;
}

const budgetOf = (limits: RenderLimits): Budget => ({
  left: limits.maxRenderBytes,
  total: limits.maxRenderBytes,
});

/**
 * Checks every `values.schema.json` under `dir` (the chart folder, its
 * subchart folders and the packages in any `charts/` folder, nested ones
 * included). `rel` names `dir` in messages. Throws a {@link RenderError}
 * naming the schema and the reference when one leaves the schema, or when the
 * packages inflate to more than `limits.maxRenderBytes` together.
 */
export async function checkValuesSchemas(
  dir: string,
  rel: string,
  limits: RenderLimits,
): Promise<void> {
  await walk(dir, rel, budgetOf(limits));
}

/**
 * Checks the schemas of a downloaded chart package (`file`, a `.tgz`) and of
 * the packages it holds, as {@link checkValuesSchemas} does for a folder: a
 * chart from a repository or registry is no more trusted than one from Git.
 * `name` names the chart in messages.
 */
export async function checkChartPackage(
  file: string,
  name: string,
  limits: RenderLimits,
): Promise<void> {
  checkPackage(await readFile(file), name, budgetOf(limits), 1);
}

async function walk(dir: string, rel: string, budget: Budget): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const name = `${rel}/${entry.name}`;
    // Helm follows links; confineTree has checked that they stay in the checkout.
    const info = entry.isSymbolicLink() ? await stat(file).catch(() => undefined) : entry;
    if (!info) continue;
    if (info.isDirectory()) await walk(file, name, budget);
    else if (info.isFile() && entry.name === 'values.schema.json') {
      checkSchema(await readFile(file, 'utf8'), name);
    } else if (info.isFile() && /\.tgz$/.test(entry.name)) {
      checkPackage(await readFile(file), name, budget, 1);
    }
  }
}

/** The schemas inside a packaged chart, and inside the packages it holds. */
function checkPackage(gz: Buffer, name: string, budget: Budget, depth: number): void {
  if (depth > MAX_PACKAGE_DEPTH) {
    throw new RenderError(
      `render ${name}: chart packages nested deeper than ${MAX_PACKAGE_DEPTH}`,
      {
        file: name,
      },
    );
  }
  let tar: Buffer;
  try {
    // One byte more than is left: a package that fills it is over the budget, not cut short.
    tar = gunzipSync(gz, { maxOutputLength: budget.left + 1 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge(name, budget);
    throw new RenderError(
      `render ${name}: not a readable chart package (${(err as Error).message})`,
      {
        file: name,
        cause: err,
      },
    );
  }
  if (tar.length > budget.left) throw tooLarge(name, budget);
  budget.left -= tar.length;
  for (const { path: entry, data } of tarFiles(tar)) {
    const inner = `${name} (${entry})`;
    if (path.posix.basename(entry) === 'values.schema.json')
      checkSchema(data.toString('utf8'), inner);
    else if (entry.endsWith('.tgz')) checkPackage(data, inner, budget, depth + 1);
  }
}

function tooLarge(name: string, budget: Budget): RenderError {
  return new RenderError(
    `render ${name}: the chart's packages inflate to more than ${formatBytes(budget.total)} in all (--render-max-bytes)`,
    { file: name },
  );
}

/** Regular files of a tar archive, with PAX and GNU long names as Go's archive/tar reads them. */
function* tarFiles(tar: Buffer): Generator<{ path: string; data: Buffer }> {
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    const data = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'))?.[1] ?? longName;
    } else if (type === 'L') {
      longName = data.toString('utf8').replace(/\0.*$/s, '');
    } else if (type === 'g') {
      continue;
    } else {
      const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
      longName = undefined;
      if (type === '0' || type === '7') yield { path: name, data };
    }
  }
}

/** Refuses a schema whose references leave it; a schema that is not JSON is left to Helm. */
function checkSchema(text: string, name: string): void {
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch {
    return;
  }
  const visit = (node: unknown, pointer: string): void => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => visit(v, `${pointer}/${i}`));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      const at = `${pointer}/${key}`;
      if (REF_KEYS.has(key) && !(typeof value === 'string' && value.startsWith('#'))) {
        throw refuse(name, `${key} at ${at}`);
      }
      if (key === '$schema' && !(typeof value === 'string' && META_SCHEMA.test(value))) {
        throw refuse(name, `$schema at ${at}`);
      }
      visit(value, at);
    }
  };
  visit(schema, '');
}

function refuse(name: string, what: string): RenderError {
  return new RenderError(
    `render ${name}: ${what} points outside the schema; a values schema may only refer to its own definitions ("#/...") and to a standard json-schema.org meta-schema`,
    { file: name },
  );
}
