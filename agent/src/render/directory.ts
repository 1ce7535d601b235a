import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RenderedObject } from '../model.ts';
import { fsCause, RenderError } from './errors.ts';
import { parseJson, parseYaml } from './parse.ts';
import type { Checkout } from './paths.ts';
import { KUSTOMIZATION_FILES } from './kustomize-scan.ts';
import { checkFileSize, formatBytes, type RenderLimits } from './limits.ts';

/**
 * Renders a plain folder: every `.yaml`, `.yml` and `.json` file below it,
 * recursively and in sorted path order, so the same commit always renders
 * the same list. Dotfiles and dot-folders (`.git`, `.github`) and files of
 * other types are skipped, and so are a kustomization or `Chart.yaml`
 * at the top (the app asked for plain YAML). `target` may also be a single file.
 *
 * A sub-folder holding a kustomization or a Helm chart is refused rather
 * than skipped: its files are not plain objects (patches, templates), and
 * silently leaving them out would let prune delete what they used to create.
 */
export async function renderDirectory(
  checkout: Checkout,
  target: string,
  limits: RenderLimits,
  signal?: AbortSignal,
): Promise<RenderedObject[]> {
  const files = (await stat(target)).isFile() ? [target] : await listManifests(checkout, target);
  const sources = files.map((file) => ({ file, source: checkout.relative(file) }));
  sources.sort((a, b) => compare(a.source, b.source));
  const rendered: RenderedObject[] = [];
  // Sizes first: a huge file is refused before anything is read or parsed.
  let total = 0;
  for (const { file, source } of sources) {
    const { size } = await stat(file);
    checkFileSize(source, size, limits);
    total += size;
    if (total > limits.maxRenderBytes) {
      throw new RenderError(
        `render ${checkout.relative(target)}: the manifests add up to more than ${formatBytes(limits.maxRenderBytes)} (--render-max-bytes), reached at ${source}`,
        { file: source },
      );
    }
  }
  for (const { file, source } of sources) {
    signal?.throwIfAborted();
    const text = await readFile(file, 'utf8').catch((err: unknown) => {
      throw new RenderError(`render ${source}: cannot read`, { file: source, cause: fsCause(err) });
    });
    const objects = file.endsWith('.json')
      ? parseJson(text, { file: source })
      : parseYaml(text, { file: source });
    for (const object of objects) rendered.push({ object, source });
  }
  return rendered;
}

/**
 * Walks `dir`. Paths keep the names they have in the repository (a symlink
 * is reported under its own name); symlinks are followed only while they
 * stay inside the checkout, and each real folder is visited once so a link
 * back up the tree cannot loop.
 */
async function listManifests(checkout: Checkout, dir: string): Promise<string[]> {
  const found: string[] = [];
  const visited = new Set<string>();
  const walk = async (current: string, isTop: boolean): Promise<void> => {
    const real = await realpath(current);
    if (visited.has(real)) return;
    visited.add(real);
    const entries = await readdir(current, { withFileTypes: true });
    if (!isTop)
      refuseNestedRenderer(
        checkout,
        current,
        entries.map((e) => e.name),
      );
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(current, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const info = await followLink(checkout, full);
        isDir = info.isDirectory();
        isFile = info.isFile();
      }
      if (isDir) await walk(full, false);
      else if (isFile && isManifest(entry.name)) found.push(full);
    }
  };
  await walk(dir, true);
  return found;
}

async function followLink(checkout: Checkout, full: string) {
  const source = checkout.relative(full);
  const real = await realpath(full).catch(() => undefined);
  if (real === undefined) {
    throw new RenderError(`render ${source}: broken symbolic link`, { file: source });
  }
  if (!checkout.contains(real)) {
    throw new RenderError(`render ${source}: symbolic link points outside the checkout`, {
      file: source,
    });
  }
  return stat(real);
}

function refuseNestedRenderer(checkout: Checkout, dir: string, names: string[]): void {
  const source = checkout.relative(dir);
  if (names.some((n) => KUSTOMIZATION_FILES.includes(n))) {
    throw new RenderError(
      `render ${source}: a kustomization inside a plain YAML folder; render the parent with kustomize (add a kustomization.yaml that lists it) or make it an app of its own`,
      { file: source },
    );
  }
  if (names.includes('Chart.yaml')) {
    throw new RenderError(
      `render ${source}: a Helm chart inside a plain YAML folder; make it an app of its own`,
      { file: source },
    );
  }
}

/** Renderer configuration, not objects: skipped when a folder is rendered as plain YAML. */
const RENDERER_FILES = new Set([...KUSTOMIZATION_FILES, 'Chart.yaml']);

function isManifest(name: string): boolean {
  if (RENDERER_FILES.has(name)) return false;
  return name.endsWith('.yaml') || name.endsWith('.yml') || name.endsWith('.json');
}

/** Code-point order: unlike localeCompare, the same on every machine. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
