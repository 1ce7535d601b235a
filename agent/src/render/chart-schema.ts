import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { RenderError } from './errors.ts';
import { baseName, TarFormatError, tarFiles } from './chart-tar.ts';
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
      checkSchema(await readFile(file), name);
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
  try {
    for (const { names, data } of tarFiles(tar)) {
      const inner = `${name} (${names[0] ?? ''})`;
      const bases = names.map(baseName);
      // Every name the entry may go by: Helm's is one of them.
      if (bases.includes('values.schema.json')) checkSchema(data, inner);
      if (bases.some((b) => b.endsWith('.tgz')) && data.length > 0)
        checkPackage(data, inner, budget, depth + 1);
    }
  } catch (err) {
    if (!(err instanceof TarFormatError)) throw err;
    throw new RenderError(
      `render ${name}: the chart package holds ${err.message}; the agent checks every values schema of a chart before Helm reads it, and cannot read this package as Helm would`,
      { file: name, cause: err },
    );
  }
}

function tooLarge(name: string, budget: Budget): RenderError {
  return new RenderError(
    `render ${name}: the chart's packages inflate to more than ${formatBytes(budget.total)} in all (--render-max-bytes)`,
    { file: name },
  );
}

/** Helm drops a UTF-8 byte order mark before it reads a chart's file. */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Refuses a schema whose references leave it. A schema must be JSON as Helm reads it (a
 * byte order mark dropped): one that is not would be judged by Helm alone, and Helm may read
 * what JSON.parse does not, so it is refused too. An empty one Helm skips.
 */
function checkSchema(bytes: Buffer, name: string): void {
  const text = (bytes.subarray(0, 3).equals(BOM) ? bytes.subarray(3) : bytes).toString('utf8');
  if (text.trim() === '') return;
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw new RenderError(
      `render ${name}: a values schema that is not JSON (${(err as Error).message.slice(0, 200)})`,
      { file: name },
    );
  }
  // By hand rather than by recursion: a schema nested thousands deep must not end the stack.
  const stack: Array<{ node: unknown; pointer: string }> = [{ node: schema, pointer: '' }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { node, pointer } = next;
    if (Array.isArray(node)) {
      node.forEach((v, i) => stack.push({ node: v, pointer: `${pointer}/${i}` }));
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    for (const [key, value] of Object.entries(node)) {
      const at = `${pointer}/${key}`;
      if (REF_KEYS.has(key) && !(typeof value === 'string' && value.startsWith('#'))) {
        throw refuse(name, `${key} at ${at}`);
      }
      if (key === '$schema' && !(typeof value === 'string' && META_SCHEMA.test(value))) {
        throw refuse(name, `$schema at ${at}`);
      }
      stack.push({ node: value, pointer: at });
    }
  }
}

function refuse(name: string, what: string): RenderError {
  return new RenderError(
    `render ${name}: ${what} points outside the schema; a values schema may only refer to its own definitions ("#/...") and to a standard json-schema.org meta-schema`,
    { file: name },
  );
}
