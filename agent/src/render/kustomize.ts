import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { AppSpec, RenderedObject } from '../model.ts';
import { RenderError } from './errors.ts';
import { findBinary, runTool } from './exec.ts';
import { parseYaml } from './parse.ts';
import { isFile, type Checkout } from './paths.ts';

/** The names kustomize accepts for a kustomization, in its own order of preference. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** The kustomization file in `dir`, or undefined. */
export async function findKustomization(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const file = path.join(dir, name);
    if (await isFile(file)) return file;
  }
  return undefined;
}

/** What {@link renderKustomize} needs. */
export interface KustomizeRun {
  checkout: Checkout;
  /** Symlink-free folder holding the kustomization. */
  dir: string;
  app: AppSpec;
  /** Override of the binary; default `kustomize` on PATH. */
  bin?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Renders a kustomization with `kustomize build`. Before running it, the
 * kustomization and every local base and component it pulls in are read,
 * and remote references are refused unless the app allows them: a remote
 * base is code from outside the reviewed repository, fetched at render time.
 * kustomize runs with its root-only load restrictor and without exec, alpha
 * plugins or Helm inflation, so a kustomization can read only its own tree.
 */
export async function renderKustomize(run: KustomizeRun): Promise<RenderedObject[]> {
  const rel = run.checkout.relative(run.dir);
  const allowRemote = run.app.kustomize.allowRemoteResources;
  await scanKustomization(run.checkout, run.dir, allowRemote, new Set());
  const bin = await findBinary('kustomize', run.bin);
  const output = await runTool({
    bin,
    args: ['build', rel, '--load-restrictor', 'LoadRestrictionsRootOnly'],
    cwd: run.checkout.root,
    what: `render ${rel}: kustomize build`,
    // kustomize names files by absolute path; the checkout's location means nothing to the author.
    tidyError: (message) => message.replaceAll(`${run.checkout.root}/`, ''),
    network: allowRemote,
    ...(run.timeoutMs === undefined ? {} : { timeoutMs: run.timeoutMs }),
    ...(run.signal === undefined ? {} : { signal: run.signal }),
  });
  const source = `kustomize build ${rel}`;
  return parseYaml(output, { file: source }).map((object) => ({ object, source }));
}

/** Fields whose entries may be another kustomization (a folder) or a file. */
const TREE_FIELDS = [
  'resources',
  'components',
  'bases',
  'generators',
  'transformers',
  'validators',
];

/** Fields whose entries are files kustomize's loader would also fetch over HTTP. */
const FILE_FIELDS = ['crds', 'configurations', 'patchesStrategicMerge'];

/**
 * Reads the kustomization in `dir` and, through its local folder entries,
 * every kustomization it includes; throws a {@link RenderError} naming the
 * file for a remote reference (unless allowed) or a path that leaves the
 * checkout. Missing local paths are left for kustomize to report.
 */
async function scanKustomization(
  checkout: Checkout,
  dir: string,
  allowRemote: boolean,
  seen: Set<string>,
): Promise<void> {
  if (seen.has(dir)) return;
  seen.add(dir);
  const file = await findKustomization(dir);
  if (file === undefined) return;
  const source = checkout.relative(file);
  const spec = await readKustomization(file, source);

  for (const ref of fileReferences(spec)) {
    if (looksRemote(ref)) refuseRemote(source, ref, allowRemote);
  }
  for (const field of TREE_FIELDS) {
    for (const ref of strings(spec[field])) {
      // Inline generator or transformer configs are YAML, not paths.
      if (ref.includes('\n')) continue;
      if (looksRemote(ref)) {
        refuseRemote(source, ref, allowRemote);
        continue;
      }
      const local = await checkout.resolve(ref, `${field} entry ${ref} in ${source}`, dir);
      if (local === undefined) {
        // kustomize treats `host.tld/org/repo` as a Git URL when no such folder exists.
        if (/^[^./][^/]*\.[^/]+\//.test(ref)) refuseRemote(source, ref, allowRemote);
        continue;
      }
      if ((await stat(local)).isDirectory()) {
        await scanKustomization(checkout, local, allowRemote, seen);
      }
    }
  }
}

async function readKustomization(file: string, source: string): Promise<Record<string, unknown>> {
  const doc = parseDocument(await readFile(file, 'utf8'), { prettyErrors: false });
  const problem = doc.errors[0];
  if (problem) {
    throw new RenderError(`render ${source}: ${problem.message}`, {
      file: source,
      cause: problem,
    });
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new RenderError(`render ${source}: a kustomization must be a mapping`, { file: source });
  }
  return value as Record<string, unknown>;
}

/** Every entry that names a file (not a folder) for kustomize's loader. */
function fileReferences(spec: Record<string, unknown>): string[] {
  const refs = FILE_FIELDS.flatMap((f) => strings(spec[f]));
  for (const field of ['patches', 'patchesJson6902']) {
    for (const patch of records(spec[field])) refs.push(...strings(patch['path']));
  }
  for (const field of ['configMapGenerator', 'secretGenerator']) {
    for (const gen of records(spec[field])) {
      for (const entry of [...strings(gen['files']), ...strings(gen['envs'])]) {
        // `key=path` names the key the file is stored under.
        refs.push(entry.slice(entry.indexOf('=') + 1));
      }
      refs.push(...strings(gen['env']));
    }
  }
  const openapi = records([spec['openapi']])[0];
  if (openapi) refs.push(...strings(openapi['path']));
  return refs.filter((r) => !r.includes('\n'));
}

/** URL schemes, scp-style Git addresses, go-getter prefixes and Git query parameters. */
const REMOTE_PATTERNS = [
  /^[a-z][a-z0-9+.-]*:\/\//i,
  /^[\w.-]+@[\w.-]+:/,
  /^git::/,
  /\?(ref|version|submodules|timeout)=/,
  /^(github\.com|gitlab\.com|bitbucket\.org)\//,
];

function looksRemote(ref: string): boolean {
  return REMOTE_PATTERNS.some((p) => p.test(ref));
}

function refuseRemote(source: string, ref: string, allowRemote: boolean): void {
  if (allowRemote) return;
  throw new RenderError(
    `render ${source}: remote resource ${ref} refused: remote bases are off for this app; vendor it into the repository or set kustomize.allowRemoteResources: true on the app`,
    { file: source },
  );
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function records(value: unknown): Record<string, unknown>[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v),
  );
}
